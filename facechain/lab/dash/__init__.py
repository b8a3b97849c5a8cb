"""Dash: semi-supervised learning with a dynamic threshold on the unlabelled loss.

Xu, Shang, Ye, Qian, Li, Sun, Li, Jin, "Dash: Semi-Supervised Learning with Dynamic Thresholding",
ICML 2021.

FixMatch keeps an unlabelled example when the weak view's top probability passes a fixed 0.95 from
the first step; early in training that keeps few examples, and the ones it keeps are the easy ones.
Dash keeps an example when its loss on the weak view, against its own pseudo-label, is below a
threshold that starts high and shrinks:

    l_i = -log max_k softmax(f(weak(x_i)))_k          (cross-entropy against its own argmax)
    rho_t = max(floor, C * gamma^-(t - 1) * rho_hat)    t = 1, 2, ... counts threshold updates
    L_u = mean_i 1[l_i < rho_t] * CE(f(strong(x_i)), q_i)

rho_hat is the mean unlabelled loss after a supervised warm-up; C = 1.0001, gamma = 1.27 and one
update every ~10 epochs (the paper's defaults); floor 0.05 (about FixMatch's 0.95, since
-log 0.95 = 0.051). The target q_i is softmax(weak logits / 0.5) while the threshold is above the
floor and the one-hot argmax once it reaches it. The total loss is L_s + lambda_u L_u, lambda_u = 1.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
import torch.nn.functional as F

FIXMATCH_CONFIDENCE = 0.95


@dataclass(frozen=True)
class DashThreshold:
    """The schedule rho_t of a run, given the warm-up's mean unlabelled loss ``rho_hat``."""

    rho_hat: float
    scale: float = 1.0001  # C
    decay: float = 1.27  # gamma
    floor: float = 0.05

    def __call__(self, update: int) -> float:
        """rho_t after ``update`` >= 1 threshold updates."""
        if update < 1:
            raise ValueError(f"threshold updates count from 1, got {update}")
        return max(self.floor, self.scale * self.decay ** -(update - 1) * self.rho_hat)

    def at_floor(self, update: int) -> bool:
        return self(update) <= self.floor


def self_label_loss(weak_logits: torch.Tensor) -> torch.Tensor:
    """Per-example cross-entropy of the weak view against its own argmax: -log of the top probability."""
    return -weak_logits.log_softmax(dim=1).max(dim=1).values


def dash_unlabelled_loss(
    weak_logits: torch.Tensor,
    strong_logits: torch.Tensor,
    threshold: float,
    hard: bool = False,
    temperature: float = 0.5,
) -> tuple[torch.Tensor, torch.Tensor]:
    """(L_u, the boolean mask of kept examples). The weak view only chooses and labels (no gradient);
    ``hard`` uses one-hot targets (at the threshold's floor), otherwise the sharpened softmax."""
    weak_logits = weak_logits.detach()
    kept = self_label_loss(weak_logits) < threshold
    if hard:
        target = F.one_hot(weak_logits.argmax(dim=1), weak_logits.shape[1]).to(strong_logits.dtype)
    else:
        target = (weak_logits / temperature).softmax(dim=1)
    per_example = -(target * strong_logits.log_softmax(dim=1)).sum(dim=1)
    return (per_example * kept).mean(), kept


def fixmatch_unlabelled_loss(
    weak_logits: torch.Tensor, strong_logits: torch.Tensor, confidence: float = FIXMATCH_CONFIDENCE
) -> tuple[torch.Tensor, torch.Tensor]:
    """FixMatch's (Sohn et al., NeurIPS 2020) fixed-confidence rule: one-hot pseudo-labels of weak
    views whose top probability is at least ``confidence``; (L_u, mask)."""
    probabilities = weak_logits.detach().softmax(dim=1)
    top, label = probabilities.max(dim=1)
    kept = top >= confidence
    return (F.cross_entropy(strong_logits, label, reduction="none") * kept).mean(), kept


__all__ = [
    "DashThreshold",
    "FIXMATCH_CONFIDENCE",
    "dash_unlabelled_loss",
    "fixmatch_unlabelled_loss",
    "self_label_loss",
]
