"""The Lab tab's job: one experiment over paired seeds, its table, chart and result JSON in the workspace.
A cancel takes effect between seeds (the progress call after each seed)."""

from __future__ import annotations

from ..config import Settings
from ..errors import BadArguments
from ..progress import Progress
from ..workspace import Workspace
from . import all_experiments


def run_lab(params: dict, workspace: Workspace, settings: Settings, progress: Progress) -> dict:
    from .harness.experiment import plot, run_experiment, save, table

    experiments = all_experiments()
    name, quick = params["name"], bool(params["quick"])
    if name not in experiments:
        raise BadArguments(f"no experiment '{name}'; there are {', '.join(experiments)}")
    experiment = experiments[name]
    result = run_experiment(experiment, list(range(int(params["seeds"]))), quick, progress=progress)
    out = workspace.item("lab", name)
    chart, saved = plot(experiment, result, out / f"{name}.png"), save(result, out / f"{name}.json")
    verdict = (
        f"**{result.verdict}** on {experiment.metric}: {experiment.method} − {experiment.baseline} = "
        f"{result.difference:+.3f} ± {result.difference_sd:.3f} over {len(result.seeds)} paired seeds, "
        f"better in {result.wins}."
        + (
            " *Quick version: fewer epochs and less data, a check that it runs "
            "rather than evidence; untick Quick for the verdict.*"
            if quick
            else ""
        )
    )
    return {
        "table": f"```\n{table(experiment, result)}\n```",
        "chart": str(chart.relative_to(workspace.path)),
        "saved": str(saved.relative_to(workspace.path)),
        "verdict": verdict,
    }
