"""Generation options and errors, importable without torch (the CLI builds its --help from them)."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

from pipelines.schedulers import PORTRAIT_SOLVERS

from ...errors import BadArguments
from ...validation import check_between, check_resolution, check_seed, option
from .styles import DEFAULT_STYLE

SOLVER_STEPS = ", ".join(f"{solver.steps} with {name}" for name, solver in PORTRAIT_SOLVERS.items())
SOLVER_GUIDANCE = ", ".join(f"{solver.guidance:g} with {name}" for name, solver in PORTRAIT_SOLVERS.items())
MAX_COUNT = 32
MAX_STEPS = 200  # past ~50 steps the solvers above change nothing visible; 200 leaves room for ddpm-like use
MAX_GUIDANCE = 30.0
MAX_LIKENESS = 200  # percent; a portrait twice as consistent as the person's own photos is not a goal
MAX_TRIES = 10
MAX_PROMPT = 1000
"""Characters of the user's words: CLIP reads 77 tokens (~300 characters), the rest is cut anyway."""


class GenerationError(BadArguments):
    """A generation request that cannot run, with what to change."""


def chosen_faces(choice: str) -> set[int] | None:
    """The face numbers a ``faces`` setting names (None: all), checked."""
    choice = choice.strip().lower()
    if choice == "all":
        return None
    if choice == "subject":
        return {1}
    try:
        numbers = {int(part) for part in choice.split(",") if part.strip()}
    except ValueError:
        numbers = set()
    if not numbers or min(numbers) < 1:
        raise GenerationError(
            f"faces to refine: {choice!r} is not 'subject', 'all' or face numbers such as '1,3' (1 = the largest face)"
        )
    return numbers


@dataclass(kw_only=True)
class GenerationRequest:
    """One request: the trained model folder, a style preset, the user's words, how many, and the
    sampling settings (None: the scheduler's or the style's default)."""

    model: Path = field(metadata={"help": "trained model folder (from facechain train)"})
    style: str = option(DEFAULT_STYLE, "style preset name (see `facechain styles`)")
    count: int = option(6, f"portraits to make (1-{MAX_COUNT})", aliases=("-n",))
    prompt: str = option("", "your words, added to the style's prompt")
    negative_prompt: str = option("", "added to the negative prompt")
    seed: int | None = option(None, "image i uses seed+i, 0 to 2^32-1 (default: random, recorded)")
    scheduler: str = option("dpm++", "sampling solver", choices=tuple(PORTRAIT_SOLVERS))
    steps: int | None = option(None, f"sampling steps (default: the scheduler's: {SOLVER_STEPS})")
    guidance: float | None = option(None, f"guidance scale (default: the scheduler's: {SOLVER_GUIDANCE})")
    person_weight: float | None = option(None, "person LoRA weight, 0-2 (default: the style's)")
    style_weight: float | None = option(None, "style LoRA weight, 0-2 (default: the style's)")
    style_lora: str | None = option(None, "your own style LoRA: .safetensors path, folder or hub id")
    lcm_lora: str | None = option(None, "LCM-LoRA for --scheduler lcm (path or hub id)")
    batch_size: int = option(2, "images per sampling batch")
    resolution: int | None = option(None, "image side in pixels, a multiple of 8 (default: the training resolution)")
    min_likeness: float | None = option(
        None,
        "sample again with new seeds until COUNT portraits pass the face checks at this likeness percent or "
        "more (100: as alike as your own photos are to each other; 0: the face engine's same-person boundary)",
    )
    max_tries: int = option(3, "most sampling rounds for --min-likeness (each makes COUNT portraits)")
    detail: bool = option(
        True,
        "face detail pass: re-draw each chosen face at the model's native resolution with the person LoRA "
        "and paste it back through a feathered face-shaped mask (--no-detail: off)",
    )
    detail_strength: float = option(
        0.4, "how much the detail pass re-draws a face, 0.05-1 (0.4 keeps pose and light; 1 draws anew)"
    )
    detail_padding: float = option(
        0.6, "margin around a face for the detail pass, in face sides on each side, 0.2-2 (context it sees)"
    )
    detail_faces: str = option(
        "subject", "faces the detail pass refines: subject (the largest), all, or numbers such as 1,3 (1 = largest)"
    )

    def __post_init__(self):
        """Refuse what cannot run, before any model loads (the CLI, the app and the API alike)."""
        self.model = Path(self.model)
        check_between("count", self.count, 1, MAX_COUNT, error=GenerationError)
        if self.scheduler not in PORTRAIT_SOLVERS:
            raise GenerationError(f"unknown scheduler {self.scheduler!r}; choose from {', '.join(PORTRAIT_SOLVERS)}")
        for name, value, low, high in (
            ("steps", self.steps, 1, MAX_STEPS),
            ("guidance", self.guidance, 0, MAX_GUIDANCE),
            ("batch size", self.batch_size, 1, MAX_COUNT),
            ("person weight", self.person_weight, 0, 2),
            ("style weight", self.style_weight, 0, 2),
            ("min likeness", self.min_likeness, -100, MAX_LIKENESS),
            ("max tries", self.max_tries, 1, MAX_TRIES),
            ("detail strength", self.detail_strength, 0.05, 1),
            ("detail padding", self.detail_padding, 0.2, 2),
        ):
            check_between(name, value, low, high, error=GenerationError)
        chosen_faces(self.detail_faces)
        check_seed("seed", self.seed, error=GenerationError)
        check_resolution("resolution", self.resolution, error=GenerationError)
        for name in ("prompt", "negative_prompt"):
            if len(getattr(self, name)) > MAX_PROMPT:
                raise GenerationError(
                    f"the {name.replace('_', ' ')} has {len(getattr(self, name))} characters; "
                    f"at most {MAX_PROMPT} are taken (CLIP reads about 300)"
                )

    @property
    def sampling(self) -> tuple[int, float]:
        """(steps, guidance): the request's, else the scheduler's defaults."""
        solver = PORTRAIT_SOLVERS[self.scheduler]
        return (
            self.steps if self.steps is not None else solver.steps,
            self.guidance if self.guidance is not None else solver.guidance,
        )
