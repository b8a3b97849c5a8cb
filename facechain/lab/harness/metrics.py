"""Metrics of the lab's experiments. Scores follow one convention: higher means "more in-distribution"
(or "more likely clean"), so AUROC is the chance that a random positive scores above a random negative."""

from __future__ import annotations

import numpy as np


def accuracy(predicted: np.ndarray, labels: np.ndarray) -> float:
    return float(np.mean(np.asarray(predicted) == np.asarray(labels)))


def group_accuracy(predicted: np.ndarray, labels: np.ndarray, groups: np.ndarray) -> dict:
    """Accuracy within each group (e.g. corruption severity, head/tail classes)."""
    return {
        group.item() if hasattr(group, "item") else group: accuracy(predicted[groups == group], labels[groups == group])
        for group in np.unique(groups)
    }


def max_softmax(logits: np.ndarray) -> np.ndarray:
    """The maximum softmax probability per row (MSP): the baseline in-distribution score."""
    import torch

    return torch.as_tensor(logits).softmax(dim=1).max(dim=1).values.numpy()


def auroc(positive: np.ndarray, negative: np.ndarray) -> float:
    """P(score of a positive > score of a negative), ties counted half (the Mann-Whitney statistic)."""
    from scipy.stats import rankdata

    scores = np.concatenate([positive, negative])
    ranks = rankdata(scores)
    n_pos, n_neg = len(positive), len(negative)
    return float((ranks[:n_pos].sum() - n_pos * (n_pos + 1) / 2) / (n_pos * n_neg))


def fpr_at_95_tpr(positive: np.ndarray, negative: np.ndarray) -> float:
    """Share of negatives (OOD) scoring at or above the threshold that keeps 95% of positives (ID)."""
    threshold = np.quantile(positive, 0.05)
    return float(np.mean(negative >= threshold))


def recall_at_1(
    queries: np.ndarray,
    gallery: np.ndarray,
    query_labels: np.ndarray,
    gallery_labels: np.ndarray,
    exclude_self: bool = False,
) -> float:
    """Share of queries whose nearest gallery item (cosine) has the same label. ``exclude_self`` when
    queries and gallery are the same set."""
    q = queries / np.maximum(np.linalg.norm(queries, axis=1, keepdims=True), 1e-12)
    g = gallery / np.maximum(np.linalg.norm(gallery, axis=1, keepdims=True), 1e-12)
    similarity = q @ g.T
    if exclude_self:
        np.fill_diagonal(similarity, -np.inf)
    return accuracy(gallery_labels[similarity.argmax(axis=1)], query_labels)


def precision_recall(flagged: np.ndarray, truth: np.ndarray) -> tuple[float, float]:
    """Precision and recall of a boolean filter against the planted truth (nan precision if none flagged)."""
    flagged, truth = np.asarray(flagged, bool), np.asarray(truth, bool)
    hits = np.sum(flagged & truth)
    precision = hits / flagged.sum() if flagged.any() else float("nan")
    recall = hits / truth.sum() if truth.any() else float("nan")
    return float(precision), float(recall)


def mean_iou(predicted: np.ndarray, truth: np.ndarray, classes: int) -> float:
    """Intersection over union per class (0..classes-1) over the whole set, averaged over the classes
    that occur in either."""
    ious = []
    for c in range(classes):
        union = np.sum((predicted == c) | (truth == c))
        if union:
            ious.append(np.sum((predicted == c) & (truth == c)) / union)
    return float(np.mean(ious))
