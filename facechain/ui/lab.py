"""Lab tab: pick a method's experiment, run it over paired seeds with progress, and read the
baseline-vs-method table and the per-seed plot beside the paper's headline claim. Each run is a job
(a "cpu" slot; cancelled between seeds); each user's results stay in their workspace."""

from __future__ import annotations

import gradio as gr

from ..lab import all_experiments
from .errors import user_errors
from .jobs import ended, follow, submit, waiting_text

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
    """Handler of Run: queue the experiment as a job, follow it, yield (table, plot, result JSON, verdict)."""
    workspace = context.workspace(token)
    if name not in all_experiments():
        raise gr.Error(f"Choose one of: {', '.join(all_experiments())}.")
    if not 1 <= int(seeds) <= MAX_SEEDS:
        raise gr.Error(f"Run between 1 and {MAX_SEEDS} seeds here (the CLI runs more).")
    queued = submit(context, workspace, "lab", {"name": name, "seeds": int(seeds), "quick": bool(quick)})
    for job in follow(context, queued, progress, "seed"):
        if not job.done:
            yield waiting_text(context, job), gr.skip(), gr.skip(), gr.skip()
    result = ended(job).result
    chart, saved = (str(workspace.path / result[key]) for key in ("chart", "saved"))
    yield result["table"], chart, saved, result["verdict"]


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
        yield from run_lab(context, token_value, name, seed_count, quick_run, progress)

    method.change(describe, method, about)
    run.click(
        handler,
        [method, seeds, quick, token],
        [results, chart, saved, verdict],
        api_name="lab",
    )
