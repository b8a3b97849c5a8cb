"""The stochastic motion-prediction metrics HumanMAC reports (in metres, on the flattened pose vector):

- APD: mean pairwise L2 distance between the K predicted futures (diversity);
- ADE / FDE: over the K predictions, the smallest mean-over-frames / last-frame L2 error;
- MMADE / MMFDE: ADE / FDE averaged over the multimodal ground truth, the futures of every test
  window whose last observed pose is within 0.5 of this one's.
"""

from __future__ import annotations

import numpy as np

MULTIMODAL_THRESHOLD = 0.5


def apd(predictions: np.ndarray) -> float:
    """predictions (K, T, F)."""
    flat = predictions.reshape(len(predictions), -1)
    if len(flat) < 2:
        return 0.0
    distances = np.linalg.norm(flat[:, None] - flat[None], axis=-1)
    return float(distances.sum() / (len(flat) * (len(flat) - 1)))


def ade(predictions: np.ndarray, future: np.ndarray) -> float:
    """predictions (K, T, F), future (T, F)."""
    return float(np.linalg.norm(predictions - future[None], axis=-1).mean(axis=1).min())


def fde(predictions: np.ndarray, future: np.ndarray) -> float:
    return float(np.linalg.norm(predictions[:, -1] - future[None, -1], axis=-1).min())


def multimodal_futures(
    last_poses: np.ndarray, futures: np.ndarray, threshold: float = MULTIMODAL_THRESHOLD
) -> list[np.ndarray]:
    """For each window i, the futures (m, T, F) of all windows whose last observed pose (N, F) lies
    within ``threshold`` (L2) of window i's (window i's own future included)."""
    distances = np.linalg.norm(last_poses[:, None] - last_poses[None], axis=-1)
    return [futures[np.flatnonzero(row < threshold)] for row in distances]


def mmade(predictions: np.ndarray, multimodal: np.ndarray) -> float:
    return float(np.mean([ade(predictions, future) for future in multimodal]))


def mmfde(predictions: np.ndarray, multimodal: np.ndarray) -> float:
    return float(np.mean([fde(predictions, future) for future in multimodal]))


def all_metrics(predictions: np.ndarray, future: np.ndarray, multimodal: np.ndarray) -> dict[str, float]:
    return {
        "APD": apd(predictions),
        "ADE": ade(predictions, future),
        "FDE": fde(predictions, future),
        "MMADE": mmade(predictions, multimodal),
        "MMFDE": mmfde(predictions, multimodal),
    }
