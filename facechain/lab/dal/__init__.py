"""DAL: a dynamics-aware loss for learning with noisy labels (2023).

Early in training a network fits the clean majority; later it memorises the wrong labels. DAL
follows that: it starts close to MAE-like robustness and moves toward CE's fitting power, and adds an
entropy term once that happens, so confident predictions are not pulled toward memorised labels:

    L_i = (1 - p_y^q) / q  +  lambda * H(p) / (q log K),

with q rising linearly from q_s = 0.6 to q_e = 1.5 over training (q -> 0 is CE, q = 1 is MAE) and
lambda = max(0, (t - t0) / (T - t0)), t0 the point where q crosses 1. GCE is the fixed-q case
without the entropy term (Zhang & Sabuncu, NeurIPS 2018, q = 0.7).
"""

from __future__ import annotations

import math

import torch


def dal_schedule(progress: float, q_start: float = 0.6, q_end: float = 1.5) -> tuple[float, float]:
    """(q, lambda) at ``progress`` in [0, 1] of training."""
    q = q_start + (q_end - q_start) * progress
    crossing = (1.0 - q_start) / (q_end - q_start)  # where q = 1
    weight = max(0.0, (progress - crossing) / (1.0 - crossing))
    return q, weight


def generalized_cross_entropy(logits: torch.Tensor, labels: torch.Tensor, q: float = 0.7) -> torch.Tensor:
    """Mean of (1 - p_y^q) / q."""
    p_label = logits.softmax(dim=1).gather(1, labels[:, None]).squeeze(1)
    return ((1 - p_label.clamp_min(1e-12) ** q) / q).mean()


def dal_loss(
    logits: torch.Tensor, labels: torch.Tensor, progress: float, q_start: float = 0.6, q_end: float = 1.5
) -> torch.Tensor:
    """The DAL loss of a batch at ``progress`` in [0, 1] of training."""
    q, weight = dal_schedule(progress, q_start, q_end)
    probabilities = logits.softmax(dim=1)
    entropy = -(probabilities * probabilities.clamp_min(1e-12).log()).sum(dim=1)
    return generalized_cross_entropy(logits, labels, q) + weight * (entropy / (q * math.log(logits.shape[1]))).mean()


__all__ = ["dal_loss", "dal_schedule", "generalized_cross_entropy"]
