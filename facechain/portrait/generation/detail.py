"""The face detail pass: each chosen face of an image re-drawn at the model's native resolution.

A portrait of a whole person gives the face a few dozen latent pixels, too few for the person LoRA to
draw an identity; FaceChain fuses the face back into each image after sampling for this reason, and
A1111/ComfyUI users run ADetailer. Here, for each chosen face the face engine finds:

1. a square around it, ``1 + 2 * padding`` face sides wide, is cut out and resized to the model's native
   side (512 px for SD 1.5), so the face gets the full canvas;
2. it is re-denoised at ``strength`` (0.4 keeps pose, light and expression; 1.0 draws anew) with the same
   base model, the same person LoRA and the identity prompt (trigger, class phrase, style), through
   the image-to-image pipeline that diffusers builds on the loaded modules (``pipelines.siblings``):
   no second copy of any weight;
   In template mode a ControlNet, when given, steers the crop by the same square of its control image;
3. it is resized back, shifted to the colours of the original around the face's edge, and blended in
   through a feathered mask of the face's shape from its landmarks (``faces.masks``), not its box.
Steps 1-3 for a given square and mask are ``pipelines.face_detail.redraw_square``; this module decides
which faces, which square and which mask.

Pixels where the mask is 0 are copied, so everything beyond the feathered face is exactly the input.
The subject face (the largest) gets the pass by default: the person LoRA would put the person's face
on everyone else too. ``all`` or face numbers (1 = largest) choose others.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import asdict, dataclass

import numpy as np
import torch
from PIL import Image

from ...faces import Face, FaceAnalyzer
from ...faces.masks import face_mask
from .control import Control
from .request import DETAIL_STRENGTH, chosen_faces, detail_schedule, image_to_image_steps

MIN_DETAIL_FACE = 16
"""Face box side, in pixels of the image, below which a face is left alone: its crop would be
enlarged 32 times or more at 512 px, and what the sampler draws there has no pixels to keep."""

FEATHER_SHARE = 0.15
"""Width of the mask's soft edge, as a share of the face box side: wide enough that the seam falls
in skin, not in a line a viewer follows (at 0.05 the paste showed as a ring in the tiny-model test)."""

StepCallback = Callable[[], None]


@dataclass(frozen=True)
class DetailSettings:
    """How the pass runs. faces: "subject" (the largest face), "all", or face numbers ("1,3", 1 = largest)."""

    strength: float = DETAIL_STRENGTH
    padding: float = 0.6
    faces: str = "subject"


@dataclass
class FaceRecord:
    """One face the engine found in a generated image, and what the pass did with it."""

    number: int  # 1 = largest
    box: list[float]
    refined: bool
    reason: str | None = None  # why it was left alone

    def to_json(self) -> dict:
        return asdict(self)


def crop_square(face: Face, size: tuple[int, int], padding: float) -> tuple[int, int, int]:
    """(left, top, side) of the square around ``face`` with ``padding`` face sides of margin on each side,
    moved (never cut) to lie inside an image of ``size``; shrunk only when the image is smaller."""
    width, height = size
    side = int(round(max(face.width, face.height) * (1 + 2 * padding)))
    side = max(8, min(side, width, height))
    centre_x, centre_y = (face.box[0] + face.box[2]) / 2, (face.box[1] + face.box[3]) / 2
    left = int(round(min(max(centre_x - side / 2, 0), width - side)))
    top = int(round(min(max(centre_y - side / 2, 0), height - side)))
    return left, top, side


def edge_fade(side: int, width: float) -> np.ndarray:
    """(side, side) weights rising from 0 on the square's outermost pixels to 1 at ``width`` px inside: a
    face oval larger than the square (a close-up wider than the image's short side) then fades out before
    the square ends instead of stopping at a straight seam."""
    inward = np.minimum(np.arange(side), np.arange(side)[::-1]).astype(np.float32)
    ramp = np.clip(inward / max(width, 1.0), 0.0, 1.0)
    return np.minimum.outer(ramp, ramp)


def square_mask(face: Face, square: tuple[int, int, int]) -> np.ndarray:
    """How much of each pixel of ``square`` (left, top, side) the pass may change for ``face``: its
    feathered oval (``faces.masks``), faded out at the square's edge."""
    left, top, side = square
    feather = FEATHER_SHARE * face.size
    return face_mask(face.landmarks - np.array([left, top]), (side, side), feather) * edge_fade(side, feather)


class FaceDetailer:
    """The pass for one request: the image-to-image sibling of ``pipe`` with the request's prompts."""

    def __init__(
        self,
        pipe,
        analyzer: FaceAnalyzer,
        prompt: str,
        negative_prompt: str,
        steps: int,
        guidance: float,
        settings: DetailSettings,
        control: Control | None = None,
    ):
        from pipelines.face_detail import native_side
        from pipelines.siblings import sibling_pipeline

        self.img2img = sibling_pipeline(pipe, "image2image", None if control is None else control.controlnet)
        self.control = control
        self.analyzer = analyzer
        self.prompt, self.negative_prompt = prompt, negative_prompt
        self.steps, self.guidance = steps, guidance
        self.settings = settings
        self.choice = chosen_faces(settings.faces)
        self.native = native_side(pipe)

    def plan(self, image: Image.Image) -> list[tuple[Face | None, FaceRecord]]:
        """Every face in ``image``, largest first, with whether the pass will refine it and why not."""
        faces = self.analyzer.detect(np.asarray(image.convert("RGB")))
        plan = []
        for number, face in enumerate(faces, start=1):
            record = FaceRecord(number, [round(float(v), 1) for v in face.box], refined=False)
            if self.choice is not None and number not in self.choice:
                record.reason = "not chosen"
            elif face.size < MIN_DETAIL_FACE:
                record.reason = f"too small to refine ({face.size:.0f} px < {MIN_DETAIL_FACE})"
            else:
                record.refined = True
            plan.append((face if record.refined else None, record))
        return plan

    @property
    def steps_per_face(self) -> int:
        """Sampling steps of one face: image-to-image runs the last ``strength`` of the schedule."""
        return image_to_image_steps(self.steps, self.settings.strength)

    def refine(
        self,
        image: Image.Image,
        plan: list[tuple[Face | None, FaceRecord]],
        generator: torch.Generator,
        on_step: StepCallback | None = None,
    ) -> Image.Image:
        """``image`` with every planned face re-drawn, in order, drawing noise from ``generator``."""
        pixels = np.asarray(image.convert("RGB")).copy()
        for face, _ in plan:
            if face is not None:
                pixels = self.refine_face(pixels, face, generator, on_step)
        return Image.fromarray(pixels)

    def refine_face(
        self, pixels: np.ndarray, face: Face, generator: torch.Generator, on_step: StepCallback | None
    ) -> np.ndarray:
        from pipelines.face_detail import redraw_square

        square = crop_square(face, (pixels.shape[1], pixels.shape[0]), self.settings.padding)
        mask = square_mask(face, square)
        control = {} if self.control is None else self.control.arguments(self.control.image, "control_image")
        return redraw_square(
            self.img2img,
            pixels,
            square,
            mask,
            self.native,
            prompt=self.prompt,
            negative_prompt=self.negative_prompt,
            strength=self.settings.strength,
            num_inference_steps=detail_schedule(self.steps, self.settings.strength),
            guidance_scale=self.guidance,
            generator=generator,
            callback_on_step_end=None if on_step is None else _each_step(on_step),
            **control,
        )


def _each_step(on_step: StepCallback):
    def on_step_end(pipe, step, timestep, tensors):
        on_step()
        return tensors

    return on_step_end
