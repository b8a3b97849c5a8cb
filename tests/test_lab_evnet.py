"""EVNet's explanation: gradient-times-input saliency by hand on a linear map, cluster averages, and the
deletion test (zeroing a cluster's most salient inputs moves the map more than zeroing random ones)
on a hand-made map (on a trained EVNet map of the digits: the quick experiment, in
test_lab_quick_experiments.py)."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from torch import nn

from facechain.lab.evnet import cluster_saliency, deletion_shift, deletion_test, input_saliency


def linear_map(weights) -> nn.Linear:
    layer = nn.Linear(len(weights[0]), 2, bias=False)
    with torch.no_grad():
        layer.weight.copy_(torch.tensor(weights, dtype=torch.float32))
    return layer


def test_saliency_is_gradient_times_input_by_hand():
    net = linear_map([[3.0, 0.0, 1.0], [4.0, 0.0, -1.0]])  # d position / d x_j = column j
    x = np.array([[1.0, 5.0, 2.0], [-0.5, 1.0, 0.0]], dtype=np.float32)
    expected = np.abs(x) * np.array([5.0, 0.0, np.sqrt(2.0)])
    assert np.allclose(input_saliency(net, x), expected, atol=1e-6)


def test_cluster_saliency_averages_members():
    saliency = np.array([[1.0, 0.0], [3.0, 2.0], [0.0, 5.0]])
    explanations = cluster_saliency(saliency, np.array([0, 0, 1]))
    assert np.allclose(explanations[0], [2.0, 1.0]) and np.allclose(explanations[1], [0.0, 5.0])


def test_deletion_of_ignored_inputs_moves_nothing():
    net = linear_map([[1.0, 0.0, 0.0, 2.0], [0.0, 0.0, 1.0, 0.0]])
    x = np.random.default_rng(0).random((10, 4)).astype(np.float32)
    assert deletion_shift(net, x, np.array([1])) == 0.0
    assert deletion_shift(net, x, np.array([3])) == pytest.approx(2 * x[:, 3].mean(), rel=1e-5)


def test_deleting_salient_inputs_beats_random_on_a_hand_made_map():
    """Cluster 0 is placed by inputs 0-1, cluster 1 by inputs 2-3; inputs 4-9 barely matter."""
    rng = np.random.default_rng(0)
    weights = np.full((2, 10), 0.05)
    weights[0, :2], weights[1, 2:4] = 3.0, 3.0
    x = rng.random((60, 10)).astype(np.float32)
    clusters = np.repeat([0, 1], 30)
    x[clusters == 0, 2:4] *= 0.1  # cluster 0 has little of inputs 2-3, cluster 1 of inputs 0-1
    x[clusters == 1, :2] *= 0.1
    shifts = deletion_test(linear_map(weights.tolist()), x, clusters, 2, rng)
    assert shifts["salient"] > 3 * shifts["random"]
