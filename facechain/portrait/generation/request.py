"""Generation options and errors, importable without torch (the CLI builds its --help from them)."""

from __future__ import annotations

import math
from dataclasses import dataclass, field, replace
from pathlib import Path

from pipelines.schedulers import DEFAULT_PORTRAIT_SOLVERS, PORTRAIT_SOLVERS

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
DETAIL_STRENGTH = 0.4
"""The detail pass's default strength, ADetailer's default: image-to-image from 40% of the noise schedule
redraws skin, eyes and mouth at the new resolution and keeps pose, light and expression."""
TEMPLATE_STRENGTH = 0.65
"""Template mode's default: higher than the detail pass's because the face must become another person's,
not just gain detail; image-to-image keeps the template's pose and light below about 0.8. A starting point
from img2img face-swap practice, not a measurement (the offline tiny model draws no faces to measure)."""
CONTROL_TYPES = ("canny", "openpose")
MAX_PROMPT = 1000
"""Characters of the user's words: CLIP reads 77 tokens (~300 characters), the rest is cut anyway."""


class GenerationError(BadArguments):
    """A generation request that cannot run, with what to change."""


def detail_schedule(steps: int, strength: float) -> int:
    """The schedule length the detail pass asks image-to-image for: the request's steps, lengthened when
    ``int(steps * strength)`` would run no step at all (8 LCM steps at strength 0.1: a 10-step schedule)."""
    return max(steps, math.ceil(1 / strength - 1e-9))


def image_to_image_steps(steps: int, strength: float) -> int:
    """The sampling steps diffusers' image-to-image runs on the detail pass's schedule: the last
    ``int(schedule * strength)`` of it, at least one."""
    schedule = detail_schedule(steps, strength)
    return min(int(schedule * strength), schedule)


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
    scheduler: str = option(
        "auto",
        "sampling solver (auto: dpm++ for SD 1.x and SDXL, flowmatch for FLUX.1)",
        choices=("auto", *PORTRAIT_SOLVERS),
    )
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
    detail_strength: float | None = option(
        None,
        "how much the detail pass re-draws a face, 0.05-1 (default 0.4, with --template 0.65; "
        "0.4 keeps pose and light, 1 draws anew)",
    )
    detail_padding: float = option(
        0.6, "margin around a face for the detail pass, in face sides on each side, 0.2-2 (context it sees)"
    )
    detail_faces: str = option(
        "subject", "faces the detail pass refines: subject (the largest), all, or numbers such as 1,3 (1 = largest)"
    )
    template: str | None = option(
        None,
        "put the person's face into this photo instead of sampling a new one: an image file or a shipped "
        "template (see `facechain templates`); everything but the refined faces stays the photo's own",
    )
    controlnet: str | None = option(
        None,
        "ControlNet for structure control: a local folder or a hub id (e.g. lllyasviel/control_v11p_sd15_canny); "
        "it must be made for the base model's family",
    )
    control_type: str = option(
        "canny", "how the control image is made from a photo: canny (edges) or openpose", choices=CONTROL_TYPES
    )
    control_from: str | None = option(None, "photo the control image is made from (default: the template)")
    control_image: str | None = option(None, "your own control image (edges, pose ...), used as it is")
    control_scale: float = option(1.0, "how strongly the ControlNet steers, 0-2")
    control_start: float = option(0.0, "share of the sampling steps after which the ControlNet starts, 0-1")
    control_end: float = option(1.0, "share of the sampling steps after which the ControlNet stops, 0-1")

    def __post_init__(self):
        """Refuse what cannot run, before any model loads (the CLI, the app and the API alike)."""
        self.model = Path(self.model)
        check_between("count", self.count, 1, MAX_COUNT, error=GenerationError)
        if self.scheduler != "auto" and self.scheduler not in PORTRAIT_SOLVERS:
            raise GenerationError(
                f"unknown scheduler {self.scheduler!r}; choose from auto, {', '.join(PORTRAIT_SOLVERS)}"
            )
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
        if self.template is not None and not self.detail:
            raise GenerationError("--template works through the face detail pass: drop --no-detail")
        self.check_control()
        check_seed("seed", self.seed, error=GenerationError)
        check_resolution("resolution", self.resolution, error=GenerationError)
        for name in ("prompt", "negative_prompt"):
            if len(getattr(self, name)) > MAX_PROMPT:
                raise GenerationError(
                    f"the {name.replace('_', ' ')} has {len(getattr(self, name))} characters; "
                    f"at most {MAX_PROMPT} are taken (CLIP reads about 300)"
                )

    def check_control(self) -> None:
        """A ControlNet needs a control image or a photo to make one from; control options need a ControlNet."""
        for name, value, low, high in (
            ("control scale", self.control_scale, 0, 2),
            ("control start", self.control_start, 0, 1),
            ("control end", self.control_end, 0, 1),
        ):
            check_between(name, value, low, high, error=GenerationError)
        if self.control_start >= self.control_end:
            raise GenerationError(
                f"control start ({self.control_start:g}) must come before control end ({self.control_end:g})"
            )
        if self.control_type not in CONTROL_TYPES:
            raise GenerationError(f"unknown control type {self.control_type!r}; choose from {', '.join(CONTROL_TYPES)}")
        if self.controlnet is None:
            if self.control_from or self.control_image:
                raise GenerationError("--control-from and --control-image steer a ControlNet: add --controlnet")
            return
        if self.control_from and self.control_image:
            raise GenerationError(
                "give either --control-from (a photo to make the control image from) or "
                "--control-image (the control image itself), not both"
            )
        if not (self.control_from or self.control_image or self.template):
            raise GenerationError(
                "--controlnet needs a control image: --control-image IMAGE, or --control-from PHOTO to make one "
                "(or --template, whose photo it is then made from)"
            )

    @property
    def strength(self) -> float:
        """The detail pass's strength: the request's, else the default of its mode."""
        if self.detail_strength is not None:
            return self.detail_strength
        return TEMPLATE_STRENGTH if self.template is not None else DETAIL_STRENGTH

    def for_family(self, family) -> GenerationRequest:
        """This request for a model of ``family`` (``diffusion.families.Family``): ``auto`` becomes the
        family's solver; a solver for another training objective is refused by name."""
        if self.scheduler == "auto":
            return replace(self, scheduler=DEFAULT_PORTRAIT_SOLVERS[family.objective])
        if PORTRAIT_SOLVERS[self.scheduler].objective != family.objective:
            fitting = [name for name, solver in PORTRAIT_SOLVERS.items() if solver.objective == family.objective]
            raise GenerationError(
                f"the {self.scheduler} scheduler does not sample {family.title} models: "
                f"choose {', '.join(fitting)} (or auto)"
            )
        return self

    @property
    def sampling(self) -> tuple[int, float]:
        """(steps, guidance): the request's, else the scheduler's defaults (after ``for_family``)."""
        if self.scheduler == "auto":
            raise ValueError("the auto scheduler depends on the model's family: call for_family first")
        solver = PORTRAIT_SOLVERS[self.scheduler]
        return (
            self.steps if self.steps is not None else solver.steps,
            self.guidance if self.guidance is not None else solver.guidance,
        )
