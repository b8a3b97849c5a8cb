"""PortraitPipeline (SD 1.x), PortraitXLPipeline (SDXL) and PortraitFluxPipeline (FLUX.1): a base model
with a person's LoRA "digital twin" and an optional style LoRA, each a named PEFT adapter with its own
weight, in diffusers' own vocabulary.

Adapters stay separate from the base weights (no merge), so changing a style or a weight is a call
to ``set_adapters``, not a reload of the base model; the base model is never altered. What differs
from ``StableDiffusionPipeline``: ``load_lora_weights`` opens only checked safetensors files (a pickled
LoRA can run code), and ``set_adapters`` means "exactly these adapters, with these weights" (an empty
list turns every LoRA off). Solvers by name are in ``pipelines.schedulers.PORTRAIT_SOLVERS``.

    pipe = PortraitPipeline.from_pretrained("stable-diffusion-v1-5/stable-diffusion-v1-5")
    pipe.load_lora_weights("runs/me/model", adapter_name="person")
    pipe.set_adapters(["person"], [0.9])
    pipe.scheduler = PORTRAIT_SOLVERS["dpm++"].build(pipe.scheduler.config)
    image = pipe("sks, a man, natural light portrait", generator=torch.Generator().manual_seed(1)).images[0]
"""

from __future__ import annotations

from pathlib import Path

from diffusers import FluxPipeline, StableDiffusionPipeline, StableDiffusionXLPipeline

from .lora_files import HUB_ID, LORA_WEIGHTS, check_lora_file


class PortraitAdapters:
    """What a portrait pipeline of any family adds to diffusers' own: LoRAs only from checked safetensors,
    ``set_adapters`` meaning "exactly these", and the face detail pass for a given square and mask. Mixed
    in before the family's diffusers pipeline class."""

    def load_lora_weights(self, pretrained_model_name_or_path_or_dict, adapter_name: str | None = None, **kwargs):
        """diffusers' ``load_lora_weights`` for safetensors only.

        Args:
            pretrained_model_name_or_path_or_dict: a local file, a local folder (its ``weight_name`` or
                ``pytorch_lora_weights.safetensors``), a hub id ("owner/name"), or a state dict. A local file
                is checked with ``check_lora_file`` before it is opened (a missing one is refused by name);
                from the hub only safetensors are fetched.
            adapter_name: the PEFT adapter name, used by ``set_adapters``.
            **kwargs: passed on to diffusers (``weight_name``, ...).
        """
        source = pretrained_model_name_or_path_or_dict
        if isinstance(source, Path) or (
            isinstance(source, str) and (Path(source).exists() or not HUB_ID.match(source))
        ):
            path = Path(source)
            if path.is_dir():
                path = path / kwargs.setdefault("weight_name", LORA_WEIGHTS)
            else:
                source, kwargs["weight_name"] = path.parent, path.name
            check_lora_file(path)  # a missing or mistyped local path is refused here, not sent to the hub
            source = str(source)
        kwargs["use_safetensors"] = True
        super().load_lora_weights(source, adapter_name=adapter_name, **kwargs)

    def set_adapters(self, adapter_names: list[str] | str, adapter_weights=None) -> None:
        """Use exactly these adapters with these weights; every other loaded adapter is off.

        Args:
            adapter_names: adapter names as given to ``load_lora_weights``; empty turns every LoRA off.
            adapter_weights: one weight per name (or one for all); None: 1.0 each.
        """
        if adapter_names:
            self.enable_lora()
            super().set_adapters(adapter_names, adapter_weights)
        elif any(self.get_list_adapters().values()):
            self.disable_lora()

    def refine_square(self, image, square: tuple[int, int, int], mask, controlnet=None, **call):
        """``image`` with the square ``(left, top, side)`` re-drawn at the model's native side by the
        image-to-image pipeline built on this pipeline's modules (LoRA adapters included) and blended back
        through ``mask`` (side x side, in [0, 1]; 0 keeps the input's pixels exactly): the face detail pass
        for a face your own detector found (``pipelines.face_detail``).

        Args:
            image: a PIL image.
            square: where, in ``image``'s pixels.
            mask: how much of each pixel of the square may change (e.g. a feathered face oval).
            controlnet: a ``ControlNetModel`` of this family; then pass ``control_image`` the size of ``image``.
            **call: image-to-image arguments: prompt, negative_prompt, strength, num_inference_steps,
                guidance_scale, generator, callback_on_step_end, the ControlNet's conditioning scale and window.
        """
        import numpy as np
        from PIL import Image

        from .face_detail import native_side, redraw_square
        from .siblings import sibling_pipeline

        left, top, side = square
        if left < 0 or top < 0 or side < 1 or left + side > image.width or top + side > image.height:
            raise ValueError(f"the square {square} does not lie inside the {image.width}x{image.height} image")
        mask = np.asarray(mask, dtype=np.float32)
        if mask.shape != (side, side):
            raise ValueError(f"the mask is {mask.shape}; the square needs ({side}, {side})")
        img2img = sibling_pipeline(self, "image2image", controlnet)
        pixels = np.asarray(image.convert("RGB"))
        return Image.fromarray(redraw_square(img2img, pixels, square, mask, native_side(self), **call))


class PortraitPipeline(PortraitAdapters, StableDiffusionPipeline):
    """``StableDiffusionPipeline`` (SD 1.x) with ``PortraitAdapters``."""


class PortraitXLPipeline(PortraitAdapters, StableDiffusionXLPipeline):
    """``StableDiffusionXLPipeline`` with ``PortraitAdapters``: the same calls on SDXL base models."""


class PortraitFluxPipeline(PortraitAdapters, FluxPipeline):
    """``FluxPipeline`` with ``PortraitAdapters``: the same calls on FLUX.1 base models (no negative prompt
    unless ``true_cfg_scale`` > 1; ``guidance_scale`` is what FLUX.1-dev's guidance embedding reads)."""
