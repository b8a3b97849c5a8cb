"""DreamBooth's prior-preservation images: pictures of the class prompt ("a photo of a man") made by
the base model itself, so training on them keeps the class as the base model knew it."""

from __future__ import annotations

from pathlib import Path

import torch

from ...atomic import staged_file

IMAGE_SUFFIXES = (".png", ".jpg", ".jpeg", ".webp")


def class_images(folder: Path) -> list[Path]:
    return sorted(
        p for p in Path(folder).glob("*") if p.suffix.lower() in IMAGE_SUFFIXES and not p.name.startswith(".")
    )


def generate_class_images(model_dir: Path, prompt: str, folder: Path, count: int, resolution: int, seed: int) -> None:
    """Top ``folder`` up to ``count`` images of ``prompt`` (image i from seed + i, each written whole) with the
    base model's own pipeline, on the GPU when there is one."""
    import diffusers

    from ...diffusion.families import folder_family
    from ..generation.generate import PipelineCache

    folder.mkdir(parents=True, exist_ok=True)
    have = len(class_images(folder))
    if have >= count:
        return
    pipe = PipelineCache().get(model_dir)  # the family's portrait pipeline, no LoRA loaded
    if folder_family(model_dir).objective != "flow":  # FLUX.1 samples with its own flow-matching scheduler
        pipe.scheduler = diffusers.DPMSolverMultistepScheduler.from_config(pipe.scheduler.config)
    for index in range(have, count):
        image = pipe(
            prompt,
            height=resolution,
            width=resolution,
            num_inference_steps=25,
            generator=torch.Generator().manual_seed(seed + index),
        ).images[0]
        with staged_file(folder / f"class-{index:04d}.png") as staging:
            image.save(staging)
