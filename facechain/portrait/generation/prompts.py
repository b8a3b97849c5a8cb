"""The prompt pair of a portrait, built as in FaceChain: trigger, class phrase, style prompt, the user's
words and a quality template, against a negative prompt.

The photographic template ("raw photo, photorealistic" and, in the negative, "paintings, sketches,
cartoon, monochrome, grayscale") belongs to photographic styles only: an anime or oil-painting preset
that asked for "raw photo" while forbidding "photo" fought itself. And a negative phrase that shares a
content word with the positive prompt is dropped, so a style or a user who asks for "monochrome" or
"oil painting" is not also told the opposite by a template. Words that only grade a scale on both sides
("best quality" against "low quality") are not a conflict.
"""

from __future__ import annotations

import re

from .request import GenerationRequest
from .styles import Style

COMMON_POSITIVE = "masterpiece, best quality, solo, medium shot, high detail face, looking into the camera"
PHOTO_POSITIVE = "raw photo, photorealistic"
COMMON_NEGATIVE = (
    "nsfw, worst quality, low quality, normal quality, lowres, blurry, deformed, bad anatomy, "
    "extra fingers, watermark, text"
)
PHOTO_NEGATIVE = "paintings, sketches, cartoon, monochrome, grayscale"

NEUTRAL_WORDS = frozenset({"a", "an", "and", "at", "in", "into", "of", "on", "the", "to", "with", "style", "quality"})
"""Words that carry no subject of their own: articles and prepositions, "style" (as in "anime style"), and
"quality", which both prompts grade ("best quality" / "low quality")."""


def phrases(prompt: str) -> list[str]:
    return [part.strip() for part in prompt.split(",") if part.strip()]


def content_words(text: str) -> set[str]:
    """Lowercase words without the neutral ones, plurals reduced ('paintings' -> 'painting')."""
    words = re.findall(r"[a-z0-9]+", text.lower())
    return {
        word[:-1] if len(word) > 3 and word.endswith("s") and not word.endswith("ss") else word
        for word in words
        if word not in NEUTRAL_WORDS
    }


def build_prompts(
    trigger: str | None, class_prompt: str | None, style: Style, request: GenerationRequest
) -> tuple[str, str]:
    """(positive, negative) for one request; see the module docstring for the rules."""
    positive = ", ".join(
        part
        for part in [
            trigger,
            class_prompt,
            style.prompt,
            request.prompt.strip(),
            COMMON_POSITIVE,
            PHOTO_POSITIVE if style.photographic else "",
        ]
        if part
    )
    wanted = content_words(positive)
    negative = [
        COMMON_NEGATIVE,
        PHOTO_NEGATIVE if style.photographic else "",
        style.negative_prompt,
        request.negative_prompt.strip(),
    ]
    kept = [phrase for part in negative for phrase in phrases(part) if not content_words(phrase) & wanted]
    return positive, ", ".join(dict.fromkeys(kept))
