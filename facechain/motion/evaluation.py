"""Evaluation in the paper's protocol: K futures per test window, the five metrics averaged over
windows, multimodal ground truth from windows whose last observed pose is close; beside them the bone
length error (``plausibility``), in percent, which the paper's table does not show."""

from __future__ import annotations

from types import SimpleNamespace

import numpy as np
import torch

from ..progress import Progress
from .metrics import all_metrics, multimodal_futures
from .plausibility import bone_length_error, keep_bone_lengths
from .skeleton import Skeleton

METRICS = ("APD", "ADE", "FDE", "MMADE", "MMFDE", "BoneErr%")


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
) -> dict[str, float]:
    """windows (N, t_his + t_pred, F) -> the mean of each metric over the ``chosen`` windows (all by
    default); the multimodal ground truth is gathered from all of them. ``restore_bones``: measure the
    futures after ``keep_bone_lengths`` (off: the model as published)."""
    t_his = skeleton.t_his
    futures = windows[:, t_his:]
    multimodal = multimodal_futures(windows[:, t_his - 1], futures)
    chosen = np.arange(len(windows)) if chosen is None else np.asarray(chosen)
    generator = torch.Generator().manual_seed(seed)
    totals = {name: 0.0 for name in METRICS}
    for start in range(0, len(chosen), batch):
        indices = chosen[start : start + batch]
        history = torch.from_numpy(windows[indices, :t_his]).float()
        predicted = pipe(
            history, futures.shape[1], num_samples=samples, num_inference_steps=steps, generator=generator
        ).futures.numpy()
        for index, prediction in zip(indices, predicted):
            history = windows[index, :t_his]
            if restore_bones:
                prediction = keep_bone_lengths(prediction, history, skeleton)
            for name, value in all_metrics(prediction, futures[index], multimodal[index]).items():
                totals[name] += value
            totals["BoneErr%"] += 100 * bone_length_error(prediction, history, skeleton)
        if progress:
            progress(start + len(indices), len(chosen))
    return {name: total / len(chosen) for name, total in totals.items()}


class ZeroVelocity:
    """The baseline that holds the last observed pose: one future per window, called like the pipeline."""

    def __call__(self, history: torch.Tensor, future_frames: int, **_) -> SimpleNamespace:
        return SimpleNamespace(futures=history[:, -1:].repeat(1, future_frames, 1)[:, None])


def table(rows: dict[str, dict[str, float]]) -> str:
    """The paper-style table: one row per method, APD / ADE / FDE / MMADE / MMFDE, and the bone length error."""
    lines = [f"{'method':<28}" + "".join(f"{name:>9}" for name in METRICS)]
    lines += [f"{method:<28}" + "".join(f"{values[name]:>9.3f}" for name in METRICS) for method, values in rows.items()]
    return "\n".join(lines)
