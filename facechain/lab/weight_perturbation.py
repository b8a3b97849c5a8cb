"""Gradients as lists, explicit gradient steps and temporary weight perturbations: the plumbing of
methods that evaluate a loss at perturbed weights and apply the gradient at the original ones (SAM,
SharpDRO, DOE's implicit outlier transformation)."""

from __future__ import annotations

from contextlib import contextmanager

import torch
from torch import nn


def trainable(model: nn.Module) -> list[nn.Parameter]:
    return [p for p in model.parameters() if p.requires_grad]


def gradient(model: nn.Module, loss: torch.Tensor) -> list[torch.Tensor]:
    """d loss / d parameters, aligned with ``trainable(model)`` (zeros for unused parameters)."""
    return list(torch.autograd.grad(loss, trainable(model), allow_unused=True, materialize_grads=True))


def apply_gradient(model: nn.Module, optimizer: torch.optim.Optimizer, grads: list[torch.Tensor]) -> None:
    """Step ``optimizer`` with ``grads`` as the parameters' gradients."""
    optimizer.zero_grad()
    for p, g in zip(trainable(model), grads):
        p.grad = g.detach().clone()
    optimizer.step()


def scaled_to(direction: list[torch.Tensor], radius: float) -> list[torch.Tensor]:
    """``direction`` rescaled to global norm ``radius`` (SAM's e = rho g / |g|)."""
    norm = torch.sqrt(sum((d**2).sum() for d in direction)).clamp_min(1e-12)
    return [radius * d / norm for d in direction]


@contextmanager
def shifted(model: nn.Module, shift: list[torch.Tensor]):
    """The model at w + shift inside the block, restored to w exactly after it."""
    parameters = trainable(model)
    originals = [p.detach().clone() for p in parameters]
    with torch.no_grad():
        for p, s in zip(parameters, shift):
            p.add_(s)
    try:
        yield
    finally:
        with torch.no_grad():
            for p, original in zip(parameters, originals):
                p.copy_(original)
