"""Unicom's sampling: every positive prototype stays in the subset with labels remapped onto it, the
negatives are the requested share, dimensions are a shared random subset; the head's loss against a
hand computation; prototypes learn faster."""

from __future__ import annotations

import pytest
import torch
import torch.nn.functional as F

from facechain.lab.rts import arcface_logits
from facechain.lab.unicom import UnicomHead, sampled_classes, sampled_dimensions


def test_partial_classes_keep_every_positive_and_a_share_of_negatives():
    torch.manual_seed(0)
    for _ in range(20):
        labels = torch.randint(0, 100, (16,))
        kept, remapped = sampled_classes(labels, 100, 0.2)
        positives = set(labels.tolist())
        assert positives <= set(kept.tolist())
        assert len(kept) == len(positives) + round(0.2 * (100 - len(positives)))
        assert len(set(kept.tolist())) == len(kept)
        assert torch.equal(kept[remapped], labels)  # remapped labels point at the right prototypes
    kept, remapped = sampled_classes(labels, 100, 1.0)
    assert torch.equal(kept, torch.arange(100)) and torch.equal(remapped, labels)


def test_negative_subsets_vary_between_steps():
    torch.manual_seed(0)
    labels = torch.tensor([3, 5])
    draws = {tuple(sorted(sampled_classes(labels, 50, 0.2)[0].tolist())) for _ in range(10)}
    assert len(draws) > 5


def test_partial_dimensions_are_distinct_and_sized():
    torch.manual_seed(0)
    dims = sampled_dimensions(32, 0.5)
    assert len(dims) == 16 and len(set(dims.tolist())) == 16 and dims.max() < 32
    assert torch.equal(sampled_dimensions(8, 1.0), torch.arange(8))


def test_head_loss_is_arcface_over_the_sampled_prototypes_and_dimensions():
    torch.manual_seed(0)
    head = UnicomHead(8, 20, class_ratio=0.3, dim_ratio=0.5)
    embeddings, labels = torch.randn(6, 8), torch.tensor([1, 1, 4, 7, 7, 9])
    torch.manual_seed(1)
    loss = head(embeddings, labels)
    torch.manual_seed(1)
    kept, remapped = sampled_classes(labels, 20, 0.3)
    dims = sampled_dimensions(8, 0.5)
    logits = arcface_logits(
        F.normalize(embeddings[:, dims], dim=1), head.prototypes[kept][:, dims], remapped, 32.0, 0.3
    )
    assert loss.item() == pytest.approx(F.cross_entropy(logits, remapped).item())
    loss.backward()
    untouched = torch.ones(20, dtype=torch.bool)
    untouched[kept] = False
    assert head.prototypes.grad[untouched].abs().sum() == 0  # left-out prototypes get no push


def test_prototypes_train_ten_times_faster():
    head = UnicomHead(4, 5)
    network = torch.nn.Linear(3, 4)
    groups = head.parameter_groups(network, 1e-3)
    assert groups[0]["lr"] == 1e-3 and groups[1]["lr"] == pytest.approx(1e-2)
    assert groups[1]["params"][0] is head.prototypes
