"""Motion tab: HumanMAC motion prediction. Start from a procedural motion or an uploaded motion file
(plain .npz arrays only: nothing uploaded is ever unpickled), choose K, the mode and the body part,
and watch the history (grey), the K futures and the recorded continuation (black) as an animation."""

from __future__ import annotations

import threading
import time
from functools import lru_cache
from pathlib import Path

import gradio as gr

from ..errors import FacechainError
from ..motion.skeleton import H36M
from .errors import user_errors

TITLE = "Motion"
MAX_FUTURES = 6
SAMPLING = threading.Lock()  # the pipeline's scheduler holds per-call state: one sampling at a time


@lru_cache(maxsize=2)
def motion_pipeline(folder: Path):
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
    steps: float,
    seed: float,
):
    """Handler of Predict: (animation GIF path, summary)."""
    from ..motion.data import UPLOAD_MAX_BYTES, load_positions
    from ..motion.render import animate
    from ..motion.scenario import MotionRequest, file_window, predict, procedural_window, skeleton_of

    workspace = context.workspace(token)
    if not 1 <= int(samples) <= MAX_FUTURES:
        raise gr.Error(f"Choose between 1 and {MAX_FUTURES} futures.")
    try:
        pipe = motion_pipeline(Path(context.settings.motion_model))
        skeleton = skeleton_of(pipe)
        if source == "upload":
            if not upload:
                raise gr.Error("Upload a motion file (.npz) first, or start from a procedural motion.")
            positions = load_positions(Path(upload), max_bytes=UPLOAD_MAX_BYTES)
            window, name = file_window(positions, skeleton, (sequence or "").strip() or None, int(start or 0))
        else:
            window, name = procedural_window(motion, int(seed), skeleton), f"procedural {motion}"
        with SAMPLING:
            history, futures = predict(
                pipe, window, MotionRequest(mode, part, switch_to, int(samples), int(steps), int(seed))
            )
    except FacechainError as error:
        message = str(error).replace(str(upload), Path(upload).name) if upload else str(error)
        raise gr.Error(message) from None  # the upload's name, not the server's path to it
    stamp = f"{time.strftime('%Y%m%d-%H%M%S')}-{time.monotonic_ns() % 10**6}"
    out = workspace.item("motion", stamp) / "motion.gif"
    recorded = window[skeleton.t_his :] if len(window) > skeleton.t_his else None
    animate(history, futures, skeleton, out, recorded=recorded)
    summary = (
        f"**{name}**: {mode}"
        + (f" keeping the {part.replace('_', ' ')}" if mode == "control" else "")
        + (f" toward {switch_to}" if mode == "switch" else "")
        + f", {len(futures)} futures of {skeleton.t_pred} frames ({skeleton.t_pred / skeleton.fps:.0f} s)."
    )
    return str(out), summary


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
                steps = gr.Slider(10, 100, value=50, step=10, label="Sampling steps")
                seed = gr.Number(0, label="Seed", precision=0, minimum=0)
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
        steps_,
        seed_,
        token_value,
    ):
        return predict_motion(
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
            steps_,
            seed_,
        )

    button.click(
        handler,
        [source, motion, upload, sequence, start, samples, mode, part, switch_to, steps, seed, token],
        [animation, summary],
        api_name="motion",
    )
