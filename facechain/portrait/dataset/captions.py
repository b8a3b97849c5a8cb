"""The class phrase of a person ("a man", "an old woman", "a girl") from the faces in their photos.

FaceChain sums gender and age scores over all photos and takes the argmax, because one photo's
attribute estimate is often wrong (the offline gender model once called an elderly woman in uniform
"male" at 96%). The vote is reported next to the phrase so a user can see and override it.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

import numpy as np

from ...errors import BadArguments
from ...faces import Face

# (upper age bound, phrase for female, phrase for male); the first bound above the age applies.
AGE_BANDS = (
    (13.0, "a girl", "a boy"),
    (18.0, "a teenage girl", "a teenage boy"),
    (60.0, "a woman", "a man"),
    (float("inf"), "an old woman", "an old man"),
)


@dataclass(frozen=True)
class ClassVote:
    """The summed evidence behind a class phrase."""

    phrase: str
    female_share: float | None
    median_age: float | None
    faces: int


def class_vote(faces: Iterable[Face]) -> ClassVote:
    """Majority gender (summed probabilities) and median age over ``faces``."""
    faces = list(faces)
    female = [
        f.gender_confidence if f.gender == "female" else 1.0 - f.gender_confidence
        for f in faces
        if f.gender is not None and f.gender_confidence is not None
    ]
    female += [
        1.0 if f.gender == "female" else 0.0 for f in faces if f.gender is not None and f.gender_confidence is None
    ]
    ages = [f.age for f in faces if f.age is not None]
    share = float(np.mean(female)) if female else None
    age = float(np.median(ages)) if ages else None
    if share is None:
        return ClassVote("a person", None, age, len(faces))
    band_age = age if age is not None else 30.0
    _, as_female, as_male = next(band for band in AGE_BANDS if band_age < band[0])
    return ClassVote(as_female if share >= 0.5 else as_male, share, age, len(faces))


def with_article(words: str) -> str:
    """'man' -> 'a man', 'old man' -> 'an old man'; a phrase that has an article keeps it."""
    words = " ".join(words.split())
    if not words:
        raise BadArguments("the class word is empty: give a phrase such as 'woman' or 'an old man'")
    first = words.split()[0].lower()
    if first in ("a", "an", "the"):
        return words
    return ("an " if first[0] in "aeiou" else "a ") + words


def caption(trigger: str, class_phrase: str) -> str:
    """FaceChain's caption form: '<trigger>, <class phrase>'."""
    return f"{trigger}, {class_phrase}"
