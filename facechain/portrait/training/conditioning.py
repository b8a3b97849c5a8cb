"""What the denoiser is conditioned on for one batch of prompts, per family.

SD 1.x reads the text encoder's hidden states through cross-attention. SDXL (Podell et al., "SDXL:
Improving Latent Diffusion Models for High-Resolution Image Synthesis", 2023) also adds, to the timestep
embedding, the second text encoder's pooled projection and six numbers: the original size, the crop's
top-left corner and the target size. Training photos here are prepared at the training resolution and
cropped from a square around the face, so the six numbers are (side, side, 0, 0, side, side), what
diffusers' SDXL pipeline passes at generation for a square image.

FLUX.1 has no cross-attention: its transformer attends jointly over T5's hidden states (the ``states``)
and the image's latent patches, and adds CLIP's pooled embedding (the ``pooled``), the time and, in
FLUX.1-dev, a guidance value to its modulation. Latents enter as 2x2 patches, one token each, with
rotary positions (0, row, column); text tokens sit at position (0, 0, 0), as diffusers' FluxPipeline
places them.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch


@dataclass(frozen=True)
class Conditioning:
    """states: (B, tokens, width) hidden states (FLUX.1: T5's); pooled: (B, width_2) SDXL's pooled
    projection or FLUX.1's CLIP pooled embedding, else None."""

    states: torch.Tensor
    pooled: torch.Tensor | None = None

    @classmethod
    def joined(cls, parts: list[Conditioning]) -> Conditioning:
        """The batch of ``parts``, in order."""
        pooled = [part.pooled for part in parts]
        return cls(
            torch.cat([part.states for part in parts]),
            None if pooled[0] is None else torch.cat(pooled),
        )

    def repeat(self, count: int) -> Conditioning:
        """One prompt's conditioning for a batch of ``count``."""
        return Conditioning(
            self.states.expand(count, -1, -1), None if self.pooled is None else self.pooled.expand(count, -1)
        )

    def unet_arguments(self, side: int, batch: int) -> dict:
        """The UNet's keyword arguments for a batch of ``batch`` square images of ``side`` pixels."""
        arguments = {"encoder_hidden_states": self.states}
        if self.pooled is not None:
            sizes = torch.tensor([[side, side, 0, 0, side, side]], dtype=self.pooled.dtype, device=self.pooled.device)
            arguments["added_cond_kwargs"] = {"text_embeds": self.pooled, "time_ids": sizes.expand(batch, -1)}
        return arguments


def flux_velocity(transformer, latents: torch.Tensor, times: torch.Tensor, conditioning: Conditioning, guidance):
    """FLUX.1's velocity for latents (B, C, H, W) at times t in (0, 1), returned as (B, C, H, W) so losses
    and masks see the latent grid; ``guidance``: the value FLUX.1-dev's guidance embedding reads (None
    for a model without one, e.g. schnell)."""
    from diffusers import FluxPipeline

    batch, channels, height, width = latents.shape
    tokens = FluxPipeline._pack_latents(latents, batch, channels, height, width)
    image_ids = FluxPipeline._prepare_latent_image_ids(batch, height // 2, width // 2, latents.device, latents.dtype)
    text_ids = torch.zeros(conditioning.states.shape[1], 3, device=latents.device, dtype=latents.dtype)
    velocity = transformer(
        hidden_states=tokens,
        timestep=times.to(latents.dtype),
        guidance=None if guidance is None else torch.full((batch,), guidance, device=latents.device),
        pooled_projections=conditioning.pooled,
        encoder_hidden_states=conditioning.states,
        txt_ids=text_ids,
        img_ids=image_ids,
    ).sample
    return FluxPipeline._unpack_latents(velocity, height, width, 1)
