"""SFAT: slack federated adversarial training.

Zhu, Yao, Zhou, Zhang, Xu, Han, Sugiyama, "Combating Exacerbated Heterogeneity for Robust Models in
Federated Learning", ICLR 2023.

Adversarial training on non-IID clients exacerbates their heterogeneity: each client's adversarial
examples follow its own skewed data, and plain FedAvg of the local models loses robustness. SFAT
relaxes the aggregation: the client(s) whose local adversarial loss is smallest get a larger weight,

    w_k  proportional to  n_k * ((1 + alpha) / (1 - alpha) if k in the lowest-loss set else 1),   sum_k w_k = 1,

alpha chosen so the factor is about 1.2-1.4 (alpha = 0.15: 1.35), plain FedAvg (w_k proportional to
n_k) in round 0. Local training is PGD adversarial training (Madry et al., ICLR 2018): L-inf
perturbations of radius eps, random start, signed-gradient steps, inputs kept in [0, 1].
"""

from __future__ import annotations

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

SLACK = 0.15  # alpha


def pgd_attack(
    model: nn.Module, x: torch.Tensor, y: torch.Tensor, eps: float, steps: int, step_size: float | None = None
) -> torch.Tensor:
    """Adversarial inputs within ``eps`` of ``x`` (L-inf) that raise the cross-entropy; the model's
    mode and parameters are left as they were."""
    step_size = 2.5 * eps / steps if step_size is None else step_size
    was_training = model.training
    model.eval()
    adversarial = (x + torch.empty_like(x).uniform_(-eps, eps)).clamp(0, 1)
    for _ in range(steps):
        adversarial.requires_grad_(True)
        (grad,) = torch.autograd.grad(F.cross_entropy(model(adversarial), y), adversarial)
        adversarial = torch.min(torch.max(adversarial.detach() + step_size * grad.sign(), x - eps), x + eps).clamp(0, 1)
    model.train(was_training)
    return adversarial.detach()


def slack_weights(
    sizes: np.ndarray, adversarial_losses: np.ndarray, alpha: float = SLACK, lowest: int = 1
) -> np.ndarray:
    """SFAT's aggregation weights: data-size weights with the ``lowest`` smallest-loss clients scaled
    by (1 + alpha) / (1 - alpha), normalised. alpha = 0 is FedAvg."""
    factor = np.ones(len(sizes))
    factor[np.argsort(adversarial_losses)[:lowest]] = (1 + alpha) / (1 - alpha)
    weights = np.asarray(sizes, dtype=np.float64) * factor
    return weights / weights.sum()


def fedavg_weights(sizes: np.ndarray) -> np.ndarray:
    return np.asarray(sizes, dtype=np.float64) / np.sum(sizes)


def aggregate(states: list[dict[str, torch.Tensor]], weights: np.ndarray) -> dict[str, torch.Tensor]:
    """The weighted average of the clients' state dicts."""
    return {name: sum(float(w) * state[name] for w, state in zip(weights, states)) for name in states[0]}


def robust_accuracy(model: nn.Module, x: torch.Tensor, y: torch.Tensor, eps: float, steps: int = 20) -> float:
    """Accuracy under a PGD-``steps`` attack of radius ``eps``."""
    model.eval()
    adversarial = pgd_attack(model, x, y, eps, steps)
    with torch.no_grad():
        return float((model(adversarial).argmax(1) == y).float().mean())


__all__ = ["SLACK", "aggregate", "fedavg_weights", "pgd_attack", "robust_accuracy", "slack_weights"]
