"""InfoGrowth's information gain and gain-driven selection.

Qin et al., "InfoGrowth: Scalable Dataset Growth with Information Gain" (ECCV 2024): an item's gain
is its mean cosine distance to the k = 4 nearest items already kept, so items unlike anything kept
so far are worth most. Here the same gain drives a greedy choice of a fixed-size subset: start from
the cleanest item and repeatedly add the one with the highest gain against what is already chosen.
Photo curation uses it to keep the most varied photos of a person instead of the first N.
"""

from __future__ import annotations

import numpy as np


def cosine_distances(items: np.ndarray, kept: np.ndarray) -> np.ndarray:
    """(len(items), len(kept)) matrix of 1 - cos between rows."""
    items = items / np.maximum(np.linalg.norm(items, axis=1, keepdims=True), 1e-12)
    kept = kept / np.maximum(np.linalg.norm(kept, axis=1, keepdims=True), 1e-12)
    return 1.0 - items @ kept.T


def information_gain(items: np.ndarray, kept: np.ndarray, k: int = 4) -> np.ndarray:
    """Gain of each row of ``items`` against the rows of ``kept``: mean distance to its k nearest."""
    distances = np.sort(cosine_distances(np.atleast_2d(items), np.atleast_2d(kept)), axis=1)
    return distances[:, : min(k, distances.shape[1])].mean(axis=1)


def greedy_selection(features: np.ndarray, first: int, k: int = 4) -> list[int]:
    """Every row index, in the order gain-greedy selection picks them, starting from ``first``.

    Taking the first n of the order gives the n-item subset; ties go to the lower index, so the
    order is deterministic.
    """
    features = np.asarray(features, dtype=np.float64)
    order = [first]
    remaining = [i for i in range(len(features)) if i != first]
    while remaining:
        gains = information_gain(features[remaining], features[order], k)
        order.append(remaining.pop(int(np.argmax(gains))))
    return order
