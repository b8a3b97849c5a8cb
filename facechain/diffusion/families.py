"""The model families the product knows, and which family a model, a checkpoint or a LoRA belongs to.

A family owns what differs between base models: the diffusers pipeline, the denoiser's architecture and
LoRA targets (``architectures``), kohya's names (``kohya_names``), the default resolution, the training
objective, the cross-attention width that ties LoRAs and ControlNets to it, the portrait pipeline, the
second text encoder and the ControlNet class. Adding a family is one entry in ``FAMILIES`` (and its
architecture and kohya names).

The family is read from the model itself, never from its name:
- a diffusers folder: ``model_index.json``'s pipeline class, else the denoiser's config;
- a single-file checkpoint (A1111/ComfyUI ``.safetensors``): the names of its tensors, from the header
  alone (SD 1.x has ``cond_stage_model.transformer``, SD 2.x ``cond_stage_model.model`` (OpenCLIP), SDXL
  ``conditioner.embedders``, FLUX.1 ``double_blocks``);
- a LoRA (diffusers', PEFT's or kohya's layout): FLUX.1 by its block names, SD 1.x / 2.x / SDXL by the
  input width of a cross-attention key projection (768 / 1024 / 2048: the text embedding it reads),
  SDXL also by its second text encoder's keys.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from pathlib import Path

from ..errors import BadArguments
from .architectures import Architecture, architecture
from .tiny import TINY_WIDTH


@dataclass(frozen=True)
class Family:
    """name: the registry key (the CLI's spelling); title: how messages name it; pipeline: the diffusers
    text-to-image class; auto_key: its key in diffusers' AutoPipeline tables; resolution: its native side;
    objective: what the denoiser is trained to predict ("epsilon" noise, or "flow" the rectified-flow
    velocity); cross_attention: the text-embedding width its cross-attention reads (None: joint attention,
    no cross-attention); portrait_pipeline: the class in ``pipelines`` that generation loads;
    second_encoder: the transformers classes of its second tokenizer and text encoder (None: one
    encoder); controlnet: the diffusers class of its ControlNets; text_tokens: the text tokens its
    denoiser attends to (CLIP's 77; FLUX.1-dev's T5 sequence of 512)."""

    name: str
    title: str
    pipeline: str
    auto_key: str
    resolution: int
    objective: str
    cross_attention: int | None
    portrait_pipeline: str
    second_encoder: tuple[str, str] | None
    controlnet: str
    text_tokens: int

    @property
    def text_width_key(self) -> str:
        """The denoiser's (and its ControlNets') config key for the text-embedding width it reads."""
        return "cross_attention_dim" if self.cross_attention else "joint_attention_dim"

    @property
    def architecture(self) -> Architecture:
        return architecture(self.name)


FAMILIES = {
    family.name: family
    for family in (
        Family(
            name="sd15",
            title="SD 1.x",
            pipeline="StableDiffusionPipeline",
            auto_key="stable-diffusion",
            resolution=512,
            objective="epsilon",
            cross_attention=768,
            portrait_pipeline="PortraitPipeline",
            second_encoder=None,
            controlnet="ControlNetModel",
            text_tokens=77,
        ),
        Family(
            name="sdxl",
            title="SDXL",
            pipeline="StableDiffusionXLPipeline",
            auto_key="stable-diffusion-xl",
            resolution=1024,
            objective="epsilon",
            cross_attention=2048,
            portrait_pipeline="PortraitXLPipeline",
            second_encoder=("CLIPTokenizer", "CLIPTextModelWithProjection"),  # OpenCLIP bigG, pooled projection
            controlnet="ControlNetModel",
            text_tokens=77,
        ),
        Family(
            name="flux1",
            title="FLUX.1",
            pipeline="FluxPipeline",
            auto_key="flux",
            resolution=1024,
            objective="flow",
            cross_attention=None,
            portrait_pipeline="PortraitFluxPipeline",
            second_encoder=("T5TokenizerFast", "T5EncoderModel"),
            controlnet="FluxControlNetModel",
            text_tokens=512,
        ),
    )
}
UNSUPPORTED_WIDTHS = {1024: "SD 2.x"}
"""Families recognised so that they can be refused by name: SD 2.x's cross-attention reads OpenCLIP-H's
1024-wide embeddings."""


class UnknownFamily(BadArguments):
    """A model, checkpoint or LoRA whose family is not one the product knows; the message says what it is."""


def family_by_width(width: int) -> Family:
    """The family whose cross-attention reads ``width``-wide text embeddings; the tiny offline model's
    width is SD 1.x's layout at 32 wide (``tiny.py``)."""
    for family in FAMILIES.values():
        if family.cross_attention == width:
            return family
    if width == TINY_WIDTH:
        return FAMILIES["sd15"]
    name = UNSUPPORTED_WIDTHS.get(width, "an unknown family")
    raise UnknownFamily(f"{name} (cross-attention width {width}), a family facechain does not support")


def refuse_unsupported_width(width: int | None) -> None:
    """Refuse, naming it, a model whose cross-attention width is a family facechain does not support (an
    SD 2.x model under SD 1.x's pipeline class)."""
    if width in UNSUPPORTED_WIDTHS:
        family_by_width(width)  # raises, naming it


def width_title(width: int) -> str:
    """How messages name the family whose cross-attention reads ``width``-wide text embeddings."""
    try:
        return family_by_width(width).title
    except UnknownFamily:
        return UNSUPPORTED_WIDTHS.get(width, "an unknown family")


def pipeline_family(pipe) -> Family:
    """The family of a loaded pipeline, by its class in diffusers' AutoPipeline tables (our subclasses
    count as their parents); an SD pipeline whose cross-attention reads another width (SD 2.x) is refused."""
    from pipelines.siblings import family_key

    try:
        key = family_key(pipe)
    except TypeError as error:
        raise UnknownFamily(str(error)) from None
    for family in FAMILIES.values():
        if family.auto_key == key:
            refuse_unsupported_width(getattr(getattr(pipe, "unet", None), "config", {}).get("cross_attention_dim"))
            return family
    raise UnknownFamily(f"{type(pipe).__name__} ({key}) is not a pipeline of a family facechain knows")


def folder_family(folder: Path) -> Family:
    """The family of a diffusers model folder."""
    folder = Path(folder)
    unet = folder / "unet" / "config.json"
    width = int(json.loads(unet.read_text(encoding="utf-8"))["cross_attention_dim"]) if unet.is_file() else None
    index = folder / "model_index.json"
    if index.is_file():
        pipeline = json.loads(index.read_text(encoding="utf-8")).get("_class_name", "")
        for family in FAMILIES.values():
            if pipeline == family.pipeline:
                refuse_unsupported_width(width)  # SD 2.x ships as a StableDiffusionPipeline too
                return family
    if width is not None:
        return family_by_width(width)
    transformer = folder / "transformer" / "config.json"
    if transformer.is_file():
        name = json.loads(transformer.read_text(encoding="utf-8")).get("_class_name")
        if name == FAMILIES["flux1"].architecture.denoiser.class_name:
            return FAMILIES["flux1"]
    raise UnknownFamily(f"{folder}: not a model folder of a family facechain knows ({', '.join(FAMILIES)})")


CHECKPOINT_MARKERS = (
    ("double_blocks.", "flux1"),
    ("conditioner.embedders.", "sdxl"),
    ("cond_stage_model.model.", None),  # OpenCLIP text tower: SD 2.x
    ("cond_stage_model.transformer.", "sd15"),
)
"""(tensor-name fragment, family) in the order they decide a single-file checkpoint; None: SD 2.x."""


def safetensors_header(path: Path) -> dict:
    """The JSON header of a safetensors file (names, dtypes, shapes): read without loading any tensor."""
    with open(path, "rb") as file:
        size = int.from_bytes(file.read(8), "little")
        if not 2 <= size <= 100_000_000:
            raise UnknownFamily(f"{path}: not a safetensors file (header size {size})")
        try:
            header = json.loads(file.read(size))
        except ValueError:
            raise UnknownFamily(f"{path}: not a safetensors file (unreadable header)") from None
    header.pop("__metadata__", None)
    return header


def checkpoint_family(path: Path) -> Family:
    """The family of a single-file checkpoint, from its tensor names."""
    names = safetensors_header(Path(path))
    for marker, family in CHECKPOINT_MARKERS:
        if any(marker in name for name in names):
            if family is None:
                raise UnknownFamily(f"{Path(path).name} is an SD 2.x checkpoint, a family facechain does not support")
            return FAMILIES[family]
    raise UnknownFamily(f"{Path(path).name}: no tensor names of a Stable Diffusion or FLUX.1 checkpoint")


FLUX_LORA = re.compile(r"^(transformer\.|lora_unet_(double|single)_blocks_)|single_transformer_blocks")
"""diffusers' FLUX.1 LoRA keys sit under ``transformer.``; kohya's name Black Forest Labs' double and single
blocks (SD UNets have ``transformer_blocks`` inside their attentions, hence the anchors)."""
CROSS_ATTENTION_KEY = re.compile(r"attn2[._]to_k[._].*(lora[._]down|lora_A)")
SECOND_TEXT_ENCODER = re.compile(r"^(text_encoder_2\.|lora_te2_)")


def lora_family(path: Path) -> Family | None:
    """The family a LoRA file was made for; None when its keys do not tell (a text-encoder-only LoRA)."""
    header = safetensors_header(Path(path))
    if any(FLUX_LORA.search(name) for name in header):
        return FAMILIES["flux1"]
    for name, entry in header.items():
        if CROSS_ATTENTION_KEY.search(name):
            return family_by_width(int(entry["shape"][-1]))
    if any(SECOND_TEXT_ENCODER.search(name) for name in header):
        return FAMILIES["sdxl"]
    return None


def check_lora_family(path: Path, family: Family, what: str) -> None:
    """Refuse, by name, a LoRA made for another family than ``family``."""
    try:
        theirs = lora_family(path)
    except UnknownFamily as error:
        raise UnknownFamily(f"{what} {Path(path).name}: made for {error}") from None
    if theirs is not None and theirs.name != family.name:
        raise UnknownFamily(
            f"{what} {Path(path).name} is made for {theirs.title} and this model is {family.title}: "
            f"use a LoRA made for {family.title}"
        )
