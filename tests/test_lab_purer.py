"""PURER's pieces: inversion matches the teacher without touching it, first-order MAML's update is the
adapted query gradient, episodes are relabelled and disjoint, the curriculum hardens only the
episode's query images and only after a stall."""

from __future__ import annotations

import copy

import numpy as np
import pytest
import torch
import torch.nn.functional as F
from torch import nn

from facechain.lab.purer import Curriculum, batchnorm_gap, episode, harden, invert, maml_step, total_variation


def teacher() -> nn.Sequential:
    torch.manual_seed(0)
    return nn.Sequential(nn.Linear(64, 16), nn.BatchNorm1d(16), nn.ReLU(), nn.Linear(16, 2)).eval()


def test_total_variation_and_batchnorm_gap():
    assert total_variation(torch.full((2, 64), 0.3)) == 0
    stripes = torch.tensor([0.0, 1.0] * 4).repeat(8)[None]  # columns alternate: 7 jumps of 1 per row
    assert total_variation(stripes) == pytest.approx(1.0)  # every horizontal step is 1, every vertical 0
    model = teacher()
    x = torch.rand(32, 64)
    with torch.no_grad():
        features = model[0](x)
        model[1].running_mean.copy_(features.mean(0))
        model[1].running_var.copy_(features.var(0, unbiased=False))
    assert batchnorm_gap(model, x)[1] < 1e-10 and batchnorm_gap(model, x + 1)[1] > 1e-3


def test_inversion_reaches_the_labels_and_leaves_the_teacher_alone():
    from facechain.lab.harness.data import class_subset, digits
    from facechain.lab.harness.training import cross_entropy, fit, loss_step

    model = teacher()
    split = digits(0)
    fit(
        model,
        loss_step(cross_entropy),
        class_subset(split.x_train, split.y_train, (0, 1)),
        epochs=10,
        learning_rate=3e-3,
    )
    before = copy.deepcopy(model.state_dict())
    labels = torch.tensor([0, 1] * 5)
    images = invert(model, labels, steps=100, generator=torch.Generator().manual_seed(0))
    assert images.min() >= 0 and images.max() <= 1
    assert torch.equal(model(images).argmax(1), labels)
    assert all(torch.equal(before[k], v) for k, v in model.state_dict().items())


def test_first_order_maml_steps_along_the_adapted_query_gradient():
    model = nn.Linear(4, 2)
    task = (torch.randn(2, 4), torch.tensor([0, 1]), torch.randn(6, 4), torch.tensor([0, 1] * 3))
    adapted = copy.deepcopy(model)
    inner = torch.optim.SGD(adapted.parameters(), lr=0.1)
    F.cross_entropy(adapted(task[0]), task[1]).backward()
    inner.step()
    inner.zero_grad()
    F.cross_entropy(adapted(task[2]), task[3]).backward()
    expected = [p.detach() - 0.5 * a.grad for p, a in zip(model.parameters(), adapted.parameters())]
    maml_step(model, torch.optim.SGD(model.parameters(), lr=0.5), [task], inner_steps=1, inner_lr=0.1)
    assert all(torch.allclose(p, e, atol=1e-6) for p, e in zip(model.parameters(), expected))


def test_episodes_and_the_curriculum():
    rng = np.random.default_rng(0)
    x, y = torch.rand(60, 64), torch.arange(6).repeat_interleave(10)
    (support_x, support_y, query_x, query_y), support_index, query_index = episode(x, y, 2, 1, 4, rng)
    assert support_y.tolist() == [0, 1] and query_y.tolist() == [0] * 4 + [1] * 4
    assert not set(support_index) & set(query_index) and len(set(y[query_index].tolist())) == 2
    assert torch.equal(support_x, x[support_index])
    model = nn.Sequential(nn.Linear(64, 2))
    task = (support_x, support_y, query_x, query_y)
    hardened = harden(model, x, task, query_index, step=0.05)
    untouched = np.setdiff1d(np.arange(60), query_index)
    assert torch.equal(hardened[untouched], x[untouched]) and not torch.equal(hardened[query_index], x[query_index])
    from facechain.lab.purer import adapt

    learner = adapt(model, support_x, support_y)
    with torch.no_grad():
        assert F.cross_entropy(learner(hardened[query_index]), query_y) > F.cross_entropy(learner(query_x), query_y)
    curriculum = Curriculum(patience=2, tolerance=0.01)
    assert [curriculum.stalled(a) for a in (0.5, 0.6, 0.6, 0.605, 0.7, 0.7, 0.7)] == [
        False,
        False,
        False,
        True,
        False,
        False,
        True,
    ]
