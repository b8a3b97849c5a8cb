"""What the UNet is conditioned on for one batch of prompts, per family.

SD 1.x reads the text encoder's hidden states through cross-attention. SDXL (Podell et al., "SDXL:
Improving Latent Diffusion Models for High-Resolution Image Synthesis", 2023) also adds, to the timestep
embedding, the second text encoder's pooled projection and six numbers: the original size, the crop's
top-left corner and the target size. Training photos here are prepared at the training resolution and
cropped from a square around the face, so the six numbers are (side, side, 0, 0, side, side), what
diffusers' SDXL pipeline passes at generation for a square image.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch


@dataclass(frozen=True)
class Conditioning:
    """states: (B, tokens, width) hidden states; pooled: (B, width_2) SDXL's pooled projection, else None."""

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
