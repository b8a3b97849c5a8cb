"""DLME's pieces by hand: the Student-t kernel and its constant, the two-way divergence (and that it
is smallest at Q = P), the two-view distances, the neighbour mix (on segments between neighbours),
a map that separates two blobs."""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch

from facechain.mapping.dlme import dlme_map
from facechain.mapping.manifold import (
    nearest_neighbours,
    neighbour_mix,
    squared_distances,
    student_t_gamma,
    student_t_similarity,
    two_view_distances,
    two_way_divergence,
)


def test_student_t_kernel_by_hand():
    assert student_t_gamma(1.0) == pytest.approx(1 / math.pi)  # Gamma(1) / (sqrt(pi) Gamma(1/2))
    assert student_t_gamma(2.0) == pytest.approx(1 / (2 * math.sqrt(2)))  # Gamma(3/2) / (sqrt(2 pi) Gamma(1))
    # nu = 1: (1/pi)^2 2 pi (1 + d^2)^-2 = (2 / pi) / (1 + d^2)^2
    values = student_t_similarity(torch.tensor([0.0, 1.0, 3.0]), 1.0)
    assert torch.allclose(values, torch.tensor([2 / math.pi, 1 / (2 * math.pi), 1 / (8 * math.pi)]))
    near_gaussian = student_t_similarity(torch.tensor([0.0, 1.0, 4.0]), 100.0)
    assert torch.allclose(near_gaussian / near_gaussian[0], torch.exp(-torch.tensor([0.0, 1.0, 4.0])), rtol=0.05)
    heavy = student_t_similarity(torch.tensor([0.0, 1.0, 100.0]), 0.01)
    assert heavy[0] == pytest.approx(0.0155, abs=1e-4) and heavy[2] / heavy[1] > 0.009  # ~ 1/d^2 tail


def test_two_way_divergence_by_hand_ignores_the_diagonal():
    p = torch.tensor([[1.0, 0.5], [0.5, 1.0]])
    q = torch.tensor([[0.0, 0.25], [0.25, 0.0]])  # a diagonal that would cost log(e) if it counted
    expected = -(0.5 * math.log(0.25 + 1e-5) + 0.5 * math.log(0.75 + 1e-5))
    assert two_way_divergence(p, q).item() == pytest.approx(expected, rel=1e-6)


def test_divergence_is_smallest_at_q_equal_p():
    generator = torch.Generator().manual_seed(0)
    p = torch.rand(6, 6, generator=generator)
    p = (p + p.T) / 2
    at_p = two_way_divergence(p, p)
    for _ in range(20):
        other = (p + 0.2 * (torch.rand(6, 6, generator=generator) - 0.5)).clamp(1e-3, 1 - 1e-3)
        assert two_way_divergence(p, other) > at_p
    q = p.clone().requires_grad_(True)
    two_way_divergence(p, q).backward()
    assert q.grad.abs().max() < 1e-4  # stationary at Q = P (up to e)


def test_squared_distances_match_cdist():
    z = torch.randn(7, 3, generator=torch.Generator().manual_seed(1))
    assert torch.allclose(squared_distances(z), torch.cdist(z, z) ** 2, atol=1e-5)


def test_two_view_distances_make_each_view_pair_a_near_copy():
    d = torch.tensor([[0.0, 4.0, 9.0], [4.0, 0.0, 1.0], [9.0, 1.0, 0.0]])
    both = two_view_distances(d, near_rate=100.0)
    offset = torch.tensor([4.0, 1.0, 1.0]) / 100  # each point's nearest squared distance / 100
    assert both.shape == (6, 6) and torch.equal(both[:3, :3], d)
    assert torch.allclose(both.diagonal(3), offset)  # x_i against its own mixed view
    assert both[3, 1] == pytest.approx(4.0 + 0.04) and both[4, 5] == pytest.approx(1.0 + 0.01 + 0.01)
    assert torch.allclose(both, both.T)
    assert (student_t_similarity(both.diagonal(3), 100.0) > 0.9).all()


def test_neighbour_mix_stays_on_segments_between_neighbours():
    generator = torch.Generator().manual_seed(0)
    data = torch.randn(40, 5, generator=generator)
    neighbours = nearest_neighbours(data, 3)
    distances = torch.cdist(data, data)
    assert (neighbours != torch.arange(40)[:, None]).all()
    assert torch.all(distances.gather(1, neighbours)[:, :-1] <= distances.gather(1, neighbours)[:, 1:])
    index = torch.arange(40).repeat(5)
    mixed = neighbour_mix(data, index, neighbours, generator)
    for i, point in zip(index.tolist(), mixed):
        step = point - data[i]
        on_a_segment = False
        for n in neighbours[i].tolist():
            edge = data[n] - data[i]
            rate = float(step @ edge / (edge @ edge))
            on_a_segment |= 0 <= rate <= 1 and torch.allclose(step, rate * edge, atol=1e-5)
        assert on_a_segment


def test_dlme_map_separates_two_blobs():
    rng = np.random.default_rng(0)
    blobs = np.concatenate([rng.normal(0, 1, (40, 10)), rng.normal(6, 1, (40, 10))]).astype(np.float32)
    side = np.repeat([0, 1], 40)
    coordinates = dlme_map(blobs, epochs=30, seed=0)
    distances = np.linalg.norm(coordinates[:, None] - coordinates[None], axis=-1)
    np.fill_diagonal(distances, np.inf)
    assert np.all(side[distances.argmin(axis=1)] == side)  # every point's map neighbour is from its blob
    within = distances[side[:, None] == side[None]]
    assert np.median(distances[side[:, None] != side[None]]) > 2 * np.median(within[np.isfinite(within)])
