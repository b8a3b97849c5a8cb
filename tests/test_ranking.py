"""Ranking judges real face images: the person scores above someone else, and portraits without
exactly one plausible face are flagged (kept, sorted last)."""

from __future__ import annotations

import numpy as np
from PIL import Image

from facechain.examples import framed
from facechain.portrait.generation.ranking import Judgement, judge_portrait, rank_order, reference_embedding


def test_same_person_scores_higher_than_another(analyzer, person, other_person, tmp_path):
    framed(person, 100, 20, 356, 276).resize((512, 512)).save(tmp_path / "reference.png")
    reference = reference_embedding(tmp_path / "reference.png", analyzer)
    same = judge_portrait(
        framed(person, 60, 0, 420, 360).transpose(Image.Transpose.FLIP_LEFT_RIGHT), reference, analyzer
    )
    other = judge_portrait(other_person, reference, analyzer)
    assert same.flag is None and other.flag is None
    assert same.score > 0.9 > other.score


def test_checks_flag_without_dropping(analyzer, person, group_photo, tmp_path):
    framed(person, 100, 20, 356, 276).save(tmp_path / "reference.png")
    reference = reference_embedding(tmp_path / "reference.png", analyzer)
    cat = Image.fromarray(np.full((256, 256, 3), 120, dtype=np.uint8))
    assert judge_portrait(cat, reference, analyzer) == Judgement(None, "no face found")
    group = judge_portrait(group_photo, reference, analyzer)
    assert group.flag.endswith("faces") and int(group.flag.split()[0]) >= 2
    crowd_extra = Image.new("RGB", (1600, 1600), (90, 90, 90))
    crowd_extra.paste(person.resize((400, 400)), (600, 600))
    small = judge_portrait(crowd_extra, reference, analyzer)
    assert small.flag.startswith("face too small") and small.score > 0.9
    assert judge_portrait(person, None, analyzer).flag == "no reference face to compare with"
    assert reference_embedding(tmp_path / "missing.png", analyzer) is None


def test_rank_order_puts_passing_portraits_first_by_score():
    judgements = [
        Judgement(0.5, None),
        Judgement(0.9, "2 faces"),
        Judgement(None, "no face found"),
        Judgement(0.8, None),
    ]
    assert rank_order(judgements) == [3, 0, 1, 2]
