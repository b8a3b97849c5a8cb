"""The digit world's attributes move their pixel measures, and its judge recognises the digits."""

from __future__ import annotations

import numpy as np
import pytest

from facechain.lab.digit_world import (
    base_digits,
    caption,
    category_classifier,
    distinctive_subject,
    inversion,
    obeys_attribute,
    similarity,
    slant,
    stroke_mass,
    subject_views,
    with_attributes,
)


@pytest.fixture(scope="module")
def digits():
    return base_digits()


def mean_measure(measure, images, attributes):
    return float(np.mean([measure(with_attributes(image, attributes)) for image in images]))


def test_each_attribute_moves_its_measure_and_leaves_the_others(digits):
    images = digits[0][:150]
    plain_mass, plain_slant = mean_measure(stroke_mass, images, ()), mean_measure(slant, images, ())
    assert (
        mean_measure(stroke_mass, images, ("thin",))
        < plain_mass - 0.05
        < plain_mass + 0.05
        < mean_measure(stroke_mass, images, ("thick",))
    )
    assert mean_measure(slant, images, ("slanted",)) > plain_slant + 0.2
    assert abs(mean_measure(slant, images, ("thick",)) - plain_slant) < 0.05
    assert mean_measure(inversion, images, ("inverted",)) > 0.7 > 0.3 > mean_measure(inversion, images, ())
    # measures read strokes whatever the inversion
    assert mean_measure(stroke_mass, images, ("thick", "inverted")) == pytest.approx(
        mean_measure(stroke_mass, images, ("thick",)), abs=0.01
    )


def test_judge_recognises_held_out_digits_with_attributes(digits):
    images, labels = digits
    judge = category_classifier(images[:1400], labels[:1400])
    for attributes in [(), ("thick",), ("slanted",), ("inverted",)]:
        drawn = np.stack([with_attributes(image, attributes) for image in images[1400:]])
        assert (judge.probabilities(drawn).argmax(1) == labels[1400:]).mean() > 0.8


def test_captions_and_bad_attributes():
    assert caption(7) == "a digit seven"
    assert caption(7, ("slanted", "thick"), subject="sks") == "a thick slanted sks digit seven"
    with pytest.raises(ValueError):
        with_attributes(np.zeros((16, 16)), ("thick", "thin"))
    with pytest.raises(ValueError):
        with_attributes(np.zeros((16, 16)), ("bold",))


def test_attribute_obeyed_only_when_the_measure_moves_its_way(digits):
    seven = digits[0][digits[1] == 7][0]
    for attribute in ("thick", "thin", "slanted", "inverted"):
        assert obeys_attribute(with_attributes(seven, (attribute,)), seven, attribute, seven)
        assert not obeys_attribute(seven, seven, attribute, seven)
    assert not obeys_attribute(with_attributes(seven, ("thin",)), seven, "thick", seven)
    assert not obeys_attribute(with_attributes(seven, ("thick",)), seven, "thin", seven)


def test_similarity_tells_one_drawing_from_others(digits):
    images, labels = digits
    seven = images[labels == 7][0]
    own = [similarity(seven, view) for view in subject_views(seven)]
    others = [similarity(seven, other) for other in images[labels == 7][1:40]]
    assert own[0] == pytest.approx(1.0)
    assert min(own) > np.median(others)
    assert similarity(seven, images[labels == 0][0]) < np.median(others)


def test_distinctive_subject_is_a_recognised_but_atypical_member(digits):
    images, labels = digits
    judge = category_classifier(images[:1400], labels[:1400])
    index = distinctive_subject(images[1400:], labels[1400:], 7, judge)
    subject = images[1400:][index]
    assert labels[1400:][index] == 7 and judge.probabilities(subject[None]).argmax() == 7
    sevens = images[1400:][labels[1400:] == 7]
    typicality = [np.mean([similarity(seven, other) for other in sevens]) for seven in sevens]
    assert np.mean([similarity(subject, other) for other in sevens]) < np.percentile(typicality, 25)
