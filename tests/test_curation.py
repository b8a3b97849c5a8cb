"""Curation logic on controlled embeddings: identity majority, duplicates, reference, selection;
InfoGrowth's gain; the class phrase vote."""

from __future__ import annotations

import numpy as np
import pytest

from facechain.faces.types import Face, FaceAnalyzer, Thresholds, unit
from facechain.portrait.dataset.captions import class_vote, with_article
from facechain.portrait.dataset.curate import Candidate, curate
from facechain.portrait.dataset.diversity import greedy_selection, information_gain

LANDMARKS = np.array([[38.3, 51.7], [73.5, 51.5], [56.0, 71.7], [41.5, 92.4], [70.7, 92.2]], dtype=np.float32)


class FixedThresholds(FaceAnalyzer):
    name = "fixed"
    thresholds = Thresholds(same_person=0.5, duplicate=0.1)

    def detect(self, image):
        raise NotImplementedError("curation never detects")


def candidate(
    key, embedding, sharpness=500.0, photo_hash=None, landmarks=LANDMARKS, gender=None, age=None, confidence=None
):
    rng = np.random.default_rng(key)
    face = Face(
        box=(0, 0, 100, 100),
        landmarks=landmarks,
        score=1.0,
        embedding=unit(embedding),
        gender=gender,
        gender_confidence=confidence,
        age=age,
    )
    photo_hash = rng.random(256) > 0.5 if photo_hash is None else photo_hash
    return Candidate(key=key, name=f"photo{key}.jpg", face=face, sharpness=sharpness, photo_hash=photo_hash)


def around(centre, spread, rng):
    return unit(centre + spread * rng.standard_normal(centre.shape))


@pytest.fixture
def rng():
    return np.random.default_rng(0)


def test_other_person_is_dropped_with_reason(rng):
    me, stranger = unit(rng.standard_normal(128)), unit(rng.standard_normal(128))
    cands = [candidate(i, around(me, 0.02, rng)) for i in range(5)] + [candidate(5, around(stranger, 0.02, rng))]
    result = curate(cands, FixedThresholds())
    assert result.decisions[5].kept is False and "different person" in result.decisions[5].reason
    assert all(result.decisions[i].kept for i in range(5))
    assert result.decisions[5].identity_distance > 0.5 > max(result.decisions[i].identity_distance for i in range(5))


def test_minority_identity_is_warned_about(rng):
    people = [unit(rng.standard_normal(128)) for _ in range(3)]
    cands = [candidate(i, around(people[i % 3], 0.02, rng)) for i in range(7)]
    result = curate(cands, FixedThresholds())
    assert len(result.kept) == 3 and result.warnings and "no single person" in result.warnings[0]


def test_duplicate_needs_same_picture_and_same_face(rng):
    me = unit(rng.standard_normal(128))
    shot = rng.random(256) > 0.5
    similar_shot = shot.copy()
    similar_shot[:5] = ~similar_shot[:5]
    cands = [
        candidate(0, me, sharpness=300, photo_hash=shot),
        candidate(1, around(me, 0.001, rng), sharpness=900, photo_hash=similar_shot),  # sharper copy
        candidate(2, around(me, 0.001, rng), photo_hash=~shot),  # same face, another picture
    ]
    result = curate(cands, FixedThresholds())
    assert result.decisions[0].kept is False and result.decisions[0].duplicate_of == "photo1.jpg"
    assert result.decisions[1].kept and result.decisions[2].kept


def test_reference_is_sharp_and_central(rng):
    me = unit(rng.standard_normal(128))
    cands = [
        candidate(0, around(me, 0.03, rng), sharpness=50),
        candidate(1, me, sharpness=900),
        candidate(2, around(me, 0.03, rng), sharpness=1000),
    ]
    assert curate(cands, FixedThresholds()).reference == 1


def test_selection_keeps_varied_photos_not_the_first_n(rng):
    me = unit(rng.standard_normal(128))
    same_look = [candidate(i, around(me, 0.001, rng)) for i in range(12)]
    varied = [
        candidate(
            12 + i, around(me, 0.04, rng), landmarks=LANDMARKS + rng.normal(0, 6, LANDMARKS.shape).astype(np.float32)
        )
        for i in range(4)
    ]
    result = curate(same_look + varied, FixedThresholds(), max_photos=6)
    kept = set(result.kept)
    assert len(kept) == 6 and set(range(12, 16)) <= kept
    dropped = [d for d in result.decisions.values() if not d.kept]
    assert len(dropped) == 10 and all("--max-photos" in d.reason for d in dropped)
    assert [result.decisions[k].order for k in result.kept] == list(range(6))


def test_information_gain_is_mean_distance_to_k_nearest():
    kept = np.eye(6)[:5]
    item = np.array([[1.0, 1.0, 0, 0, 0, 0]])
    # cosine distance to e0 and e1 is 1 - 1/sqrt(2); to the other three it is 1
    assert information_gain(item, kept, k=2)[0] == pytest.approx(1 - 1 / np.sqrt(2))
    assert information_gain(item, kept, k=4)[0] == pytest.approx((2 * (1 - 1 / np.sqrt(2)) + 2) / 4)


def test_greedy_selection_takes_the_farthest_next():
    points = np.array([[1.0, 0.0], [0.99, 0.14], [0.0, 1.0], [-1.0, 0.05]])
    order = greedy_selection(points, first=0, k=1)
    assert order[:2] == [0, 3] and sorted(order) == [0, 1, 2, 3]


def test_class_vote_sums_over_photos_and_bins_age():
    def faces(gender_confidences, age):
        return [
            candidate(i, np.ones(4), gender=g, confidence=c, age=age).face
            for i, (g, c) in enumerate(gender_confidences)
        ]

    # one confidently wrong "male" among women does not flip the phrase
    assert class_vote(faces([("female", 0.9), ("female", 0.8), ("male", 0.96)], 34)).phrase == "a woman"
    assert class_vote(faces([("male", 0.9)] * 2, 70)).phrase == "an old man"
    assert class_vote(faces([("female", 0.9)], 8)).phrase == "a girl"
    assert class_vote(faces([("male", 0.7)], 15)).phrase == "a teenage boy"
    assert class_vote([]).phrase == "a person"


def test_class_word_gets_an_article():
    assert with_article("woman") == "a woman"
    assert with_article("old man") == "an old man"
    assert with_article("a  handsome man") == "a handsome man"
    with pytest.raises(ValueError):
        with_article("  ")
