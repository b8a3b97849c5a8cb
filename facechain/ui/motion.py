"""Motion tab: HumanMAC motion prediction. Start from a procedural motion or an uploaded motion file
(plain .npz arrays only: nothing uploaded is ever unpickled), choose K, the mode, the body part and
the solver, and watch the history (grey), the K futures and the recorded continuation (black) as an
animation, with the run's sampling time and plausibility figures below it."""

from __future__ import annotations

import secrets
import shutil
import time
from functools import lru_cache
from pathlib import Path

import gradio as gr

from pipelines.schedulers import DEFAULT_MOTION_SOLVER, DEFAULT_MOTION_STEPS, MOTION_SOLVERS

from ..atomic import staged_folder
from ..errors import FacechainError
from ..motion.skeleton import H36M
from .errors import user_errors
from .jobs import ended, follow, submit, waiting_text

TITLE = "Motion"
MAX_FUTURES = 6


@lru_cache(maxsize=2)
def motion_pipeline(folder: Path):
    """The motion model, loaded once in the server to check uploads against its skeleton (jobs load their own)."""
    from ..motion.scenario import load_motion_pipeline

    return load_motion_pipeline(folder)


def predict_motion(
    context,
    token: str,
    source: str,
    motion: str,
    upload,
    sequence: str,
    start: float,
    samples: float,
    mode: str,
    part: str,
    switch_to: str,
    solver: str,
    steps: float,
    seed: float,
    keep_bone_lengths: bool,
    progress=None,
):
    """Handler of Predict: check the request (an upload is read here, so a bad file is refused at once),
    keep the upload in the workspace, queue the job, follow it, yield (animation GIF path, summary with the
    run's figures)."""
    from ..motion.data import UPLOAD_MAX_BYTES, load_positions
    from ..motion.scenario import file_window, skeleton_of

    workspace = context.workspace(token)
    if not 1 <= int(samples) <= MAX_FUTURES:
        raise gr.Error(f"Choose between 1 and {MAX_FUTURES} futures.")
    run = workspace.item("motion", f"{time.strftime('%Y%m%d-%H%M%S')}-{secrets.token_hex(2)}")
    if source == "upload":
        if not upload:
            raise gr.Error("Upload a motion file (.npz) first, or start from a procedural motion.")
        try:
            skeleton = skeleton_of(motion_pipeline(Path(context.settings.motion_model)))
            positions = load_positions(Path(upload), max_bytes=UPLOAD_MAX_BYTES)
            file_window(positions, skeleton, (sequence or "").strip() or None, int(start or 0))
        except FacechainError as error:
            raise gr.Error(str(error).replace(str(upload), Path(upload).name)) from None  # never the server's path
        context.workspaces.check_room(workspace, Path(upload).stat().st_size)
        with staged_folder(run) as staging:
            shutil.copyfile(upload, staging / "upload.npz")
    else:
        run.mkdir(parents=True)
    params = {
        "run": run.name,
        "source": source,
        "motion": motion,
        "upload_name": Path(upload).name if upload else None,
        "sequence": sequence,
        "start": int(start or 0),
        "samples": int(samples),
        "mode": mode,
        "part": part,
        "switch_to": switch_to,
        "solver": solver,
        "steps": int(steps),
        "seed": int(seed),
        "keep_bone_lengths": bool(keep_bone_lengths),
    }
    for job in follow(context, submit(context, workspace, "motion", params), progress, "step"):
        if not job.done:
            yield gr.skip(), waiting_text(context, job)
    result = ended(job).result
    yield str(workspace.path / result["gif"]), result["summary"]


def build(context, token) -> None:
    gr.Markdown(
        "Predict how a person moves on: from half a second of motion, the HumanMAC model draws several "
        "possible futures. **Control** keeps one body part on its recorded path; **switch** steers the "
        "ending toward another motion. The shipped model was trained on procedural motion only."
    )
    with gr.Row():
        with gr.Column():
            source = gr.Radio(["procedural", "upload"], value="procedural", label="Start from")
            motion = gr.Dropdown(["idle", "walk", "run", "random"], value="walk", label="Procedural motion")
            upload = gr.File(
                label="Motion file (.npz: one (frames, joints, 3) array in metres per 'subject/action')",
                file_types=[".npz"],
                type="filepath",
            )
            with gr.Row():
                sequence = gr.Textbox(label="Sequence (subject/action; empty: the first)")
                start = gr.Number(0, label="Start frame", precision=0, minimum=0)
        with gr.Column():
            samples = gr.Slider(1, MAX_FUTURES, value=3, step=1, label="Futures (K)")
            mode = gr.Radio(["predict", "control", "switch"], value="predict", label="Mode")
            part = gr.Dropdown(list(H36M.parts), value="right_leg", label="Body part kept (control)")
            switch_to = gr.Dropdown(["idle", "walk", "run", "random"], value="run", label="End in (switch)")
            with gr.Row():
                solver = gr.Dropdown(list(MOTION_SOLVERS), value=DEFAULT_MOTION_SOLVER, label="Solver")
                steps = gr.Slider(5, 100, value=DEFAULT_MOTION_STEPS, step=5, label="Sampling steps")
                seed = gr.Number(0, label="Seed", precision=0, minimum=0)
            keep_bone_lengths = gr.Checkbox(
                True,
                label="Keep the history's bone lengths",
                info="Give every predicted bone the history's length along its predicted direction; the "
                "summary shows the raw figures beside. Never applied in control mode, which keeps its part "
                "as recorded.",
            )
    button = gr.Button("Predict motion", variant="primary")
    animation = gr.Image(label="History (grey), futures (colours), recorded (black)", type="filepath")
    summary = gr.Markdown()

    @user_errors
    def handler(
        source_,
        motion_,
        upload_,
        sequence_,
        start_,
        samples_,
        mode_,
        part_,
        switch_to_,
        solver_,
        steps_,
        seed_,
        keep_bone_lengths_,
        token_value,
        progress=gr.Progress(),
    ):
        yield from predict_motion(
            context,
            token_value,
            source_,
            motion_,
            upload_,
            sequence_,
            start_,
            samples_,
            mode_,
            part_,
            switch_to_,
            solver_,
            steps_,
            seed_,
            keep_bone_lengths_,
            progress,
        )

    button.click(
        handler,
        [
            source,
            motion,
            upload,
            sequence,
            start,
            samples,
            mode,
            part,
            switch_to,
            solver,
            steps,
            seed,
            keep_bone_lengths,
            token,
        ],
        [animation, summary],
        api_name="motion",
    )
