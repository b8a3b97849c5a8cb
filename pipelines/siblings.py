"""The other tasks of a loaded text-to-image pipeline, sharing its weights.

The face detail pass needs image-to-image, structure control needs the ControlNet variant: diffusers'
``from_pipe`` builds either around the very modules of the loaded pipeline (UNet, VAE, text encoder,
scheduler, and the LoRA adapters that live inside the UNet), so no weight is loaded or copied twice.
The class for a task is looked up in diffusers' own AutoPipeline tables by the family of the loaded
pipeline (found along its class hierarchy, so our ``PortraitPipeline`` counts as Stable Diffusion), which
keeps this code the same for every family diffusers maps (SD 1.5, SDXL, FLUX.1 ...).
"""

from __future__ import annotations

from typing import Literal

Task = Literal["text2image", "image2image"]


def family_key(pipe) -> str:
    """diffusers' AutoPipeline key of ``pipe``'s family ("stable-diffusion", "stable-diffusion-xl", "flux" ...)."""
    from diffusers.pipelines.auto_pipeline import AUTO_TEXT2IMAGE_PIPELINES_MAPPING

    for klass in type(pipe).__mro__:
        for key, candidate in AUTO_TEXT2IMAGE_PIPELINES_MAPPING.items():
            if candidate is klass:
                return key
    raise TypeError(f"{type(pipe).__name__} is not a text-to-image pipeline of a family diffusers maps")


def sibling_pipeline(pipe, task: Task, controlnet=None):
    """The ``task`` pipeline of ``pipe``'s family, built on ``pipe``'s own modules (``from_pipe``); with
    ``controlnet``, the family's ControlNet variant conditioned by it."""
    from diffusers.pipelines.auto_pipeline import (
        AUTO_IMAGE2IMAGE_PIPELINES_MAPPING,
        AUTO_TEXT2IMAGE_PIPELINES_MAPPING,
    )

    table = {"text2image": AUTO_TEXT2IMAGE_PIPELINES_MAPPING, "image2image": AUTO_IMAGE2IMAGE_PIPELINES_MAPPING}[task]
    key = family_key(pipe) + ("-controlnet" if controlnet is not None else "")
    if key not in table:
        raise TypeError(f"diffusers has no {task} pipeline for {key}")
    extra = {} if controlnet is None else {"controlnet": controlnet}
    sibling = table[key].from_pipe(pipe, **extra)
    sibling.set_progress_bar_config(disable=True)
    return sibling
