"""DAL's schedule and loss against hand computations."""

from __future__ import annotations

import math

import pytest
import torch
import torch.nn.functional as F

from facechain.lab.dal import dal_loss, dal_schedule, generalized_cross_entropy


def test_schedule_moves_q_linearly_and_starts_the_entropy_term_when_q_crosses_one():
    assert dal_schedule(0.0) == (0.6, 0.0)
    assert dal_schedule(1.0) == pytest.approx((1.5, 1.0))
    crossing = 0.4 / 0.9
    assert dal_schedule(crossing)[0] == pytest.approx(1.0) and dal_schedule(crossing)[1] == pytest.approx(0.0)
    assert dal_schedule(crossing - 0.1)[1] == 0.0
    assert dal_schedule((1 + crossing) / 2)[1] == pytest.approx(0.5)


def test_loss_matches_its_formula():
    logits, labels = torch.tensor([[2.0, 0.0, -1.0], [0.0, 0.0, 0.0]]), torch.tensor([0, 2])
    p = logits.softmax(1)
    assert generalized_cross_entropy(logits, labels, 1.0) == pytest.approx(float((1 - p[[0, 1], [0, 2]]).mean()))
    assert generalized_cross_entropy(logits, labels, 1e-4) == pytest.approx(
        float(F.cross_entropy(logits, labels)), rel=1e-3
    )  # q -> 0 is CE
    progress = 0.9
    q, weight = dal_schedule(progress)
    entropy = -(p * p.log()).sum(1)
    expected = ((1 - p[[0, 1], [0, 2]] ** q) / q).mean() + weight * (entropy / (q * math.log(3))).mean()
    assert dal_loss(logits, labels, progress) == pytest.approx(float(expected))
    uniform, sure = torch.zeros(1, 3), torch.tensor([[5.0, 0.0, 0.0]])
    late = dal_loss(uniform, torch.tensor([1]), 1.0) - generalized_cross_entropy(uniform, torch.tensor([1]), 1.5)
    assert late > dal_loss(sure, torch.tensor([1]), 1.0) - generalized_cross_entropy(sure, torch.tensor([1]), 1.5)
