"""One prediction as a user asks for it (CLI ``motion predict`` and the app's Motion tab): a motion to
start from (a procedural style, or a clip from a motion file), a mode (plain prediction, body-part
control, or a switch toward another motion), K and the solver, turned into the pipeline's inputs, and
the run given back with its sampling time and plausibility figures."""

from __future__ import annotations

import time
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from pipelines.schedulers import (
    DEFAULT_MOTION_PRECISION,
    DEFAULT_MOTION_SOLVER,
    DEFAULT_MOTION_STEPS,
    MAX_MOTION_STEPS,
    MOTION_PRECISIONS,
    MOTION_SOLVERS,
    motion_precision,
)

from ..errors import BadArguments
from ..model_loading import model_loading
from ..validation import check_between, check_seed
from .data import MotionDataError, to_skeleton
from .plausibility import keep_bone_lengths
from .procedural import STYLES, clip, random_clip, root_relative, varied
from .skeleton import H36M, SKELETONS, Skeleton

MODES = ("predict", "control", "switch")
START_MOTIONS = (*STYLES, "random")
SWITCH_FRAMES = 10  # the target's final frames the ending is steered to


@dataclass
class MotionRequest:
    mode: str = "predict"
    part: str | None = None  # control mode: the body part whose recorded trajectory is kept
    switch_to: str = "run"  # switch mode: the procedural style to end in
    samples: int = 3
    steps: int = DEFAULT_MOTION_STEPS
    seed: int = 0
    keep_bone_lengths: bool = True  # restore the history's bone lengths in the futures (not in control mode)
    solver: str = DEFAULT_MOTION_SOLVER  # a MOTION_SOLVERS name, built on the pipeline's noise schedule
    precision: str = DEFAULT_MOTION_PRECISION  # the denoiser's: fp32, bf16, or auto (bf16 where it is native)

    def __post_init__(self):
        if self.solver not in MOTION_SOLVERS:
            raise BadArguments(f"unknown solver {self.solver!r}; choose from {', '.join(MOTION_SOLVERS)}")
        if self.precision not in MOTION_PRECISIONS:
            raise BadArguments(f"unknown precision {self.precision!r}; choose from {', '.join(MOTION_PRECISIONS)}")
        check_between("samples", self.samples, 1, 1000)
        check_between("steps", self.steps, 1, MAX_MOTION_STEPS)
        check_seed("seed", self.seed)


@dataclass
class MotionRun:
    """One prediction and its figures: the history (t_his, F), the futures as shown (K, t_pred, F), the
    seconds the sampling took in the precision used, and the plausibility figures (BoneErr%, Skate, Cross%)
    of those futures; ``raw_figures`` are those of the model's own futures when the bone lengths were
    restored, else None."""

    history: np.ndarray
    futures: np.ndarray
    seconds: float
    precision: str
    figures: dict[str, float]
    raw_figures: dict[str, float] | None = None


def load_motion_pipeline(folder: Path):
    """A pipeline folder written by ``facechain motion train`` (e.g. the shipped one), progress bar off."""
    from pipelines.humanmac import HumanMACPipeline

    if not (Path(folder) / "model_index.json").is_file():
        raise BadArguments(f"{folder} is not a motion pipeline folder: make one with `facechain motion train`")
    with model_loading(("diffusers",)):
        pipe = HumanMACPipeline.from_pretrained(folder)
    pipe.set_progress_bar_config(disable=True)
    return pipe


def skeleton_of(pipe) -> Skeleton:
    """The skeleton a pipeline's denoiser was built for, from its joint count."""
    joints = pipe.denoiser.config.joints + 1
    for skeleton in SKELETONS.values():
        if skeleton.count == joints:
            return skeleton
    raise BadArguments(f"no known skeleton has {joints} joints")


def procedural_window(motion: str, seed: int, skeleton: Skeleton = H36M) -> np.ndarray:
    """(t_his + t_pred, F) root-relative frames of a procedural motion: one of the styles, or a random
    clip that may change style."""
    if skeleton is not H36M:
        raise MotionDataError(f"procedural motion is drawn on the H36M skeleton, not {skeleton.name}")
    if motion not in START_MOTIONS:
        raise MotionDataError(f"unknown motion {motion!r}; choose from {', '.join(START_MOTIONS)}")
    check_seed("seed", seed)
    rng = np.random.default_rng(seed)
    frames = skeleton.t_his + skeleton.t_pred
    positions = (
        random_clip(frames, rng)
        if motion == "random"
        else clip([(0, varied(STYLES[motion], rng))], frames, phase=rng.uniform(0, 2 * np.pi), rng=rng)
    )
    return root_relative(positions).astype(np.float32)


def file_window(data: dict, skeleton: Skeleton, sequence: str | None = None, start: int = 0) -> tuple[np.ndarray, str]:
    """A clip cut from loaded motion data at ``start``: (frames, F) root-relative, at most t_his + t_pred
    long and at least t_his, and its 'subject/action' name (the first sequence when none is named)."""
    names = [f"{subject}/{action}" for subject, actions in data.items() for action in actions]
    name = sequence or names[0]
    if name not in names:
        raise MotionDataError(
            f"no sequence {name!r} in the file; it has {', '.join(names[:10])}" + (" ..." if len(names) > 10 else "")
        )
    subject, _, action = name.rpartition("/")
    joints = to_skeleton(data[subject][action], skeleton)
    piece = joints[start : start + skeleton.t_his + skeleton.t_pred]
    if start < 0 or len(piece) < skeleton.t_his:
        raise MotionDataError(f"{name} has {len(joints)} frames: a history needs {skeleton.t_his} from frame {start}")
    return (piece[:, 1:] - piece[:, :1]).reshape(len(piece), -1).astype(np.float32), name


def part_features(skeleton: Skeleton, part: str) -> list[int]:
    """The feature columns (x, y, z of each joint; the root is not a feature) of a body part."""
    return [3 * (joint - 1) + axis for joint in skeleton.part(part) if joint > 0 for axis in range(3)]


def predict(pipe, window: np.ndarray, request: MotionRequest) -> MotionRun:
    """The futures of a window that starts with the history, sampled with the request's solver (the
    pipeline's own scheduler is left as it is), and their figures."""
    import torch

    from .evaluation import plausibility

    skeleton = skeleton_of(pipe)
    if request.mode not in MODES:
        raise BadArguments(f"unknown mode {request.mode!r}; choose from {', '.join(MODES)}")
    history = torch.from_numpy(window[: skeleton.t_his])[None]
    options = {}
    if request.mode == "control":
        if request.part not in skeleton.parts:
            raise BadArguments(f"control mode needs a body part: one of {', '.join(skeleton.parts)}")
        if len(window) < skeleton.t_his + skeleton.t_pred:
            raise MotionDataError(
                f"control mode keeps a recorded trajectory: it needs {skeleton.t_his + skeleton.t_pred} "
                f"frames from the start frame, the clip has {len(window)}"
            )
        options = {
            "control_features": part_features(skeleton, request.part),
            "control_motion": torch.from_numpy(window)[None],
        }
    elif request.mode == "switch":
        target = procedural_window(request.switch_to, request.seed + 1, skeleton)[-SWITCH_FRAMES:]
        options = {"target": torch.from_numpy(target)[None]}
    precision = motion_precision(request.precision, pipe.denoiser.device.type)
    began = time.perf_counter()
    out = pipe(
        history,
        skeleton.t_pred,
        num_samples=request.samples,
        num_inference_steps=request.steps,
        generator=torch.Generator().manual_seed(request.seed),
        precision=precision,
        scheduler=MOTION_SOLVERS[request.solver].build(pipe.scheduler.config),
        **options,
    )
    seconds = time.perf_counter() - began
    history, raw = history[0].numpy(), out.futures[0].numpy()
    if not request.keep_bone_lengths or request.mode == "control":  # control keeps a recorded part as it is
        return MotionRun(history, raw, seconds, precision, plausibility(raw, history, skeleton))
    futures = keep_bone_lengths(raw, history, skeleton).astype(raw.dtype)
    figures, raw_figures = plausibility(futures, history, skeleton), plausibility(raw, history, skeleton)
    return MotionRun(history, futures, seconds, precision, figures, raw_figures)
