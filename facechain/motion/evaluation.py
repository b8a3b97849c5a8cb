"""Evaluation in the paper's protocol: K futures per test window, the five metrics averaged over
windows, multimodal ground truth from windows whose last observed pose is close; beside them the
physical plausibility the paper's table does not show (``plausibility``): the bone length error in
percent, foot skating in m/s and the share of frames with the legs through each other in percent. The
recorded futures get the same row (``recorded``), so a model's plausibility reads against its data's."""

from __future__ import annotations

from types import SimpleNamespace

import numpy as np
import torch

from ..progress import Progress
from .metrics import all_metrics, multimodal_futures
from .plausibility import bone_length_error, foot_skating, keep_bone_lengths, leg_crossing
from .skeleton import Skeleton

METRICS = ("APD", "ADE", "FDE", "MMADE", "MMFDE", "BoneErr%", "Skate", "Cross%")


def plausibility(futures: np.ndarray, history: np.ndarray, skeleton: Skeleton) -> dict[str, float]:
    """The three plausibility figures of one window's futures (K, T, F) given its history (T_his, F)."""
    return {
        "BoneErr%": 100 * bone_length_error(futures, history, skeleton),
        "Skate": foot_skating(futures, history, skeleton),
        "Cross%": 100 * leg_crossing(futures, skeleton),
    }


def evaluate(
    pipe,
    windows: np.ndarray,
    skeleton: Skeleton,
    samples: int = 50,
    steps: int = 100,
    batch: int = 16,
    seed: int = 0,
    chosen: np.ndarray | None = None,
    progress: Progress | None = None,
    restore_bones: bool = False,
    precision: str = "fp32",
) -> dict[str, float]:
    """windows (N, t_his + t_pred, F) -> the mean of each metric over the ``chosen`` windows (all by
    default); the multimodal ground truth is gathered from all of them. ``restore_bones``: measure the
    futures after ``keep_bone_lengths`` (off: the model as published); ``precision``: the denoiser's."""
    generator = torch.Generator().manual_seed(seed)

    def predict(indices: np.ndarray) -> np.ndarray:
        history = torch.from_numpy(windows[indices, : skeleton.t_his]).float()
        frames = windows.shape[1] - skeleton.t_his
        options = {"num_inference_steps": steps, "generator": generator, "precision": precision}
        return pipe(history, frames, num_samples=samples, **options).futures.numpy()

    return mean_scores(predict, windows, skeleton, chosen, batch, progress, restore_bones)


def recorded(windows: np.ndarray, skeleton: Skeleton, chosen: np.ndarray | None = None) -> dict[str, float]:
    """The recorded futures scored as one prediction each: ADE and FDE are 0 by definition, MMADE and
    MMFDE the spread of the multimodal ground truth, and the plausibility figures those of the data."""
    return mean_scores(lambda indices: windows[indices, skeleton.t_his :][:, None], windows, skeleton, chosen)


def mean_scores(
    predict,
    windows: np.ndarray,
    skeleton: Skeleton,
    chosen: np.ndarray | None = None,
    batch: int = 16,
    progress: Progress | None = None,
    restore_bones: bool = False,
) -> dict[str, float]:
    """The mean of each metric over the ``chosen`` windows of the futures ``predict(indices)`` returns
    (B, K, t_pred, F), ``batch`` windows at a time."""
    t_his = skeleton.t_his
    futures = windows[:, t_his:]
    multimodal = multimodal_futures(windows[:, t_his - 1], futures)
    chosen = np.arange(len(windows)) if chosen is None else np.asarray(chosen)
    totals = {name: 0.0 for name in METRICS}
    for start in range(0, len(chosen), batch):
        indices = chosen[start : start + batch]
        for index, prediction in zip(indices, predict(indices)):
            history = windows[index, :t_his]
            if restore_bones:
                prediction = keep_bone_lengths(prediction, history, skeleton)
            scores = all_metrics(prediction, futures[index], multimodal[index]) | plausibility(
                prediction, history, skeleton
            )
            for name, value in scores.items():
                totals[name] += value
        if progress:
            progress(start + len(indices), len(chosen))
    return {name: total / len(chosen) for name, total in totals.items()}


class ZeroVelocity:
    """The baseline that holds the last observed pose: one future per window, called like the pipeline."""

    def __call__(self, history: torch.Tensor, future_frames: int, **_) -> SimpleNamespace:
        return SimpleNamespace(futures=history[:, -1:].repeat(1, future_frames, 1)[:, None])


def table(rows: dict[str, dict[str, float]]) -> str:
    """The paper-style table: one row per method, APD / ADE / FDE / MMADE / MMFDE, and the plausibility."""
    lines = [f"{'method':<28}" + "".join(f"{name:>9}" for name in METRICS)]
    lines += [f"{method:<28}" + "".join(f"{values[name]:>9.3f}" for name in METRICS) for method, values in rows.items()]
    return "\n".join(lines)
