"""DOE's pieces: the OE loss against its definition, the perturbation's size and EMA, the update that
applies the perturbed OE gradient at the original weights."""

from __future__ import annotations

import math

import pytest
import torch
import torch.nn.functional as F
from torch import nn

from facechain.lab.doe import ImplicitOutlierTransform, max_logit, outlier_exposure_loss
from facechain.lab.weight_perturbation import gradient, shifted


def test_oe_loss_is_cross_entropy_to_the_uniform_and_zero_only_when_flat():
    logits = torch.tensor([[2.0, 0.0, -1.0], [0.5, 0.5, 0.5]])
    uniform = torch.full((2, 3), 1 / 3)
    expected = -(uniform * logits.log_softmax(1)).sum(1).mean()  # cross-entropy to the uniform
    assert outlier_exposure_loss(logits).item() == pytest.approx(expected.item())
    assert outlier_exposure_loss(logits[1:]).item() == pytest.approx(math.log(3))  # its minimum
    assert max_logit(logits).tolist() == [2.0, 0.5]


def problem():
    torch.manual_seed(0)
    model = nn.Sequential(nn.Linear(4, 8), nn.ReLU(), nn.Linear(8, 3))
    return model, torch.randn(16, 4), torch.randint(0, 3, (16,)), torch.randn(16, 4) + 2


def test_perturbation_raises_the_oe_loss_with_the_requested_relative_size():
    model, _, _, x_out = problem()
    transform = ImplicitOutlierTransform(model)
    shift = transform.perturbation(model, x_out, gamma=0.05)
    for p, s in zip(model.parameters(), shift):
        assert s.norm().item() == pytest.approx(0.05 * p.norm().item(), rel=1e-5)
    before = outlier_exposure_loss(model(x_out)).item()
    with shifted(model, shift):
        assert outlier_exposure_loss(model(x_out)).item() > before  # an ascent direction


def test_direction_is_an_ema_of_normalised_ascent_directions():
    model, _, _, x_out = problem()
    transform = ImplicitOutlierTransform(model, ema=0.6)
    transform.perturbation(model, x_out, 0.01)
    first = [d.clone() for d in transform.direction]
    assert all(d.norm().item() == pytest.approx(0.4, rel=1e-5) for d in first)  # 0.6 * 0 + 0.4 * unit
    transform.perturbation(model, x_out, 0.01)  # same weights: same unit direction again
    assert all(torch.allclose(d, f * (0.6 + 1)) for d, f in zip(transform.direction, first))


def test_step_applies_the_perturbed_oe_gradient_plus_ce_at_the_original_weights():
    model, x, y, x_out = problem()
    probe = ImplicitOutlierTransform(model, gammas=(0.02,))
    w = [p.detach().clone() for p in model.parameters()]
    shift = ImplicitOutlierTransform(model).perturbation(model, x_out, 0.02)  # fresh EMA: same as probe's first
    with shifted(model, shift):
        oe = gradient(model, 0.5 * outlier_exposure_loss(model(x_out)))
    ce = gradient(model, F.cross_entropy(model(x), y))
    probe.step(model, torch.optim.SGD(model.parameters(), lr=0.1), x, y, x_out)
    for p, w0, a, b in zip(model.parameters(), w, oe, ce):
        assert torch.allclose(p, w0 - 0.1 * (a + b), atol=1e-6)
