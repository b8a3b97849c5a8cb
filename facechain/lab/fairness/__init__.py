"""The fairness regularizer (FR) for long-tailed data with noisy labels.

Wei, Zhu, Wang, Liu, "Fairness Improves Learning from Noisily Labeled Long-Tailed Data", 2023.

Under label noise on a long tail, the tail's sub-population learns far worse than the head's, and
methods built for either problem alone widen the gap. FR adds to any loss a penalty on how unequal
the sub-populations' performance is, performance measured on the labels at hand (noisy ones):

    min  (1/N) sum_n loss(f(x_n), y~_n)  +  lambda * sum_i |A_i - A|,

A_i the mean predicted probability of the given label over the batch's members of sub-population i,
A the same mean over the whole batch, lambda = 1. Sub-populations are head vs tail classes (by label
frequency) or k-means clusters of features. With ``one_sided`` only groups below the mean are
penalised (relu(A - A_i)), pushing the weak up without pulling the strong down.
"""

from __future__ import annotations

import numpy as np
import torch


def label_confidence(logits: torch.Tensor, labels: torch.Tensor) -> torch.Tensor:
    """p(y~ | x) per example: the softmax probability of the given label."""
    return logits.softmax(dim=1).gather(1, labels[:, None]).squeeze(1)


def fairness_penalty(
    logits: torch.Tensor, labels: torch.Tensor, groups: torch.Tensor, one_sided: bool = False
) -> torch.Tensor:
    """sum_i |A_i - A| over the sub-populations present in the batch (``groups``: an integer per example)."""
    confidence = label_confidence(logits, labels)
    overall = confidence.mean()
    gaps = torch.stack([confidence[groups == group].mean() - overall for group in torch.unique(groups)])
    return torch.relu(-gaps).sum() if one_sided else gaps.abs().sum()


def fair_loss(
    loss: torch.Tensor,
    logits: torch.Tensor,
    labels: torch.Tensor,
    groups: torch.Tensor,
    weight: float = 1.0,
    one_sided: bool = False,
) -> torch.Tensor:
    """``loss`` (any mean training loss of the batch) + lambda * the fairness penalty."""
    return loss + weight * fairness_penalty(logits, labels, groups, one_sided)


def head_tail_groups(labels: np.ndarray, classes: int) -> np.ndarray:
    """Sub-population per class: 0 for head classes (at least the median class count of ``labels``),
    1 for the tail; index it by label to get each example's group."""
    counts = np.bincount(labels, minlength=classes)
    return (counts < np.median(counts)).astype(np.int64)


def logit_adjusted_cross_entropy(
    logits: torch.Tensor, labels: torch.Tensor, log_prior: torch.Tensor, tau: float = 1.0
) -> torch.Tensor:
    """The long-tail baseline beside FR: cross-entropy of logits + tau log p(y) (Menon et al., "Long-tail
    learning via logit adjustment", ICLR 2021); predictions use the plain logits."""
    return torch.nn.functional.cross_entropy(logits + tau * log_prior, labels)


__all__ = ["fair_loss", "fairness_penalty", "head_tail_groups", "label_confidence", "logit_adjusted_cross_entropy"]
