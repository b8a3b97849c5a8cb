"""Which photos of a person add the most: InfoGrowth's information gain, used greedily.

Qin et al., "InfoGrowth: Scalable Dataset Growth with Information Gain" (ECCV 2024). An item's gain is
its mean cosine distance to the k = 4 nearest items already kept, so items unlike anything kept so far
are worth most and near-duplicates almost nothing. Curation orders a person's photos by repeatedly
adding the highest-gain one (``greedy_selection``) and keeps the first N of that order instead of the
first N photos. The lab's stream experiment (``facechain.lab.infogrowth``) builds on the same gain.
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
