"""Generation options and errors, importable without torch (the CLI builds its --help from them)."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from ..errors import FacechainError
from .styles import DEFAULT_STYLE

SAMPLING = {"dpm++": (30, 7.0), "euler-a": (30, 7.0), "lcm": (8, 2.0)}  # default (steps, guidance)
MAX_COUNT = 32


class GenerationError(FacechainError):
    """A generation request that cannot run, with what to change."""


@dataclass
class GenerationRequest:
    """One request: the trained model folder, a style preset, the user's words, how many, and the
    sampling settings (None: the scheduler's or the style's default)."""

    model: Path
    style: str = DEFAULT_STYLE
    prompt: str = ""
    negative_prompt: str = ""
    count: int = 6
    seed: int | None = None
    steps: int | None = None
    guidance: float | None = None
    person_weight: float | None = None
    style_weight: float | None = None
    style_lora: str | None = None
    scheduler: str = "dpm++"
    lcm_lora: str | None = None
    batch_size: int = 2
    resolution: int | None = None
