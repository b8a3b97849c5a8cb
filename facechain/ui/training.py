"""Train tab: train a digital twin on one of the workspace's training sets, as a job (queued with its
position, then live progress and loss plot), cancel, and the list of the workspace's models. Closing the
page does not stop the job; opening it again follows it where it is."""

from __future__ import annotations

from pathlib import Path

import gradio as gr
import pandas as pd

from ..diffusion.base_model import locally_available
from ..diffusion.families import UnknownFamily, folder_family
from ..diffusion.tiny import TINY_NOTICE, tiny_model_problem
from ..jobs.store import UNFINISHED
from ..portrait.model_folder import family_title, finished_run, logged_losses, trained_models
from ..portrait.training.config import MAX_FACE_LOSS_WEIGHT
from .errors import user_errors
from .jobs import follow, newest_job, submit, waiting_text

TITLE = "Train"
TINY_CHOICES = {
    "Tiny offline demo model": "sd15",
    "Tiny offline demo model (SDXL)": "sdxl",
    "Tiny offline demo model (FLUX.1)": "flux1",
}
"""The tiny offline models the Train tab offers, by label: one per family."""
TINY_CHOICE = next(iter(TINY_CHOICES))
MAX_STEPS = 3000


def folder_family_title(folder: Path | None) -> str | None:
    """The family of a base model on this machine, as messages name it; None when not here or not known."""
    if folder is None:
        return None
    try:
        return folder_family(folder).title
    except (UnknownFamily, OSError, ValueError):
        return None


def base_model_status(available: dict[str, Path | None], tiny_problem: str | None = None) -> str:
    """What the app can train on, said at start-up: each offered base model with its family when it is
    on this machine, what is not here yet, and whether the tiny offline models can be built here."""
    tiny = (
        f"*Tiny offline demo models* (SD 1.x, SDXL, FLUX.1): {TINY_NOTICE}."
        if tiny_problem is None
        else f"The tiny offline demo model is not offered: {tiny_problem}."
    )
    missing = [model for model, here in available.items() if not here]
    titles = {model: folder_family_title(here) for model, here in available.items()}
    named = [f"**{model}**" + (f" ({titles[model]})" if titles[model] else "") for model in available]
    lines = [f"Base models: {', '.join(named)}."]
    if missing:
        lines.append(
            f"Not on this machine yet: {', '.join(missing)}; downloaded on first use when the hub is reachable (the "
            f"operator sets the list with `FACECHAIN_APP_BASE_MODELS`, or `FACECHAIN_BASE_MODEL`, and `HF_HOME`)."
        )
    return " ".join([*lines, tiny])


def loss_frame(losses: list[tuple[int, float]]) -> pd.DataFrame:
    return pd.DataFrame(losses, columns=["step", "loss"])


def models_table(workspace) -> list[list]:
    """The workspace's trained models (finished runs), newest first, with their family."""
    return [
        [path.name, family_title(info), info["steps"], "tiny demo" if info.get("tiny") else info["base_model"]]
        for path, info in trained_models(workspace.section("models"))
    ]


def dataset_choices(workspace) -> list[str]:
    return [item.name for item in workspace.items("datasets")]


def training_params(
    context,
    workspace,
    dataset: str | None,
    name: str,
    base: str,
    steps: float,
    sude_weight: float,
    face_loss_weight: float = 0,
) -> dict:
    """The job a user asked for, on one of the offered base models (or the tiny one) only."""
    datasets = dataset_choices(workspace)
    if not datasets:
        raise gr.Error("Prepare your photos first (Photos tab).")
    dataset = dataset or datasets[0]
    if dataset not in datasets:
        raise gr.Error("Choose one of your training sets.")
    if not 1 <= int(steps) <= MAX_STEPS:
        raise gr.Error(f"Steps must be between 1 and {MAX_STEPS}.")
    out = workspace.item("models", name)
    if finished_run(out) is not None:
        raise gr.Error(f"A model named '{out.name}' exists already: choose another name.")
    unfinished = context.jobs.list(workspace.id, UNFINISHED)
    if any(job.kind == "train" and job.params["name"] == out.name for job in unfinished):
        raise gr.Error(f"A training named '{out.name}' is queued or running already.")
    if face_loss_weight and not 1 <= face_loss_weight <= MAX_FACE_LOSS_WEIGHT:
        raise gr.Error(f"The face loss weight is 0 (off) or between 1 and {MAX_FACE_LOSS_WEIGHT}.")
    tiny = TINY_CHOICES.get(base)
    if not tiny and base not in context.settings.offered_base_models:
        raise gr.Error("Choose one of the base models this app offers.")  # never echo what was sent
    return {
        "dataset": dataset,
        "name": out.name,
        "tiny": tiny,
        "base_model": None if tiny else base,
        "steps": int(steps),
        "sude_weight": float(sude_weight),
        "checkpoint_every": 100,
        "validation_images": 2 if tiny else 4,
        **({"face_loss_weight": float(face_loss_weight)} if face_loss_weight else {}),  # 0: off
    }


def training_updates(context, workspace, queued, progress=None):
    """Follow a training job: yield (status, loss frame, models table) until it ends."""
    model = workspace.item("models", queued.params["name"])
    job = queued
    for job in follow(context, queued, progress, "step"):
        if job.done:
            break
        losses = logged_losses(model) if job.total else []  # before its first step the log may be older
        loss = f", loss {losses[-1][1]:.4f}" if losses else ""
        text = (
            f"Training **{model.name}**: step {job.step}/{job.total}{loss}"
            if job.status == "running" and job.total
            else waiting_text(context, job)
        )
        yield text, loss_frame(losses), gr.skip()
    if job.status != "succeeded":
        hint = " Checkpoints are kept: start again with the same name to resume." if job.status == "cancelled" else ""
        yield (
            f"**Stopped:** {job.error or job.status}.{hint}",
            loss_frame(logged_losses(model)),
            models_table(workspace),
        )
        return
    notice = f"\n\n{TINY_NOTICE}." if job.params.get("tiny") else ""
    yield (
        f"**Done:** {model.name}, {job.result['steps']} steps. Use it in the Generate tab.{notice}",
        loss_frame(logged_losses(model)),
        models_table(workspace),
    )


def cancel_training(context, workspace) -> str:
    """Cancel the workspace's unfinished training jobs."""
    running = [j for j in context.jobs.list(workspace.id, UNFINISHED) if j.kind == "train"]
    if not running:
        return "Nothing is training."
    for job in running:
        context.jobs.cancel(job.id, workspace.id)
    return "Stopping at the end of the current step..."


def build(context, token) -> None:
    offered = context.settings.offered_base_models  # looked up once; nothing is downloaded
    available = {model: locally_available(model, context.settings) for model in offered}
    tiny_problem = tiny_model_problem()
    gr.Markdown(base_model_status(available, tiny_problem))
    with gr.Row():
        with gr.Column(scale=1):
            dataset = gr.Dropdown(choices=[], label="Training set (left empty: your newest)", allow_custom_value=True)
            name = gr.Textbox(label="Model name", value="me")
            choices = [*offered, *(TINY_CHOICES if tiny_problem is None else [])]
            first_here = next((model for model in offered if available[model] is not None), None)
            default = first_here or (TINY_CHOICE if tiny_problem is None else offered[0])
            base = gr.Radio(choices, value=default, label="Train on")
            steps = gr.Slider(1, MAX_STEPS, value=400, step=1, label="Steps")
            sude_weight = gr.Slider(0.0, 2.0, value=0.4, step=0.1, label="SuDe weight (0: off)")
            face_loss_weight = gr.Slider(
                0,
                10,
                value=0,
                step=0.5,
                label="Face loss weight (0: off)",
                info="the face counts this many times the rest of the photo; 1 only leaves out the filled border",
            )
            with gr.Row():
                start = gr.Button("Start training", variant="primary")
                cancel = gr.Button("Cancel")
        with gr.Column(scale=2):
            status = gr.Markdown()
            plot = gr.LinePlot(loss_frame([]), x="step", y="loss", label="Training loss")
            models = gr.Dataframe(headers=["model", "family", "steps", "base model"], label="Your models")

    @user_errors
    def handler(
        set_name, name_text, base_choice, step_count, weight, token_value, face_weight=0, progress=gr.Progress()
    ):
        workspace = context.workspace(token_value)
        params = training_params(context, workspace, set_name, name_text, base_choice, step_count, weight, face_weight)
        yield from training_updates(context, workspace, submit(context, workspace, "train", params), progress)

    @user_errors
    def stop(token_value):
        return cancel_training(context, context.workspace(token_value))

    @user_errors
    def show(token_value):
        """On page load: the training sets, the models, and the newest training (followed if unfinished)."""
        workspace = context.workspace(token_value)
        sets = dataset_choices(workspace)
        yield gr.update(choices=sets, value=sets[0] if sets else None), gr.skip(), gr.skip(), models_table(workspace)
        job = newest_job(context, workspace, "train")
        if job is not None:
            for update in training_updates(context, workspace, job):
                yield gr.skip(), *update

    start.click(
        handler,
        [dataset, name, base, steps, sude_weight, token, face_loss_weight],
        [status, plot, models],
        api_name="train",
    )
    cancel.click(stop, token, status, api_name="cancel")
    token.change(show, token, [dataset, status, plot, models], api_visibility="undocumented")
    dataset.focus(
        lambda t: gr.update(choices=dataset_choices(context.workspace(t))),
        token,
        dataset,
        api_visibility="undocumented",
    )
