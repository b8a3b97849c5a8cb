"""CVSA's swapped view, foreground pooling, alignment and InfoNCE against hand computations, the
shortcut data."""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch

from facechain.lab.cvsa import alignment_loss, cvsa_loss, foreground_features, info_nce, swap_view


def test_swapped_view_keeps_the_salient_pixels_of_a_and_the_background_of_b_exactly():
    generator = torch.Generator().manual_seed(0)
    a, b = torch.rand(4, 1, 16, 16, generator=generator), torch.rand(4, 1, 16, 16, generator=generator)
    saliency = (torch.rand(4, 1, 16, 16, generator=generator) > 0.7).float()
    swapped = swap_view(a, b, saliency)
    salient = saliency.bool()
    assert torch.equal(swapped[salient], a[salient])
    assert torch.equal(swapped[~salient], b[~salient])


def test_foreground_features_pool_the_salient_cells_and_ignore_the_background():
    feature_map = torch.randn(2, 3, 4, 4)
    saliency = torch.zeros(2, 1, 16, 16)
    saliency[:, :, :8, :8] = 1  # the top-left 2x2 cells of the 4x4 map
    pooled = foreground_features(feature_map, saliency)
    assert torch.allclose(pooled, feature_map[:, :, :2, :2].mean(dim=(2, 3)), atol=1e-6)
    changed = feature_map.clone()
    changed[:, :, 2:, :] += 100.0  # the background's features do not reach the object's
    assert torch.allclose(foreground_features(changed, saliency), pooled, atol=1e-6)


def test_alignment_is_zero_for_identical_features_and_grows_with_the_angle():
    features = torch.randn(5, 8)
    assert alignment_loss(features, features) == pytest.approx(0.0, abs=1e-6)
    assert alignment_loss(features, 3 * features) == pytest.approx(0.0, abs=1e-6)
    e1, e2 = torch.eye(2)[:1], torch.eye(2)[1:]
    assert alignment_loss(e1, e2) == pytest.approx(1.0)
    assert alignment_loss(e1, -e1) == pytest.approx(2.0)


def test_info_nce_matches_its_formula_and_rewards_matching_positives():
    embeddings = torch.eye(4)
    tau = 0.2
    expected = -math.log(math.exp(1 / tau) / (math.exp(1 / tau) + 3))
    assert info_nce(embeddings, embeddings, tau) == pytest.approx(expected, rel=1e-5)
    queries = torch.randn(16, 8)
    keys = queries + 0.1 * torch.randn(16, 8)
    assert info_nce(queries, keys) < info_nce(queries, keys[torch.randperm(16)])
    foreground = torch.randn(16, 8)
    assert cvsa_loss(queries, keys, foreground, foreground) == pytest.approx(float(info_nce(queries, keys)), abs=1e-6)
    assert cvsa_loss(queries, keys, foreground, -foreground, weight=0.5) == pytest.approx(
        float(info_nce(queries, keys)) + 1.0, abs=1e-5
    )


def test_backgrounds_carry_the_class_only_where_asked_and_the_glyph_is_the_saliency():
    from facechain.lab.a2mim.experiment import upsampled
    from facechain.lab.cvsa.experiment import INK, scenes
    from facechain.lab.harness.data import digits

    split = digits(0)
    glyphs = upsampled(split.x_train)
    rng = np.random.default_rng(0)
    images, saliency, kinds = scenes(glyphs, split.y_train, 0.9, rng)
    assert 0.88 < np.mean(kinds == split.y_train) < 0.95  # 0.9 + 0.1 x 1/10 by chance
    assert np.array_equal(saliency, glyphs > INK)
    assert np.array_equal(images[saliency == 1], glyphs[saliency == 1])
    _, _, shuffled = scenes(glyphs, split.y_train, 0.0, rng)
    assert np.mean(shuffled == split.y_train) < 0.15


def test_augmented_view_moves_image_and_saliency_together():
    from facechain.lab.cvsa.experiment import augmented

    torch.manual_seed(0)
    images = torch.zeros(8, 1, 16, 16)
    images[:, :, 6:10, 6:10] = 1.0
    view, saliency = augmented(images, images.clone())
    for v, s in zip(view, saliency):
        assert s.sum() == 16  # the square moved whole, by whole pixels
        assert v[s.bool()].mean() - v[~s.bool()].mean() > 0.5  # and the image's square moved with it
