"""GSLM's pieces on hand-made maps: CAMs, seeds with an ignore band, reactivation bounded by the
specific head; the shapes data."""

from __future__ import annotations

import numpy as np
import torch

from facechain.lab.gslm import IGNORE, class_activation_maps, pseudo_labels, reactivate
from facechain.lab.harness.data import shapes


def test_cams_are_weighted_feature_sums_normalised_per_map():
    features = torch.tensor([[[[1.0, 2.0]], [[0.0, 1.0]]]])  # (1, K=2, 1, 2)
    weights = torch.tensor([[1.0, 1.0], [-1.0, 0.5]])
    cams = class_activation_maps(features, weights)
    assert torch.allclose(cams[0, 0], torch.tensor([[1 / 3, 1.0]]))
    assert torch.allclose(cams[0, 1], torch.tensor([[0.0, 0.0]]))  # ReLU(-1, -1.5) = 0, no division by zero


def test_seeds_have_an_ignore_band_and_skip_absent_classes():
    activations = torch.tensor([[[[0.9, 0.3, 0.05]], [[0.95, 0.2, 0.1]]]])  # (1, C=2, 1, 3)
    assert pseudo_labels(activations, torch.tensor([[1.0, 1.0]])).tolist() == [[[2, IGNORE, 0]]]
    assert pseudo_labels(activations, torch.tensor([[1.0, 0.0]])).tolist() == [[[1, IGNORE, 0]]]


def test_reactivation_is_bounded_by_the_specific_head():
    activations = torch.tensor([[[[0.1, 0.1, 0.9]], [[0.1, 0.1, 0.1]]]])
    probabilities = torch.tensor([[[[0.0, 0.5, 0.0]], [[0.8, 0.5, 0.2]], [[0.2, 0.0, 0.8]]]])  # background first
    raised = reactivate(activations, probabilities, torch.tensor([[1.0, 0.0]]), confidence=0.7)
    assert torch.allclose(raised[0, 0], torch.tensor([[0.8, 0.1, 0.9]]))  # raised to p where confident, never lowered
    assert torch.equal(raised[0, 1], activations[0, 1])  # class 1 is absent: untouched though the head is sure


def test_shapes_masks_match_labels():
    images, labels, masks = shapes(20, np.random.default_rng(0))
    assert images.shape == (20, 1, 24, 24) and set(np.unique(labels)) <= {0.0, 1.0}
    for label, mask in zip(labels, masks):
        visible = set(np.unique(mask)) - {0}
        assert visible <= {c + 1 for c in np.flatnonzero(label)} and visible  # a covered shape may hide
    inside, outside = images[:, 0][masks > 0].mean(), images[:, 0][masks == 0].mean()
    assert inside > outside + 0.4
