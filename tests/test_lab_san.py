"""SAN's all-in-one losses against hand computations, the unknown decision, the soft contrastive
loss preferring aligned views, the H-score, the OVANet baseline's loss."""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch

from facechain.lab.san import (
    known_unknown,
    open_set_entropy,
    open_set_loss,
    open_set_predictions,
    soft_contrastive_loss,
)


def test_open_set_loss_matches_its_terms():
    logits = torch.tensor([[2.0, 0.0, -1.0, 0.5, 1.0, 0.0]])  # K = 3: known slots, then unknown slots
    p = logits.softmax(1)[0]
    known, unknown = p[:3], p[3:]
    positive = -math.log(known[0])
    negative = max(-math.log(unknown[k]) for k in (1, 2))  # the unknown slots of the one 2K softmax
    connection = -math.log(1 / (1 + math.exp(-(known.max() - unknown.max()))))
    assert open_set_loss(logits, torch.tensor([0])).item() == pytest.approx(
        positive + negative + 1.5 * connection, rel=1e-5
    )


def test_negative_term_picks_the_hardest_other_class():
    easy = torch.tensor([[3.0, -3.0, -3.0, -3.0, 3.0, 3.0]])
    hard = torch.tensor([[3.0, 2.0, -3.0, -3.0, -2.0, 3.0]])  # class 1's known slot beats its unknown slot
    assert open_set_loss(hard, torch.tensor([0])) > open_set_loss(easy, torch.tensor([0]))


def test_unknown_when_the_best_unknown_slot_wins():
    logits = torch.tensor([[4.0, 0.0, 0.0, 0.0], [0.0, 0.0, 0.0, 4.0], [1.0, 0.0, 0.0, 1.0]])
    assert open_set_predictions(logits).tolist() == [0, -1, -1]  # a tie counts as unknown
    known, unknown = known_unknown(logits)
    assert torch.allclose(known.sum(1) + unknown.sum(1), torch.ones(3))


def test_open_set_entropy_is_high_when_undecided():
    undecided, decided = torch.zeros(1, 4), torch.tensor([[5.0, -5.0, -5.0, 5.0]])
    assert open_set_entropy(undecided).item() == pytest.approx(math.log(2))
    assert open_set_entropy(decided).item() < 0.05


def test_soft_contrastive_loss_prefers_views_that_land_together():
    torch.manual_seed(0)
    features = torch.randn(16, 8)
    together = torch.cat([features[:, :4], features[:, :4] + 0.01 * torch.randn(16, 4)])
    apart = torch.cat([features[:, :4], features[torch.randperm(16), :4]])
    assert soft_contrastive_loss(features, together) < soft_contrastive_loss(features, apart)


def test_h_score_counts_rejected_knowns_as_wrong():
    from facechain.lab.san.experiment import h_score

    labels = np.array([0, 1, 2, 7, 8, 9])
    scores = h_score(np.array([0, -1, 2, -1, -1, 3]), labels)
    assert scores["known_accuracy"] == pytest.approx(2 / 3) and scores["unknown_recall"] == pytest.approx(2 / 3)
    assert scores["h_score"] == pytest.approx(2 / 3)
    assert h_score(np.array([0, 1, 2, 0, 0, 0]), labels)["h_score"] == 0


def test_one_vs_all_loss_of_the_baseline():
    from facechain.lab.san.experiment import one_vs_all_loss

    logits = torch.tensor([[2.0, -1.0, 0.0, 0.0, 0.0, 0.0]])  # positive slots, then negative slots
    expected = -math.log(1 / (1 + math.exp(-2.0))) + max(-math.log(1 / (1 + math.exp(-1.0))), math.log(2))
    assert one_vs_all_loss(logits, torch.tensor([0])).item() == pytest.approx(expected, rel=1e-5)
