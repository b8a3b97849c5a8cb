"""The calibrated likeness (generation/likeness.py): checked against a hand computation, and on real
photos: another variant of the person lands near 100%, someone else below 0%."""

from __future__ import annotations

import math

import numpy as np
import pytest

from facechain.portrait.generation.likeness import boundary_cosine, likeness_scale
from facechain.portrait.generation.ranking import judge_portrait, photo_embeddings


def test_the_scale_matches_a_hand_computation():
    photos = np.array([[1.0, 0, 0], [0.8, 0.6, 0], [0.8, -0.6, 0]])
    boundary = boundary_cosine(1.0)  # distance 1 between unit vectors: cosine 1 - 1/2 = 0.5
    assert boundary == 0.5
    scale = likeness_scale(photos * [[2], [1], [3]], boundary)  # lengths do not matter: normalised
    # S = (2.6, 0, 0). Leave-one-out: photo 1 vs (1.6, 0, 0): 1.0; photo 2 vs (1.8, -0.6, 0):
    # (0.8*1.8 - 0.6*0.6) / sqrt(1.8^2 + 0.6^2) = 1.08 / sqrt(3.6) = 0.5692; photo 3 the same; median 0.5692.
    own = 1.08 / math.sqrt(3.6)
    assert scale.photos == 3 and scale.own == pytest.approx(own)
    assert np.allclose(scale.centroid, [1, 0, 0])
    assert scale.percent(np.array([0.6, 0.8, 0])) == pytest.approx(100 * (0.6 - 0.5) / (own - 0.5))  # 144.5%
    assert scale.percent(np.array([0.5, 0.0, math.sqrt(0.75)])) == pytest.approx(0.0, abs=1e-9)  # at the boundary
    assert scale.percent(np.array([0.0, 0.0, 5.0])) < 0  # judged another person


def test_no_scale_from_one_photo_or_photos_that_share_nothing():
    assert likeness_scale(np.array([[1.0, 0.0]]), 0.5) is None
    assert likeness_scale(np.zeros((0, 0)), 0.5) is None
    assert likeness_scale(np.array([[1.0, 0.0], [-1.0, 0.0]]), 0.5) is None  # c = -1: no scale to speak of
    assert likeness_scale(np.array([[1.0, 0.0], [0.6, 0.8]]), 0.7) is None  # c = 0.6 <= b: not one person


def test_real_photos_the_person_near_100_percent_someone_else_far_below(analyzer, person, other_person, tmp_path):
    from tests.test_face_map import same_person_variants

    variants = list(same_person_variants(person).values())
    paths = []
    for number, image in enumerate(variants[:5]):
        paths.append(tmp_path / f"{number:03d}.png")
        image.save(paths[-1])
    scale = likeness_scale(photo_embeddings(paths, analyzer), boundary_cosine(analyzer.thresholds.same_person))
    same = scale.percent(judge_portrait(variants[5], None, analyzer).embedding)
    other = scale.percent(judge_portrait(other_person, None, analyzer).embedding)
    print(f"own consistency {scale.own:.3f}; another photo of the person {same:.1f}%; someone else {other:.1f}%")
    assert same > 90 and other < 0
