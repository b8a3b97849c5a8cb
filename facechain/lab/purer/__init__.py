"""PURER: data-free meta-learning from pre-trained models (CVPR 2023).

No data is given, only teachers trained on small tasks. PURER *inverts* a pool of synthetic inputs
from the teachers, x* = argmin_x CE(teacher(x), y) + a_tv TV(x) + a_bn sum_l (|mu_l(x) - mu_l|^2 +
|sigma_l^2(x) - sigma_l^2|^2) (the teacher's BatchNorm running statistics stand in for its training
data), then *meta-trains* a learner with MAML on pseudo-episodes drawn from the pool. Its *episode
curriculum* makes the pool harder when meta-training accuracy stalls: an adversarial step on the pool
images raises the adapted learner's query loss, after which a few inversion steps keep each image its
teacher's class. (The paper's meta-test calibration of the inner loop, ICFIL, is not implemented.)

MAML here is first-order: the inner loop adapts a copy with SGD on the support set; the gradient of
the query loss at the adapted weights updates the initialisation.
"""

from __future__ import annotations

import copy
from collections.abc import Callable

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

SIDE = 8


def total_variation(x: torch.Tensor) -> torch.Tensor:
    """Mean absolute difference between neighbouring pixels of (n, 64) inputs seen as 8x8 images."""
    grid = x.reshape(len(x), SIDE, SIDE)
    return (grid[:, 1:] - grid[:, :-1]).abs().mean() + (grid[:, :, 1:] - grid[:, :, :-1]).abs().mean()


def batchnorm_gap(teacher: nn.Module, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """(teacher logits, sum over its BatchNorm layers of the squared gaps between the batch's
    statistics at that layer and the layer's running statistics)."""
    gaps = []

    def record(module, inputs, output):
        batch = inputs[0]
        gaps.append(
            (batch.mean(0) - module.running_mean).pow(2).sum()
            + (batch.var(0, unbiased=False) - module.running_var).pow(2).sum()
        )

    hooks = [m.register_forward_hook(record) for m in teacher.modules() if isinstance(m, nn.BatchNorm1d)]
    try:
        logits = teacher(x)
    finally:
        for hook in hooks:
            hook.remove()
    return logits, torch.stack(gaps).sum() if gaps else logits.new_zeros(())


def inversion_loss(
    teacher: nn.Module, x: torch.Tensor, labels: torch.Tensor, tv_weight: float = 0.05, bn_weight: float = 0.1
) -> torch.Tensor:
    logits, gap = batchnorm_gap(teacher, x)
    return F.cross_entropy(logits, labels) + tv_weight * total_variation(x) + bn_weight * gap


def invert(
    teacher: nn.Module,
    labels: torch.Tensor,
    steps: int = 200,
    learning_rate: float = 0.05,
    generator: torch.Generator | None = None,
    start: torch.Tensor | None = None,
) -> torch.Tensor:
    """Synthetic inputs in [0, 1] that ``teacher`` (in eval mode; its weights untouched) assigns to ``labels``."""
    teacher.eval()
    init = start if start is not None else torch.rand(len(labels), SIDE * SIDE, generator=generator)
    logit_x = torch.logit(init.clamp(0.02, 0.98)).requires_grad_(True)  # sigmoid keeps pixels in [0, 1]
    optimizer = torch.optim.Adam([logit_x], lr=learning_rate)
    for _ in range(steps):
        loss = inversion_loss(teacher, torch.sigmoid(logit_x), labels)
        (logit_x.grad,) = torch.autograd.grad(loss, [logit_x])  # the inputs' gradient only
        optimizer.step()
    return torch.sigmoid(logit_x).detach()


def adapt(
    model: nn.Module, support_x: torch.Tensor, support_y: torch.Tensor, steps: int = 5, learning_rate: float = 0.1
) -> nn.Module:
    """The inner loop: a copy of ``model`` after ``steps`` SGD steps on the support set."""
    learner = copy.deepcopy(model)
    learner.eval()  # BatchNorm keeps its running statistics: a 1-shot support set is too small to normalise by
    optimizer = torch.optim.SGD(learner.parameters(), lr=learning_rate)
    for _ in range(steps):
        loss = F.cross_entropy(learner(support_x), support_y)
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
    optimizer.zero_grad(set_to_none=True)  # the query gradient taken next must not include the support's
    return learner


Task = tuple[torch.Tensor, torch.Tensor, torch.Tensor, torch.Tensor]  # support x, y, query x, y


def maml_step(
    model: nn.Module, optimizer: torch.optim.Optimizer, tasks: list[Task], inner_steps: int = 5, inner_lr: float = 0.1
) -> float:
    """One first-order MAML update of ``model`` from a batch of tasks; returns the mean query accuracy."""
    optimizer.zero_grad()
    accuracies = []
    for support_x, support_y, query_x, query_y in tasks:
        learner = adapt(model, support_x, support_y, inner_steps, inner_lr)
        logits = learner(query_x)
        F.cross_entropy(logits, query_y).backward()
        for meta, adapted in zip(model.parameters(), learner.parameters()):
            meta.grad = adapted.grad / len(tasks) if meta.grad is None else meta.grad + adapted.grad / len(tasks)
        accuracies.append(float((logits.argmax(1) == query_y).float().mean()))
    optimizer.step()
    return float(np.mean(accuracies))


def episode(
    x: torch.Tensor, y: torch.Tensor, ways: int, shots: int, queries: int, rng: np.random.Generator
) -> tuple[Task, np.ndarray, np.ndarray]:
    """A ``ways``-way ``shots``-shot task from labelled items, labels renumbered 0..ways-1 in random
    order; also the items' indices in ``x`` (support, query) so a curriculum can change them."""
    classes = rng.choice(np.unique(y.numpy()), size=ways, replace=False)
    support, query = [], []
    for c in classes:
        members = rng.permutation(np.flatnonzero(y.numpy() == c))
        support.append(members[:shots])
        query.append(members[shots : shots + queries])
    support_index, query_index = np.concatenate(support), np.concatenate(query)
    relabel = torch.repeat_interleave(torch.arange(ways), torch.tensor([len(s) for s in support]))
    query_labels = torch.repeat_interleave(torch.arange(ways), torch.tensor([len(q) for q in query]))
    return (x[support_index], relabel, x[query_index], query_labels), support_index, query_index


def harden(
    model: nn.Module,
    pool: torch.Tensor,
    task: Task,
    query_index: np.ndarray,
    step: float = 0.05,
    inner_steps: int = 5,
    inner_lr: float = 0.1,
) -> torch.Tensor:
    """The curriculum's adversarial step: move a task's query images up the adapted learner's loss
    (one signed-gradient step, kept in [0, 1]); returns the new pool."""
    support_x, support_y, query_x, query_y = task
    learner = adapt(model, support_x, support_y, inner_steps, inner_lr)
    images = query_x.clone().requires_grad_(True)
    F.cross_entropy(learner(images), query_y).backward()
    pool = pool.clone()
    pool[query_index] = (images + step * images.grad.sign()).clamp(0, 1).detach()
    return pool


class Curriculum:
    """Decides when the pool gets harder: when the moving meta-training accuracy has not improved by
    ``tolerance`` for ``patience`` checks."""

    def __init__(self, patience: int = 3, tolerance: float = 0.01):
        self.patience, self.tolerance = patience, tolerance
        self.best, self.waited = -1.0, 0

    def stalled(self, accuracy: float) -> bool:
        if accuracy > self.best + self.tolerance:
            self.best, self.waited = accuracy, 0
            return False
        self.waited += 1
        if self.waited >= self.patience:
            self.waited = 0
            return True
        return False


def meta_test(
    model: nn.Module,
    tasks: list[Task],
    inner_steps: int = 10,
    inner_lr: float = 0.1,
    reset_head: Callable[[nn.Module], None] | None = None,
) -> float:
    """Mean query accuracy after adapting ``model`` to each task's support set."""
    accuracies = []
    for support_x, support_y, query_x, query_y in tasks:
        start = copy.deepcopy(model)
        if reset_head:
            reset_head(start)
        learner = adapt(start, support_x, support_y, inner_steps, inner_lr)
        learner.eval()
        with torch.no_grad():
            accuracies.append(float((learner(query_x).argmax(1) == query_y).float().mean()))
    return float(np.mean(accuracies))


__all__ = [
    "Curriculum",
    "SIDE",
    "adapt",
    "batchnorm_gap",
    "episode",
    "harden",
    "inversion_loss",
    "invert",
    "maml_step",
    "meta_test",
    "total_variation",
]
