"""InfoGrowth: cleaning and information-gain selection for a growing dataset.

Qin et al., "InfoGrowth: Scalable Dataset Growth with Information Gain" (ECCV 2024). Each incoming
item is first cleaned: its alignment (image-text in the paper; here, how well its label agrees with
its k nearest earlier items) below 0.4 drops it. A kept item's gain is its mean cosine distance to the
k = 4 nearest items already kept, so items unlike anything kept so far are worth most and
near-duplicates are worth almost nothing. Sampling keeps an item with probability gain / (99th
percentile of gains), clipped to [0, 1].

Here: ``InfoGrowthStream`` (online cleaning + gain, then a budgeted sample) for the lab's stream
experiment. The gain and ``greedy_selection`` (repeatedly add the highest-gain item), with which photo
curation keeps the most varied photos of a person, are product code: ``facechain.portrait.dataset.diversity``.
"""

from __future__ import annotations

import numpy as np

from ...portrait.dataset.diversity import cosine_distances, information_gain


def label_alignment(
    features: np.ndarray,
    labels: np.ndarray,
    reference: np.ndarray,
    reference_labels: np.ndarray,
    k: int = 10,
    exclude_self: bool = False,
) -> np.ndarray:
    """Share of each item's k nearest reference items (cosine) that carry its label: the stand-in for
    the paper's image-text alignment when the "text" is a class label."""
    distances = cosine_distances(features, reference)
    if exclude_self:
        np.fill_diagonal(distances, np.inf)
    nearest = np.argsort(distances, axis=1)[:, :k]
    return (reference_labels[nearest] == labels[:, None]).mean(axis=1)


class InfoGrowthStream:
    """Items arrive in chunks; each is cleaned against everything received so far (the first chunk
    against itself) and, if kept, gets its gain against the items kept before it."""

    def __init__(self, alignment_threshold: float = 0.4, k_alignment: int = 10, k_gain: int = 4):
        self.threshold, self.k_alignment, self.k_gain = alignment_threshold, k_alignment, k_gain
        self.seen_x: list[np.ndarray] = []
        self.seen_y: list[np.ndarray] = []
        self.kept_x: list[np.ndarray] = []
        self.gains: list[float] = []
        self.kept_index: list[int] = []
        self.dropped: list[int] = []
        self.count = 0

    def add(self, x: np.ndarray, y: np.ndarray) -> None:
        first = not self.seen_x
        self.seen_x.append(x)
        self.seen_y.append(y)
        reference, reference_labels = np.concatenate(self.seen_x), np.concatenate(self.seen_y)
        if not first:
            reference, reference_labels = reference[: -len(x)], reference_labels[: -len(x)]
        aligned = label_alignment(x, y, reference, reference_labels, self.k_alignment, exclude_self=first)
        for offset, item in enumerate(x):
            index = self.count + offset
            if aligned[offset] < self.threshold:
                self.dropped.append(index)
                continue
            gain = information_gain(item[None], np.stack(self.kept_x), self.k_gain)[0] if self.kept_x else 1.0
            self.kept_x.append(item)
            self.gains.append(float(gain))
            self.kept_index.append(index)
        self.count += len(x)

    def probabilities(self) -> np.ndarray:
        """Per kept item: gain normalised by the 99th percentile of gains, clipped to [0, 1]."""
        gains = np.asarray(self.gains)
        return np.clip(gains / max(np.percentile(gains, 99), 1e-12), 0.0, 1.0)

    def sample(self, budget: int, rng: np.random.Generator) -> np.ndarray:
        """Stream indices of ``budget`` kept items drawn without replacement, weighted by probability."""
        weights = self.probabilities() + 1e-9
        chosen = rng.choice(len(weights), size=min(budget, len(weights)), replace=False, p=weights / weights.sum())
        return np.sort(np.asarray(self.kept_index)[chosen])


__all__ = ["InfoGrowthStream", "label_alignment"]
