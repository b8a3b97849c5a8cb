"""Dash's threshold schedule, its selection and targets against hand computations, FixMatch's rule,
the augmentations."""

from __future__ import annotations

import math

import pytest
import torch

from facechain.lab.dash import DashThreshold, dash_unlabelled_loss, fixmatch_unlabelled_loss, self_label_loss


def test_threshold_follows_its_schedule_down_to_the_floor():
    schedule = DashThreshold(rho_hat=1.0)
    assert schedule(1) == pytest.approx(1.0001)
    assert schedule(2) == pytest.approx(1.0001 / 1.27)
    assert schedule(5) == pytest.approx(1.0001 * 1.27**-4)
    values = [schedule(t) for t in range(1, 40)]
    assert all(a >= b for a, b in zip(values, values[1:]))
    first_floor = next(t for t in range(1, 40) if schedule.at_floor(t))
    assert first_floor == 1 + math.ceil(math.log(1.0001 / 0.05) / math.log(1.27))
    assert values[-1] == 0.05 and not schedule.at_floor(first_floor - 1)
    with pytest.raises(ValueError, match="from 1"):
        schedule(0)


def test_dash_keeps_examples_whose_weak_loss_is_below_the_threshold():
    weak = torch.tensor([[4.0, 0.0, 0.0], [0.5, 0.0, 0.0], [0.0, 0.0, 0.0]])
    losses = self_label_loss(weak)
    assert losses[2] == pytest.approx(math.log(3)) and losses[0] < losses[1] < losses[2]
    strong = torch.tensor([[1.0, 2.0, 0.0], [0.0, 1.0, 0.0], [2.0, 0.0, 0.0]], requires_grad=True)
    loss, kept = dash_unlabelled_loss(weak, strong, threshold=float(losses[1]) + 1e-4)
    assert kept.tolist() == [True, True, False]
    sharpened = (weak[:2] / 0.5).softmax(1)
    expected = -(sharpened * strong[:2].log_softmax(1)).sum(1).sum() / 3
    assert loss.item() == pytest.approx(expected.item())
    hard, _ = dash_unlabelled_loss(weak, strong, threshold=float(losses[1]) + 1e-4, hard=True)
    one_hot = torch.nn.functional.cross_entropy(strong[:2], torch.tensor([0, 0]), reduction="sum") / 3
    assert hard.item() == pytest.approx(one_hot.item())
    loss.backward()
    assert strong.grad[2].abs().sum() == 0 and strong.grad[0].abs().sum() > 0


def test_fixmatch_keeps_only_confident_weak_views():
    weak = torch.tensor([[5.0, 0.0], [1.0, 0.0]])
    loss, kept = fixmatch_unlabelled_loss(weak, torch.zeros(2, 2))
    assert kept.tolist() == [True, False]  # softmax(5, 0) = 0.993, softmax(1, 0) = 0.73
    assert float(loss) == pytest.approx(math.log(2) / 2)


def test_views_keep_the_digit_and_strong_views_differ_more():
    from facechain.lab.harness.data import digits
    from facechain.lab.harness.views import shifted, strongly_augmented

    x = torch.as_tensor(digits(0).x_train[:200])
    torch.manual_seed(0)
    weak, strong = shifted(x), strongly_augmented(x)
    assert weak.shape == strong.shape == x.shape
    assert (weak.sum(1) <= x.sum(1) + 1e-5).all()  # a shift only drops the border it pushes out
    assert (weak - x).abs().mean() < (strong - x).abs().mean()
    assert (weak != x).any(1).float().mean() > 0.6  # 8 of 9 offsets move the image
