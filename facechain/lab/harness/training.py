"""One training loop for every arm of every experiment, so arms differ only in their step.

A step receives the model, its optimizer, a batch (the tensors the experiment passed, sliced to the
batch; pass ``np.arange(n)`` among them when the method needs item indices) and the share of training
done in [0, 1), and makes its own update: a plain loss is wrapped by ``loss_step``, while methods that
perturb weights or take two gradients (SAM-style, outlier exposure with a perturbation) write the
step out. Everything random is drawn from the seed.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence

import numpy as np
import torch
from torch import nn

Step = Callable[[nn.Module, torch.optim.Optimizer, tuple, float], float]


def loss_step(loss: Callable[[nn.Module, tuple, float], torch.Tensor]) -> Step:
    """A step that minimises ``loss(model, batch, progress)`` with one optimizer update."""

    def step(model: nn.Module, optimizer: torch.optim.Optimizer, batch: tuple, progress: float) -> float:
        value = loss(model, batch, progress)
        optimizer.zero_grad()
        value.backward()
        optimizer.step()
        return float(value.detach())

    return step


def cross_entropy(model: nn.Module, batch: tuple, progress: float) -> torch.Tensor:
    """The baseline loss: batch = (x, y, ...)."""
    return nn.functional.cross_entropy(model(batch[0]), batch[1])


def fit(
    model: nn.Module,
    step: Step,
    arrays: Sequence[np.ndarray],
    epochs: int,
    batch_size: int = 64,
    learning_rate: float = 1e-3,
    seed: int = 0,
    weight_decay: float = 0.0,
    optimizer: torch.optim.Optimizer | None = None,
    on_epoch: Callable[[int, nn.Module], None] | None = None,
) -> list[float]:
    """Train ``model`` in place over shuffled mini-batches of ``arrays``; returns the mean loss per
    epoch. ``on_epoch(epoch, model)`` runs before each epoch (re-splitting data, updating a threshold)."""
    torch.manual_seed(seed)
    rng = np.random.default_rng(seed)
    tensors = [torch.as_tensor(array) for array in arrays]
    count = len(tensors[0])
    optimizer = optimizer or torch.optim.Adam(model.parameters(), lr=learning_rate, weight_decay=weight_decay)
    history = []
    for epoch in range(epochs):
        if on_epoch:
            on_epoch(epoch, model)
        model.train()
        order = torch.from_numpy(rng.permutation(count))
        losses = []
        for start in range(0, count, batch_size):
            index = order[start : start + batch_size]
            losses.append(step(model, optimizer, tuple(t[index] for t in tensors), (epoch + start / count) / epochs))
        history.append(float(np.mean(losses)))
    model.eval()
    return history


@torch.no_grad()
def outputs(model: Callable[[torch.Tensor], torch.Tensor], x: np.ndarray, batch: int = 1024) -> np.ndarray:
    """The model's outputs (logits, embeddings) for ``x``, in eval mode, as numpy."""
    if isinstance(model, nn.Module):
        model.eval()
    return torch.cat([model(torch.as_tensor(x[i : i + batch])) for i in range(0, len(x), batch)]).numpy()
