"""BiCro's pieces against hand computations: the soft margin, the hinge with hardest negatives, the
mixture's clean probability, the consistency ratio and soft labels ranking planted noisy pairs low."""

from __future__ import annotations

import numpy as np
import pytest
import torch
import torch.nn.functional as F

from facechain.lab.bicro import clean_probability, consistency, hinge_triplet, soft_labels, soft_margin, warmup_loss


def test_soft_margin_spans_zero_to_alpha():
    margins = soft_margin(torch.tensor([0.0, 0.5, 1.0]))
    assert margins[0].item() == 0 and margins[2].item() == pytest.approx(0.2)
    assert margins[1].item() == pytest.approx(0.2 * (10**0.5 - 1) / 9)


def test_hinge_uses_the_hardest_negative_in_both_directions():
    images = F.normalize(torch.tensor([[1.0, 0.0], [0.0, 1.0], [1.0, 1.0]]), dim=1)
    texts = F.normalize(torch.tensor([[1.0, 0.1], [0.2, 1.0], [-1.0, 1.0]]), dim=1)
    s = images @ texts.T
    margins = torch.tensor([0.2, 0.2, 0.0])
    losses = hinge_triplet(images, texts, margins)
    for i in range(3):
        others = [j for j in range(3) if j != i]
        expected = max(0, margins[i] - s[i, i] + s[i, others].max()) + max(0, margins[i] - s[i, i] + s[others, i].max())
        assert losses[i].item() == pytest.approx(float(expected))
    assert warmup_loss(images, texts, keep=0.34).item() == pytest.approx(
        hinge_triplet(images, texts, torch.full((3,), 0.2)).min().item()
    )


def test_mixture_gives_low_losses_a_high_clean_probability():
    rng = np.random.default_rng(0)
    losses = np.concatenate([rng.normal(0.1, 0.03, 300), rng.normal(0.8, 0.1, 200)])
    probability = clean_probability(losses)
    assert probability[:300].mean() > 0.9 and probability[300:].mean() < 0.1


def test_consistency_is_one_when_similarities_agree_and_symmetric_in_the_ratio():
    anchors_a, anchors_b = torch.eye(2), torch.eye(2)
    query_a = F.normalize(torch.tensor([[1.0, 0.2], [1.0, 0.2]]), dim=1)
    query_b = torch.stack([query_a[0], F.normalize(torch.tensor([0.5, 1.0]), dim=0)])
    c = consistency(query_a, query_b, anchors_a, anchors_b)
    assert c[0].item() == pytest.approx(1.0)
    ratio = query_a[1, 0] / query_b[1, 0]
    assert c[1].item() == pytest.approx(float(min(ratio, 1 / ratio))) and c[1] < 1


def test_soft_labels_rank_planted_noisy_pairs_low():
    """Pairs whose two views come from the same point (clean) vs from another (shuffled): y* of the
    clean ones should be higher, clean-split pairs sit in [0.5, 1], noisy-split ones in [0, 1]."""
    rng = np.random.default_rng(0)
    points = F.normalize(torch.as_tensor(rng.normal(size=(200, 8)), dtype=torch.float32), dim=1)
    images = F.normalize(points + 0.05 * torch.randn(200, 8), dim=1)
    texts = F.normalize(points + 0.05 * torch.randn(200, 8), dim=1)
    noisy = np.zeros(200, dtype=bool)
    noisy[:60] = True
    texts[:60] = texts[torch.roll(torch.arange(60), 1)]
    probability = np.where(noisy, 0.2, 0.9)
    labels = soft_labels(images, texts, probability).numpy()
    assert labels[~noisy].min() >= 0.5 and labels[noisy].max() <= 1
    assert labels[~noisy].mean() > labels[noisy].mean() + 0.3
