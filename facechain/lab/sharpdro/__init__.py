"""SharpDRO: worst-case sharpness for robustness to photon-limited corruptions.

Huang, Shang, Liu, Sun, Wang, Wang, Tao, Han, "Robust Generalization against Photon-Limited
Corruptions via Worst-Case Sharpness Minimization", CVPR 2023.

Severe corruptions are rare in training and their loss surface is sharp, so a network that fits the
common mild cases generalises badly to them. SharpDRO combines GroupDRO's adversarial group weights
(which find the worst corruption group) with SAM's weight perturbation (which measures sharpness),
and minimises the weighted sharpness. Per step, with groups g = corruption severities:

    g0 = grad_w mean loss;            e = rho * g0 / |g0|                     (rho = 0.05)
    q_g <- q_g exp(eta * L_g(w)),  normalised                                  (eta = 0.01)
    R = sum_g q_g [L_g(w + e) - L_g(w)]   (the worst-case sharpness)
    g1 = grad of sum_g q_g L_g at w + e;  step with g0 + g1.

The baselines beside it: ERM, SAM (Foret et al., ICLR 2021: the gradient of the mean loss at w + e)
and GroupDRO (Sagawa et al., ICLR 2020: minimise sum_g q_g L_g(w)). Groups absent from a batch keep
their weight and add nothing.
"""

from __future__ import annotations

import torch
from torch import nn

from ..weight_perturbation import apply_gradient, gradient, scaled_to, shifted


def group_losses(per_example: torch.Tensor, groups: torch.Tensor, count: int) -> tuple[torch.Tensor, torch.Tensor]:
    """(mean loss per group (count,), a mask of the groups present in the batch)."""
    totals = torch.zeros(count, dtype=per_example.dtype).index_add(0, groups, per_example)
    members = torch.bincount(groups, minlength=count)
    return totals / members.clamp_min(1), members > 0


class GroupWeights:
    """The adversarial distribution q over groups, moved toward the groups with high loss."""

    def __init__(self, count: int, eta: float = 0.01):
        self.q = torch.full((count,), 1.0 / count)
        self.eta = eta

    def update(self, losses: torch.Tensor, present: torch.Tensor) -> torch.Tensor:
        """q_g <- q_g exp(eta L_g) for the present groups, then normalised; returns q."""
        self.q = self.q * torch.exp(self.eta * losses.detach() * present)
        self.q = self.q / self.q.sum()
        return self.q


class SharpDRO:
    """The SharpDRO update for ``count`` groups; ``step`` takes per-example losses from ``loss_of(model)``."""

    def __init__(self, count: int, rho: float = 0.05, eta: float = 0.01):
        self.weights = GroupWeights(count, eta)
        self.count, self.rho = count, rho

    def step(self, model: nn.Module, optimizer: torch.optim.Optimizer, loss_of, groups: torch.Tensor) -> float:
        per_example = loss_of(model)
        mean = per_example.mean()
        first = gradient(model, mean)
        losses, present = group_losses(per_example.detach(), groups, self.count)
        q = self.weights.update(losses, present)
        with shifted(model, scaled_to(first, self.rho)):
            sharp, _ = group_losses(loss_of(model), groups, self.count)
            second = gradient(model, (q * sharp).sum())
        apply_gradient(model, optimizer, [a + b for a, b in zip(first, second)])
        return float(mean.detach())


def sam_step(model: nn.Module, optimizer: torch.optim.Optimizer, loss_of, rho: float = 0.05) -> float:
    """SAM: descend with the gradient of the mean loss taken at w + e."""
    mean = loss_of(model).mean()
    first = gradient(model, mean)
    with shifted(model, scaled_to(first, rho)):
        second = gradient(model, loss_of(model).mean())
    apply_gradient(model, optimizer, second)
    return float(mean.detach())


def group_dro_step(
    weights: GroupWeights, model: nn.Module, optimizer: torch.optim.Optimizer, loss_of, groups: torch.Tensor
) -> float:
    """GroupDRO: update q with the batch's group losses, descend on sum_g q_g L_g."""
    losses, present = group_losses(loss_of(model), groups, len(weights.q))
    q = weights.update(losses, present)
    objective = (q * losses).sum()
    apply_gradient(model, optimizer, gradient(model, objective))
    return float(objective.detach())


__all__ = ["GroupWeights", "SharpDRO", "group_dro_step", "group_losses", "sam_step"]
