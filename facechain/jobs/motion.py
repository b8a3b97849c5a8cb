"""The Motion tab's job: K futures of a procedural or uploaded motion, drawn as an animation in the workspace."""

from __future__ import annotations

from pathlib import Path

from ..config import Settings
from ..errors import BadArguments, FacechainError
from ..progress import Progress
from ..workspace import Workspace, safe_name


def run_motion(params: dict, workspace: Workspace, settings: Settings, progress: Progress) -> dict:
    """params: source ("procedural" or "upload"), motion, sequence, start, samples, mode, part, switch_to,
    steps, seed, and ``run`` (the folder under motion/ that holds the upload, if any, and gets motion.gif)."""
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
        request = MotionRequest(
            params["mode"],
            params["part"],
            params["switch_to"],
            int(params["samples"]),
            int(params["steps"]),
            int(params["seed"]),
        )
        progress(0, 1, "sampling")
        history, futures = predict(pipe, window, request)
    except FacechainError as error:  # the upload's own name, never the server's path to it
        raise BadArguments(str(error).replace(str(upload), params.get("upload_name") or "the upload")) from None
    recorded = window[skeleton.t_his :] if len(window) > skeleton.t_his else None
    animate(history, futures, skeleton, folder / "motion.gif", recorded=recorded)
    progress(1, 1, "drawn")
    mode, part = params["mode"], params["part"]
    summary = (
        f"**{name}**: {mode}"
        + (f" keeping the {part.replace('_', ' ')}" if mode == "control" else "")
        + (f" toward {params['switch_to']}" if mode == "switch" else "")
        + f", {len(futures)} futures of {skeleton.t_pred} frames ({skeleton.t_pred / skeleton.fps:.0f} s)."
    )
    return {"gif": str((folder / "motion.gif").relative_to(workspace.path)), "summary": summary}
