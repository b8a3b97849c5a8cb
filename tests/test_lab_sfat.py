"""SFAT's pieces: PGD stays in its ball and raises the loss, the slack weights against the formula,
aggregation as a weighted average, non-IID shards."""

from __future__ import annotations

import numpy as np
import pytest
import torch
import torch.nn.functional as F
from torch import nn

from facechain.lab.sfat import aggregate, fedavg_weights, pgd_attack, robust_accuracy, slack_weights


def trained_model():
    from facechain.lab.harness.data import digits
    from facechain.lab.harness.models import Classifier
    from facechain.lab.harness.training import cross_entropy, fit, loss_step

    split = digits(0)
    model = Classifier()
    fit(model, loss_step(cross_entropy), [split.x_train, split.y_train], epochs=15, seed=0)
    return model, torch.as_tensor(split.x_test[:200]), torch.as_tensor(split.y_test[:200])


def test_pgd_stays_in_the_ball_and_the_image_range_and_hurts_more_than_noise():
    model, x, y = trained_model()
    torch.manual_seed(0)
    adversarial = pgd_attack(model, x, y, eps=0.1, steps=10)
    assert (adversarial - x).abs().max() <= 0.1 + 1e-6 and adversarial.min() >= 0 and adversarial.max() <= 1
    noise = (x + 0.1 * torch.randn_like(x).sign()).clamp(0, 1)
    with torch.no_grad():
        losses = [F.cross_entropy(model(v), y).item() for v in (x, noise, adversarial)]
    assert losses[2] > losses[1] and losses[2] > 2 * losses[0]
    assert robust_accuracy(model, x, y, 0.1) < float((model(x).argmax(1) == y).float().mean())
    model.train()
    pgd_attack(model, x, y, 0.1, 2)
    assert model.training  # the attack runs in eval mode and gives the mode back


def test_slack_weights_raise_the_lowest_loss_client():
    sizes, losses = np.array([100, 100, 200]), np.array([0.9, 0.4, 0.7])
    weights = slack_weights(sizes, losses, alpha=0.15)
    factor = 1.15 / 0.85
    assert weights.sum() == pytest.approx(1.0)
    assert weights == pytest.approx(np.array([100, 100 * factor, 200]) / (400 + 100 * (factor - 1)))
    assert slack_weights(sizes, losses, alpha=0.0) == pytest.approx(fedavg_weights(sizes))
    two = slack_weights(sizes, losses, alpha=0.15, lowest=2)
    assert two[1] / two[0] == pytest.approx(factor) and two[2] / two[0] == pytest.approx(2 * factor)


def test_aggregate_is_the_weighted_average_of_states():
    a, b = nn.Linear(2, 1), nn.Linear(2, 1)
    merged = aggregate([a.state_dict(), b.state_dict()], np.array([0.25, 0.75]))
    assert torch.allclose(merged["weight"], 0.25 * a.weight + 0.75 * b.weight)
    assert torch.allclose(merged["bias"], 0.25 * a.bias + 0.75 * b.bias)


def test_label_shards_are_non_iid_and_cover_the_data_once():
    from facechain.lab.harness.data import digits
    from facechain.lab.sfat.experiment import label_shards

    y = digits(0).y_train
    parts = label_shards(y, np.random.default_rng(0))
    assert len(parts) == 5 and sorted(np.concatenate(parts).tolist()) == list(range(len(y)))
    assert all(len(np.unique(y[p])) <= 4 for p in parts)  # two label-sorted shards: a few digits each


@pytest.mark.slow
def test_clients_as_processes_give_exactly_the_simulated_result():
    """torch.distributed (gloo, CPU): client processes, each training on its own shard only and
    gathering the others' states, end where the in-process simulation ends. Two clients and two rounds
    (the second aggregated with slack weights) keep the process start-up within the test's time."""
    from facechain.lab.harness.data import digits
    from facechain.lab.sfat.experiment import federated_adversarial_training, federated_in_processes, label_shards

    split = digits(0)
    parts = label_shards(split.y_train, np.random.default_rng(0))[:2]
    simulated = federated_adversarial_training(split, parts, True, rounds=2, scored=1, seed=0)
    assert simulated["natural_accuracy"] > 0.15  # past chance, so the weights matter
    assert federated_in_processes(split, parts, True, rounds=2, scored=1, seed=0) == simulated
