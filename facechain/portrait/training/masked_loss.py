"""The denoising loss, per sample, optionally weighted pixel by pixel by the masks ``prepare`` writes.

The idea is the masked loss of kohya's sd-scripts (the per-pixel loss times a mask, area-resized to
the latents, then the plain mean) and of ai-toolkit (whose ``mask_min_value`` keeps a floor weight for
what the mask leaves out); the weights here are FaceChain Studio's own. With ``--face-loss-weight W`` (W >= 1), a latent
pixel with photo mask p and face mask f in [0, 1] (area averages over its 8x8 image pixels) weighs

    w = p * (f + (1 - f) / W)

and the loss of a sample is mean over channels and latent pixels of w * (prediction - target)^2.

- p leaves the area ``prepare`` filled (outside the photo) out of the loss: the LoRA sees the fill
  as context but is not taught to draw it.
- Face pixels weigh 1 and the rest 1/W: W = 1 keeps only the photo mask, larger W concentrates the
  learning on the face. The gradient outside the face is the plain one divided by W.
- The mean is over all pixels (as kohya's), not over the weights' sum: a face pixel's gradient is
  exactly what plain training gives it, so the learning rate keeps its meaning, and all-ones masks
  give the plain loss to the bit (w is exactly 1, and x * 1.0 is x).

SuDe's term is left unweighted: it compares whole-sample posterior means of the subject and the
category prompt, a per-sample regularizer, not a reconstruction of pixels.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F


def loss_weights(masks: torch.Tensor, face_loss_weight: float, size: tuple[int, int]) -> torch.Tensor:
    """(B, 1, h, w) weights ``w = p * (f + (1 - f) / W)`` from (B, 2, H, W) photo and face masks in
    [0, 1], area-averaged to the latents' ``size`` (h, w)."""
    photo, face = F.interpolate(masks, size=size, mode="area").unbind(1)
    return (photo * (face + (1.0 - face) / face_loss_weight)).unsqueeze(1)


def denoising_loss(prediction: torch.Tensor, target: torch.Tensor, weights: torch.Tensor | None = None) -> torch.Tensor:
    """Per-sample mean squared error, each element times ``weights`` (broadcast over channels) when given."""
    errors = F.mse_loss(prediction, target, reduction="none")
    if weights is not None:
        errors = errors * weights
    return errors.mean(dim=(1, 2, 3))
