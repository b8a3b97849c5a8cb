"""Train tab: train a digital twin on the session's prepared photos, with live progress and loss plot,
cancel, and the list of the session's models. One training runs at a time in the whole app (the
event's concurrency limit); others wait in the queue, which Gradio shows with their position."""

from __future__ import annotations

import time

import gradio as gr
import pandas as pd

from ..diffusion.base_model import locally_available
from ..diffusion.tiny import TINY_NOTICE, tiny_model_problem
from ..portrait.model_folder import finished_run
from ..portrait.training.config import TrainConfig
from .errors import user_errors
from .jobs import TrainingJob
from .progress import gradio_progress

TITLE = "Train"
TINY_CHOICE = "Tiny offline demo model"
POLL_SECONDS = 0.5
MAX_STEPS = 3000


def base_model_status(available: dict[str, bool], tiny_problem: str | None = None) -> str:
    """What the app can train on, said at start-up: each offered base model, whether it is on this machine,
    and whether the tiny offline model can be built here."""
    tiny = (
        f"*{TINY_CHOICE}*: {TINY_NOTICE}."
        if tiny_problem is None
        else f"The tiny offline demo model is not offered: {tiny_problem}."
    )
    missing = [model for model, here in available.items() if not here]
    lines = [f"Base models: {', '.join(f'**{model}**' for model in available)}."]
    if missing:
        lines.append(
            f"Not on this machine yet: {', '.join(missing)}; downloaded on first use when the hub is reachable (the "
            f"operator sets the list with `FACECHAIN_APP_BASE_MODELS`, or `FACECHAIN_BASE_MODEL`, and `HF_HOME`)."
        )
    return " ".join([*lines, tiny])


def loss_frame(losses: list[tuple[int, float]]) -> pd.DataFrame:
    return pd.DataFrame(losses, columns=["step", "loss"])


def models_table(context, request) -> list[list]:
    return [[m["name"], m["steps"], m["base_model"]] for m in context.session_models(request)]


def training_config(
    context, request, name: str, base: str, steps: float, sude_weight: float, resume: bool
) -> TrainConfig:
    """The run a user asked for, on one of the offered base models (or the tiny one) only."""
    dataset = context.session_dir(request) / "dataset"
    if not (dataset / "metadata.jsonl").is_file():
        raise gr.Error("Prepare your photos first (Photos tab).")
    if not 1 <= int(steps) <= MAX_STEPS:
        raise gr.Error(f"Steps must be between 1 and {MAX_STEPS}.")
    out = context.model_dir(request, name)
    if finished_run(out) is not None:
        raise gr.Error(f"A model named '{out.name}' exists already: choose another name.")
    tiny = base == TINY_CHOICE
    if not tiny and base not in context.settings.offered_base_models:
        raise gr.Error("Choose one of the base models this app offers.")  # never echo what was sent
    return TrainConfig(
        dataset=dataset,
        out=out,
        tiny=tiny,
        base_model=None if tiny else base,
        steps=int(steps),
        sude_weight=float(sude_weight),
        resume=bool(resume),
        checkpoint_every=100,
        validation_images=2 if tiny else 4,
    )


def run_training(context, request, config: TrainConfig, progress=None):
    """Start the job and yield (status, loss frame, models table) until it ends."""
    session = context.session_dir(request)
    job = context.jobs[session] = TrainingJob(config, context.settings).start()
    report = gradio_progress(progress, "step")
    try:
        while not job.finished:
            time.sleep(POLL_SECONDS)
            losses = job.losses
            if report is not None and job.total:
                report(job.step, job.total, f"loss={losses[-1][1]:.4f}" if losses else "")
            loss = f", loss {losses[-1][1]:.4f}" if losses else ""
            yield (
                f"Training **{config.out.name}**: step {job.step}/{job.total or '?'}{loss}",
                loss_frame(losses),
                gr.skip(),
            )
    finally:
        job.stop()  # the browser went away or Cancel was pressed: stop at the end of the step
    if job.error:
        hint = (
            " Checkpoints are kept: tick *Resume* and start again with the same name."
            if "cancelled" in job.error
            else ""
        )
        yield f"**Stopped:** {job.error}.{hint}", loss_frame(job.losses), models_table(context, request)
        return
    notice = f"\n\n{TINY_NOTICE}." if config.tiny else ""
    yield (
        f"**Done:** {config.out.name}, {job.result.steps} steps. Use it in the Generate tab.{notice}",
        loss_frame(job.losses),
        models_table(context, request),
    )


def cancel_training(context, request) -> str:
    job = context.jobs.get(context.session_dir(request))
    if job is None or job.finished:
        return "Nothing is training."
    job.stop()
    return "Stopping at the end of the current step..."


def build(context) -> None:
    offered = context.settings.offered_base_models  # looked up once; nothing is downloaded
    available = {model: locally_available(model, context.settings) is not None for model in offered}
    tiny_problem = tiny_model_problem()
    gr.Markdown(base_model_status(available, tiny_problem))
    with gr.Row():
        with gr.Column(scale=1):
            name = gr.Textbox(label="Model name", value="me")
            choices = [*offered, *([TINY_CHOICE] if tiny_problem is None else [])]
            first_here = next((model for model in offered if available[model]), None)
            default = first_here or (TINY_CHOICE if tiny_problem is None else offered[0])
            base = gr.Radio(choices, value=default, label="Train on")
            steps = gr.Slider(1, MAX_STEPS, value=400, step=1, label="Steps")
            sude_weight = gr.Slider(0.0, 2.0, value=0.4, step=0.1, label="SuDe weight (0: off)")
            resume = gr.Checkbox(label="Resume an interrupted run of this name")
            with gr.Row():
                start = gr.Button("Start training", variant="primary")
                cancel = gr.Button("Cancel")
        with gr.Column(scale=2):
            status = gr.Markdown()
            plot = gr.LinePlot(loss_frame([]), x="step", y="loss", label="Training loss")
            models = gr.Dataframe(headers=["model", "steps", "base model"], label="Your models")

    @user_errors
    def handler(name_text, base_choice, step_count, weight, resume_flag, request: gr.Request, progress=gr.Progress()):
        config = training_config(context, request, name_text, base_choice, step_count, weight, resume_flag)
        yield from run_training(context, request, config, progress)

    @user_errors
    def stop(request: gr.Request):
        return cancel_training(context, request)

    start.click(
        handler,
        [name, base, steps, sude_weight, resume],
        [status, plot, models],
        concurrency_limit=1,
        concurrency_id="training",
        api_name="train",
    )
    cancel.click(stop, None, status, api_name="cancel")
