"""The prompt pair of every preset does not fight itself: no word or phrase is both asked for and
forbidden, and the photographic template goes to photographic styles only."""

from __future__ import annotations

from pathlib import Path

import pytest

from facechain.config import Settings
from facechain.portrait.generation.prompts import NEUTRAL_WORDS, build_prompts, content_words, phrases
from facechain.portrait.generation.request import GenerationRequest
from facechain.portrait.generation.styles import load_styles

STYLES = load_styles(Settings(home=Path("/nonexistent"))).styles  # the built-in presets only


def prompts(style: str, trigger="sks", who="a man", **words) -> tuple[str, str]:
    return build_prompts(trigger, who, STYLES[style], GenerationRequest(model="m", style=style, **words))


@pytest.mark.parametrize("style", sorted(STYLES))
@pytest.mark.parametrize("who", ["a man", "a woman", "an old man"])
def test_no_preset_asks_for_and_forbids_the_same_thing(style, who):
    positive, negative = prompts(style, who=who)
    shared_phrases = {p.lower() for p in phrases(positive)} & {p.lower() for p in phrases(negative)}
    assert not shared_phrases
    shared_words = content_words(positive) & content_words(negative)
    assert not shared_words, f"{style}: {sorted(shared_words)} in both prompts"
    assert "sks" in positive and who in positive


def test_neutral_words_are_only_grading_and_grammar():
    """'quality' may be on both sides ('best quality' / 'low quality'); nothing with a subject may."""
    assert NEUTRAL_WORDS == {"a", "an", "and", "at", "in", "into", "of", "on", "the", "to", "with", "style", "quality"}
    assert content_words("Oil Paintings of colours, glass") == {"oil", "painting", "colour", "glass"}


def test_photographic_template_only_for_photographic_styles():
    anime, anime_negative = prompts("anime")
    assert "photo" not in anime and "photorealistic" not in anime
    assert "photo" in anime_negative.split(", ")  # the anime style's own negative survives
    painting, _ = prompts("oil-painting")
    assert "raw photo" not in painting
    headshot, headshot_negative = prompts("headshot")
    assert "raw photo" in headshot and "photorealistic" in headshot
    assert "paintings" in headshot_negative and "monochrome" in headshot_negative


def test_monochrome_asks_for_monochrome_without_forbidding_it():
    positive, negative = prompts("monochrome")
    assert "monochrome" in positive and "grayscale" in positive
    assert "monochrome" not in negative and "grayscale" not in negative and "color" in negative


def test_users_words_win_over_the_template():
    """A user who asks for an oil painting in a photographic style is not also told 'no paintings'."""
    _, negative = prompts("natural", prompt="oil painting")
    assert "paintings" not in negative
    _, plain = prompts("natural")
    assert "paintings" in plain
