"""The Motion tab's job: K futures of a procedural or uploaded motion, drawn as an animation in the workspace."""

from __future__ import annotations

from pathlib import Path

from pipelines.schedulers import DEFAULT_MOTION_SOLVER

from ..config import Settings
from ..errors import BadArguments, FacechainError
from ..progress import Progress
from ..workspace import Workspace, safe_name

FIGURES = {"BoneErr%": "bone length error (%)", "Skate": "foot skating (m/s)", "Cross%": "leg crossing (%)"}


def run_motion(params: dict, workspace: Workspace, settings: Settings, progress: Progress) -> dict:
    """params: source ("procedural" or "upload"), motion, sequence, start, samples, mode, part, switch_to,
    solver, steps, seed, keep_bone_lengths, and ``run`` (the folder under motion/ that holds the upload, if
    any, and gets motion.gif). The summary names the run's sampling and the plausibility of its futures."""
    from ..motion.data import UPLOAD_MAX_BYTES, load_positions
    from ..motion.render import animate
    from ..motion.scenario import (
        MotionRequest,
        file_window,
        load_motion_pipeline,
        predict,
        procedural_window,
        skeleton_of,
    )

    request = MotionRequest(  # an unknown solver or a bad number is refused before the model loads
        mode=params["mode"],
        part=params["part"],
        switch_to=params["switch_to"],
        samples=int(params["samples"]),
        steps=int(params["steps"]),
        seed=int(params["seed"]),
        keep_bone_lengths=bool(params.get("keep_bone_lengths", True)),  # jobs queued before these options
        solver=params.get("solver", DEFAULT_MOTION_SOLVER),
    )
    folder = workspace.existing("motion", safe_name(params["run"], "motion"))
    upload = folder / "upload.npz"
    try:
        pipe = load_motion_pipeline(Path(settings.motion_model))
        skeleton = skeleton_of(pipe)
        if params["source"] == "upload":
            positions = load_positions(upload, max_bytes=UPLOAD_MAX_BYTES)
            sequence = (params.get("sequence") or "").strip() or None
            window, name = file_window(positions, skeleton, sequence, int(params.get("start") or 0))
        else:
            window, name = (
                procedural_window(params["motion"], int(params["seed"]), skeleton),
                f"procedural {params['motion']}",
            )
        progress(0, 1, "sampling")
        run = predict(pipe, window, request)
    except FacechainError as error:  # the upload's own name, never the server's path to it
        raise BadArguments(str(error).replace(str(upload), params.get("upload_name") or "the upload")) from None
    recorded = window[skeleton.t_his :] if len(window) > skeleton.t_his else None
    animate(run.history, run.futures, skeleton, folder / "motion.gif", recorded=recorded)
    progress(1, 1, "drawn")
    mode, part = params["mode"], params["part"]
    summary = (
        f"**{name}**: {mode}"
        + (f" keeping the {part.replace('_', ' ')}" if mode == "control" else "")
        + (f" toward {params['switch_to']}" if mode == "switch" else "")
        + f", {len(run.futures)} futures of {skeleton.t_pred} frames ({skeleton.t_pred / skeleton.fps:.0f} s)."
    )
    return {
        "gif": str((folder / "motion.gif").relative_to(workspace.path)),
        "summary": summary + "\n\n" + figures_table(request, run),
    }


def figures_table(request, run) -> str:
    """The run's sampling and the plausibility of the futures shown, as Markdown; when the bone lengths
    were restored, the model's raw figures stand beside them, so the restoration's effect reads at a glance."""
    columns = (
        {"shown (bone lengths restored)": run.figures, "raw (the model's own)": run.raw_figures}
        if run.raw_figures
        else {"futures shown": run.figures}
    )
    rows = [
        f"| {label} | " + " | ".join(f"{figures[name]:.3f}" for figures in columns.values()) + " |"
        for name, label in FIGURES.items()
    ]
    return "\n".join(
        [
            f"Sampled with **{request.solver}**, {request.steps} steps, {run.precision}, in {run.seconds:.2f} s.",
            "",
            "| | " + " | ".join(columns) + " |",
            "|---" + "|--:" * len(columns) + "|",
            *rows,
        ]
    )
