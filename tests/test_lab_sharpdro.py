"""SharpDRO's pieces against hand computations: per-group losses, the adversarial weights moving to
the worst group, the perturbation undone, the g0 + g1 update; SAM and GroupDRO."""

from __future__ import annotations

import pytest
import torch
import torch.nn.functional as F
from torch import nn

from facechain.lab.sharpdro import GroupWeights, SharpDRO, group_dro_step, group_losses, sam_step
from facechain.lab.weight_perturbation import scaled_to, shifted


def test_group_losses_average_within_groups_and_mark_the_absent():
    losses, present = group_losses(torch.tensor([1.0, 3.0, 5.0]), torch.tensor([0, 0, 2]), 4)
    assert losses.tolist() == [2.0, 0.0, 5.0, 0.0] and present.tolist() == [True, False, True, False]


def test_weights_move_toward_the_worst_group_and_leave_absent_groups_alone():
    weights = GroupWeights(3, eta=0.5)
    for _ in range(20):
        q = weights.update(torch.tensor([0.1, 2.0, 0.0]), torch.tensor([True, True, False]))
    assert q.sum().item() == pytest.approx(1.0)
    assert q[1] > 0.9 and q[1] > q[0] and q[1] > q[2]
    assert q[2] / q[0] == pytest.approx(torch.exp(torch.tensor(-0.1 * 0.5 * 20)).item(), rel=1e-4)


def tiny_problem():
    torch.manual_seed(0)
    model = nn.Linear(3, 2)
    x, y, groups = torch.randn(8, 3), torch.tensor([0, 1] * 4), torch.tensor([0, 0, 0, 0, 0, 0, 1, 1])
    return model, (lambda m: F.cross_entropy(m(x), y, reduction="none")), groups


def flat_grad(model, loss):
    return torch.cat([g.ravel() for g in torch.autograd.grad(loss, list(model.parameters()))])


def test_perturbation_is_undone_exactly():
    model, loss_of, _ = tiny_problem()
    before = [p.detach().clone() for p in model.parameters()]
    direction = [torch.ones_like(p) for p in model.parameters()]
    with shifted(model, scaled_to(direction, 0.3)):
        moved = torch.cat([(p - b).ravel() for p, b in zip(model.parameters(), before)])
        assert moved.norm().item() == pytest.approx(0.3, rel=1e-5)
    assert all(torch.equal(p, b) for p, b in zip(model.parameters(), before))


def test_sharpdro_steps_with_g0_plus_the_weighted_gradient_at_the_perturbed_point():
    model, loss_of, groups = tiny_problem()
    rho, eta, lr = 0.05, 0.01, 0.1
    w = torch.cat([p.detach().ravel() for p in model.parameters()])
    g0 = flat_grad(model, loss_of(model).mean())
    losses, _ = group_losses(loss_of(model).detach(), groups, 2)
    q = torch.full((2,), 0.5) * torch.exp(eta * losses)
    q = q / q.sum()
    reference = nn.Linear(3, 2)
    with torch.no_grad():
        shifted = w + rho * g0 / g0.norm()
        reference.weight.copy_(shifted[:6].view(2, 3))
        reference.bias.copy_(shifted[6:])
    sharp, _ = group_losses(loss_of(reference), groups, 2)
    g1 = flat_grad(reference, (q * sharp).sum())

    method = SharpDRO(2, rho, eta)
    method.step(model, torch.optim.SGD(model.parameters(), lr=lr), loss_of, groups)
    after = torch.cat([p.detach().ravel() for p in model.parameters()])
    assert torch.allclose(after, w - lr * (g0 + g1), atol=1e-6)
    assert torch.allclose(method.weights.q, q)
    assert method.weights.q[int(losses.argmax())] > 0.5  # the worse group is weighted up


def test_sam_and_group_dro_steps():
    model, loss_of, groups = tiny_problem()
    w = torch.cat([p.detach().ravel() for p in model.parameters()])
    g0 = flat_grad(model, loss_of(model).mean())
    with shifted(model, scaled_to([g.view_as(p) for g, p in zip(torch.split(g0, [6, 2]), model.parameters())], 0.05)):
        expected = w - 0.1 * flat_grad(model, loss_of(model).mean())
    sam_step(model, torch.optim.SGD(model.parameters(), lr=0.1), loss_of)
    assert torch.allclose(torch.cat([p.detach().ravel() for p in model.parameters()]), expected, atol=1e-6)

    weights = GroupWeights(2, eta=1.0)
    losses, _ = group_losses(loss_of(model).detach(), groups, 2)
    group_dro_step(weights, model, torch.optim.SGD(model.parameters(), lr=0.1), loss_of, groups)
    assert (weights.q[int(losses.argmax())] > 0.5).item()
