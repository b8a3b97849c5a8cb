"""Lab tab: pick a method's experiment, run it over paired seeds with progress, and read the
baseline-vs-method table and the per-seed plot beside the paper's headline claim. Runs take turns
(one at a time for the whole app: they use every core); each user's results stay in their workspace."""

from __future__ import annotations

import gradio as gr

from ..lab import all_experiments
from .errors import user_errors
from .progress import gradio_progress

TITLE = "Lab"
MAX_SEEDS = 5


def describe(name: str) -> str:
    experiment = all_experiments().get(name)
    if experiment is None:
        return ""
    better = "higher" if experiment.higher_is_better else "lower"
    return (
        f"**{experiment.title}**: {experiment.paper}.\n\n*Paper's headline:* {experiment.claim}\n\n"
        f"*Here it is tested as:* {experiment.expectation} (**{experiment.metric}**, {better} is better; "
        f"baseline: {experiment.baseline})."
    )


def run_lab(context, token: str, name: str, seeds: float, quick: bool, progress=None):
    """Handler of Run: (table as text, plot path, result JSON path, verdict line)."""
    from ..lab.harness.experiment import plot, run_experiment, save, table

    experiments = all_experiments()
    if name not in experiments:
        raise gr.Error(f"Choose one of: {', '.join(experiments)}.")
    if not 1 <= int(seeds) <= MAX_SEEDS:
        raise gr.Error(f"Run between 1 and {MAX_SEEDS} seeds here (the CLI runs more).")
    experiment = experiments[name]
    result = run_experiment(
        experiment, list(range(int(seeds))), bool(quick), progress=gradio_progress(progress, "seed")
    )
    out = context.workspace(token).item("lab", name)
    chart = plot(experiment, result, out / f"{name}.png")
    saved = save(result, out / f"{name}.json")
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
    return f"```\n{table(experiment, result)}\n```", str(chart), str(saved), verdict


def build(context, token) -> None:
    names = list(all_experiments())
    with gr.Row():
        with gr.Column(scale=1):
            method = gr.Dropdown(names, value=names[0] if names else None, label="Method")
            seeds = gr.Slider(1, MAX_SEEDS, value=3, step=1, label="Paired seeds")
            quick = gr.Checkbox(value=True, label="Quick version (seconds; untick for the full experiment)")
            run = gr.Button("Run experiment", variant="primary")
            about = gr.Markdown(describe(names[0]) if names else "")
        with gr.Column(scale=2):
            verdict = gr.Markdown()
            results = gr.Markdown()
            chart = gr.Image(
                label="Primary metric per seed", show_label=False, type="filepath"
            )  # the chart carries its title
            saved = gr.File(label="Result (JSON)")

    @user_errors
    def handler(name, seed_count, quick_run, token_value, progress=gr.Progress()):
        return run_lab(context, token_value, name, seed_count, quick_run, progress)

    method.change(describe, method, about)
    run.click(
        handler,
        [method, seeds, quick, token],
        [results, chart, saved, verdict],
        api_name="lab",
        concurrency_limit=1,
        concurrency_id="lab",
    )
