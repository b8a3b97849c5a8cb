"""Structure control: a ControlNet (Zhang, Rao and Agrawala, "Adding Conditional Control to Text-to-Image
Diffusion Models", ICCV 2023) steers sampling by a control image, here the edges or the pose of a photo.

The control image is either the user's own (a pose skeleton or edge map made elsewhere), or made from a
photo (the template in template mode):
- canny: edges, needing no weights. scikit-image's Canny with thresholds at the 80th/90th percentile of
  the gradient (the edge share stays similar across photos of any contrast, where fixed thresholds
  tuned on one photo drop or flood the next), drawn white on black as the canny ControlNets were trained;
- openpose: body, hand and face keypoints from controlnet_aux's detector, when that package and its
  Annotators weights are on the machine (a message says what is missing otherwise).

A ControlNet belongs to one base-model family: its cross-attention width must equal the UNet's, else it is
refused by name (``diffusion.families``: 768 is SD 1.x, 1024 SD 2.x, 2048 SDXL).
"""

from __future__ import annotations

import inspect
import json
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from PIL import Image

from ...diffusion.base_model import cached_snapshot, downloaded_snapshot
from ...diffusion.families import width_title
from ...errors import EnvironmentProblem
from ...images import PhotoError, load_photo
from .request import GenerationError, GenerationRequest

CONTROLNET_FILES = ["config.json", "*.safetensors"]
"""What a ControlNet needs from a hub repository: its config and safetensors weights, never pickles."""

CANNY_SIGMA = 1.0
CANNY_QUANTILES = (0.80, 0.90)


class ControlNetUnavailable(EnvironmentProblem):
    """A ControlNet or a control-image detector that is not on this machine and cannot be fetched."""


@dataclass(frozen=True)
class Control:
    """A loaded ControlNet with its control image and how strongly and when it steers."""

    controlnet: object
    image: Image.Image
    scale: float
    start: float
    end: float

    def arguments(self, image: Image.Image, key: str) -> dict:
        """The diffusers call arguments conditioning on ``image``; ``key`` is the pipeline's name for it
        ("image" in text-to-image, "control_image" in image-to-image)."""
        return {
            key: image,
            "controlnet_conditioning_scale": self.scale,
            "control_guidance_start": self.start,
            "control_guidance_end": self.end,
        }


def control_image_name(pipe) -> str:
    """What ``pipe``'s call names the control image: "image" in SD's ControlNet text-to-image, where the
    image is the control; "control_image" in FLUX.1's and in every image-to-image variant."""
    return "control_image" if "control_image" in inspect.signature(pipe.__call__).parameters else "image"


def canny_edges(photo: Image.Image) -> Image.Image:
    """White edges on black, the size of ``photo``; the same photo always gives the same edges."""
    from skimage.feature import canny

    grey = np.asarray(photo.convert("L"), dtype=np.float64) / 255.0
    low, high = CANNY_QUANTILES
    edges = canny(grey, sigma=CANNY_SIGMA, low_threshold=low, high_threshold=high, use_quantiles=True)
    return Image.fromarray((edges * 255).astype(np.uint8)).convert("RGB")


def openpose_skeleton(photo: Image.Image) -> Image.Image:
    """The pose skeleton of ``photo`` by controlnet_aux's OpenPose detector."""
    try:
        from controlnet_aux import OpenposeDetector
    except ImportError:
        raise ControlNetUnavailable(
            "openpose control images need the controlnet_aux package (pip install controlnet-aux) and its "
            "lllyasviel/Annotators weights; without them, use --control-type canny, or make the pose image "
            "elsewhere and pass it with --control-image"
        ) from None
    try:
        detector = OpenposeDetector.from_pretrained("lllyasviel/Annotators")
    except Exception as error:  # offline, missing weights: one message
        raise ControlNetUnavailable(
            f"the OpenPose detector's weights (lllyasviel/Annotators) could not be loaded ({type(error).__name__}); "
            "download them where there is network, or pass a pose image with --control-image"
        ) from None
    return detector(photo).convert("RGB").resize(photo.size, Image.Resampling.BILINEAR)


CONTROL_MAKERS = {"canny": canny_edges, "openpose": openpose_skeleton}


def opened(path: str, what: str) -> Image.Image:
    try:
        return load_photo(path).image
    except PhotoError as error:
        raise GenerationError(f"{what} {Path(path).name}: {error}") from None


def control_image(request: GenerationRequest, template: Image.Image | None) -> Image.Image | None:
    """The control image the request asks for (None without a ControlNet): the user's own, or made by
    ``request.control_type`` from ``--control-from`` or the template."""
    if request.controlnet is None:
        return None
    if request.control_image is not None:
        return opened(request.control_image, "control image")
    source = opened(request.control_from, "control photo") if request.control_from else template
    return CONTROL_MAKERS[request.control_type](source)


def fitted(control: Image.Image, size: tuple[int, int]) -> tuple[Image.Image, str | None]:
    """``control`` at ``size`` (the image it steers), and a note when it had to be resized."""
    if control.size == size:
        return control, None
    note = f"control image {control.width}x{control.height} resized to {size[0]}x{size[1]}"
    return control.resize(size, Image.Resampling.BILINEAR), note


def controlnet_folder(source: str) -> Path:
    """A local folder holding the ControlNet ``source`` names (a folder, or a hub id in the cache or fetched)."""
    local = Path(source).expanduser()
    if local.exists():
        if not (local / "config.json").is_file():
            raise GenerationError(
                f"{source} is not a ControlNet folder (no config.json): give the folder that holds it"
            )
        return local
    found = cached_snapshot(source, CONTROLNET_FILES)
    if found is None:
        found, error = downloaded_snapshot(source, CONTROLNET_FILES)
        if found is None:
            raise ControlNetUnavailable(
                f"ControlNet '{source}' is not on this machine and could not be downloaded ({error}): download it "
                f"where there is network (huggingface-cli download {source}) and give its folder with --controlnet, "
                "or point HF_HOME at a cache that holds it"
            )
    return found


def load_controlnet(source: str, family, denoiser):
    """The ControlNet ``source`` names for a model of ``family`` whose denoiser is ``denoiser``, refused by
    name when it was made for another base-model family: it must be of the family's ControlNet class and
    read text embeddings of the denoiser's width (768 SD 1.x, 2048 SDXL; FLUX.1's T5 4096)."""
    import diffusers

    from ...model_loading import model_loading

    folder = controlnet_folder(source)
    kind, width_key = family.controlnet, family.text_width_key
    ours = denoiser.config[width_key]
    theirs = json.loads((folder / "config.json").read_text(encoding="utf-8"))
    if theirs.get("_class_name") != kind or theirs.get(width_key) != ours:
        raise GenerationError(
            f"ControlNet {source} is for another base-model family ({family_named(theirs)}) than this model "
            f"({family_named({'_class_name': kind, width_key: ours})}): use a ControlNet made for this model's family"
        )
    try:
        with model_loading():
            return getattr(diffusers, kind).from_pretrained(folder, use_safetensors=True)
    except (OSError, ValueError) as error:
        raise GenerationError(f"ControlNet {source} could not be loaded: {error}") from None


def family_named(config: dict) -> str:
    """How messages name the family a ControlNet (or model) of this config is for."""
    if config.get("_class_name") == "FluxControlNetModel":
        return f"FLUX.1 with text width {config.get('joint_attention_dim')}"
    width = config.get("cross_attention_dim")
    return f"{width_title(width)} with cross-attention width {width}"
