"""Re-draw one square of an image at the model's native side and blend it back through a soft mask: the
core of the face detail pass (FaceChain's face fusion after sampling, ADetailer's "inpaint only masked").

The caller says where (a square inside the image) and how much of it may change (a mask over the square,
in [0, 1]); the square is cut out, resized to the model's native side, re-denoised by the image-to-image
pipeline of the loaded model's family (``siblings.sibling_pipeline``: the same modules, no copy), resized
back, shifted to the original's colours at the mask's soft edge, and blended. Wherever the mask is 0 the
result is the input's own pixels, exactly.
"""

from __future__ import annotations

import numpy as np
import torch
from PIL import Image

Square = tuple[int, int, int]
"""(left, top, side) in pixels, inside the image."""


def native_side(pipe) -> int:
    """The side, in pixels, the loaded model was trained at: its UNet's latent side times the VAE's factor;
    FLUX.1's transformer has no side, so its VAE's (1024 in FLUX.1)."""
    unet = getattr(pipe, "unet", None)
    return unet.config.sample_size * pipe.vae_scale_factor if unet is not None else pipe.vae.config.sample_size


def colour_matched(refined: np.ndarray, original: np.ndarray, mask: np.ndarray) -> np.ndarray:
    """``refined`` shifted, per channel, so that its mean over the mask's soft edge equals the original's
    there: the blend then joins like with like. The edge is weighted by m(1 - m), largest where the mask
    is half on; a mask with no soft edge leaves the colours alone."""
    edge = mask * (1 - mask)
    total = float(edge.sum())
    if total <= 1e-6:
        return refined
    shift = ((original - refined) * edge[..., None]).sum(axis=(0, 1)) / total
    return np.clip(refined + shift, 0, 255)


def blend(original: np.ndarray, refined: np.ndarray, mask: np.ndarray) -> np.ndarray:
    """uint8 ``original * (1 - mask) + refined * mask``, and the original's own pixels where mask is 0."""
    mixed = original.astype(np.float32) * (1 - mask[..., None]) + refined * mask[..., None]
    mixed = np.clip(np.round(mixed), 0, 255).astype(np.uint8)
    return np.where(mask[..., None] > 0, mixed, original)


def redraw_square(img2img, pixels: np.ndarray, square: Square, mask: np.ndarray, native: int, **call) -> np.ndarray:
    """``pixels`` (H, W, 3 uint8) with ``square`` re-drawn by ``img2img`` at ``native`` px and blended in by
    ``mask`` (side x side). ``call``: the pipeline's arguments (prompt, strength, generator ...); a
    ``control_image`` the size of the whole image is cut to the same square."""
    left, top, side = square
    original = pixels[top : top + side, left : left + side]
    size = (native, native)
    if call.get("control_image") is not None:
        call["control_image"] = call["control_image"].crop((left, top, left + side, top + side)).resize(size)
    crop = Image.fromarray(original).resize(size, Image.Resampling.LANCZOS)
    with torch.no_grad():
        redrawn = img2img(image=crop, **call).images[0]
    refined = np.asarray(redrawn.resize((side, side), Image.Resampling.LANCZOS), dtype=np.float32)
    refined = colour_matched(refined, original.astype(np.float32), mask)
    out = pixels.copy()
    out[top : top + side, left : left + side] = blend(original, refined, mask)
    return out
