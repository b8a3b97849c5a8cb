"""Cached latents (``--cache-latents``): every training photo and its mirror image go through the VAE's
encoder once, before the first step, so the VAE (83.7M parameters in SD 1.5 and SDXL) can leave the
accelerator for the whole run, and no step runs the encoder at full resolution again.

What is cached is the encoder's output distribution (mean and log-variance), not a sample: each step
still draws its latent from it with the step's own generator, and the view of each photo is drawn with
the same four draws as without the cache (``data.random_view``), so a cached run is the uncached run with
whole-photo views (``crop_scale`` 1), to the bit. The cost is the random crop: views are whole photos,
as kohya's trainers require with their latent cache. Photos must be square (``facechain prepare`` makes
them so); a batch's masks are read through the same views as without the cache.
"""

from __future__ import annotations

import torch
from PIL import Image

from .config import TrainingError
from .data import Example, View, mask_views, pixels_of, random_view

WHOLE = 1.0
"""The crop scale of cached views: the whole photo."""


class LatentCache:
    """The VAE encoder's output distribution of each photo, as it is and mirrored, on the training device."""

    def __init__(self, vae, examples: list[Example], resolution: int, device, dtype):
        self.resolution = resolution
        self.sizes: dict = {}
        self.parameters: dict = {}
        for example in examples:
            if example.image in self.sizes:
                continue
            image = Image.open(example.image).convert("RGB")
            if image.width != image.height:
                raise TrainingError(
                    f"--cache-latents uses whole photos, which must be square: {example.image} is "
                    f"{image.width}x{image.height} (facechain prepare makes square photos)"
                )
            self.sizes[example.image] = image.size
            for mirror in (False, True):
                pixels = pixels_of(image, View((0, 0, *image.size), mirror), resolution)
                with torch.no_grad():
                    encoded = vae.encode(pixels[None].to(device, dtype=dtype)).latent_dist
                self.parameters[example.image, mirror] = encoded.parameters

    def sample(self, items: list[Example], generator: torch.Generator, flip: bool, masks: bool):
        """(latents (B, C, h, w) in float32, masks (B, 2, resolution, resolution) or None) for a batch,
        drawing exactly what the uncached path draws: each item's view, then one sample for the batch."""
        from diffusers.models.autoencoders.vae import DiagonalGaussianDistribution

        views = [random_view(self.sizes[item.image], generator, WHOLE, flip) for item in items]
        parameters = torch.cat([self.parameters[item.image, view.mirror] for item, view in zip(items, views)])
        latents = DiagonalGaussianDistribution(parameters).sample(generator=generator).float()
        if not masks:
            return latents, None
        seen = [mask_views(item, self.sizes[item.image], view, self.resolution) for item, view in zip(items, views)]
        return latents, torch.stack(seen)
