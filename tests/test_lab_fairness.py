"""The fairness penalty against hand computations, its gradient direction, the head/tail split, the
logit adjustment."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from facechain.lab.fairness import (
    fair_loss,
    fairness_penalty,
    head_tail_groups,
    label_confidence,
    logit_adjusted_cross_entropy,
)


def test_penalty_sums_each_groups_gap_to_the_batch_mean():
    logits = torch.log(torch.tensor([[0.9, 0.1], [0.7, 0.3], [0.4, 0.6], [0.8, 0.2]]))
    labels, groups = torch.tensor([0, 0, 0, 1]), torch.tensor([0, 0, 1, 1])
    confidence = label_confidence(logits, labels)
    assert confidence.tolist() == pytest.approx([0.9, 0.7, 0.4, 0.2])
    overall = 0.55
    head, tail = 0.8 - overall, 0.3 - overall
    assert fairness_penalty(logits, labels, groups).item() == pytest.approx(abs(head) + abs(tail))
    assert fairness_penalty(logits, labels, groups, one_sided=True).item() == pytest.approx(-tail)
    base = torch.tensor(1.5)
    assert fair_loss(base, logits, labels, groups, weight=2.0).item() == pytest.approx(1.5 + 2 * 0.5)
    equal = torch.log(torch.tensor([[0.7, 0.3]] * 4))
    assert fairness_penalty(equal, torch.zeros(4, dtype=torch.long), groups).item() == pytest.approx(0.0, abs=1e-7)


def test_penalty_gradient_raises_the_weak_group_and_lowers_the_strong_one():
    logits = torch.tensor([[3.0, 0.0], [3.0, 0.0], [0.0, 0.0], [0.0, 0.0]], requires_grad=True)
    fairness_penalty(logits, torch.zeros(4, dtype=torch.long), torch.tensor([0, 0, 1, 1])).backward()
    assert (logits.grad[2:, 0] < 0).all()  # descending raises the weak group's label logit
    assert (logits.grad[:2, 0] > 0).all()


def test_head_tail_split_by_label_frequency():
    labels = np.array([0] * 10 + [1] * 8 + [2] * 3 + [3] * 1)
    assert head_tail_groups(labels, 4).tolist() == [0, 0, 1, 1]


def test_logit_adjustment_shifts_by_the_log_prior():
    logits, labels = torch.zeros(2, 2), torch.tensor([0, 1])
    log_prior = torch.log(torch.tensor([0.8, 0.2]))
    expected = -(np.log(0.8) + np.log(0.2)) / 2  # softmax of the log prior itself
    assert logit_adjusted_cross_entropy(logits, labels, log_prior).item() == pytest.approx(expected, rel=1e-6)
