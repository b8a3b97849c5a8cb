"""Training crops whose area outside the photo is filled plausibly, with the mask of the photo's pixels.

``align_face`` fills what lies outside the photo with one flat colour, as FaceChain pads; a LoRA trained
on such crops learns to draw the frames. Here the photo is mirrored at its edges and blurred instead,
and the mask says which pixels are the photo's, so training can leave the fill out of its loss.
"""

from __future__ import annotations

from typing import NamedTuple

import numpy as np
from PIL import Image, ImageFilter
from scipy import ndimage

from .align import CropSpec, source_and_inverse, warp


class FilledCrop(NamedTuple):
    """A training crop: ``image`` with what lies outside the photo filled plausibly, ``photo_mask`` (L)
    255 where the pixel comes from the photo and 0 where it is filled."""

    image: Image.Image
    photo_mask: Image.Image


FILL_BLUR = 1 / 16
"""Gaussian sigma of the fill, as a share of the crop side (32 px at 512): mirrored features (hair, a
shoulder) become soft colour fields that still continue the photo's colours (1/24 left a mirrored
second head recognisable on the astronaut)."""


def filled_crop(image: Image.Image, landmarks: np.ndarray, spec: CropSpec = CropSpec()) -> FilledCrop:
    """``align_face``'s crop of an RGB photo, with the area outside the photo filled instead of flat
    ``spec.fill``: a training set of flat frames teaches the LoRA to draw frames.

    The fill is the photo mirrored at its edges (the same transform, with coordinates reflected about
    the edge pixels' centres), blurred by ``FILL_BLUR``; at the photo's edge it starts unblurred and
    turns to the blurred copy over half the blur's sigma (16 px at 512), so no seam marks the edge. The
    photo's own pixels are ``align_face``'s, bit for bit: only pixels ``photo_mask`` marks 0 differ.
    """
    source, inverse = source_and_inverse(image.convert("RGB"), landmarks, spec)
    crop = warp(source, inverse, spec.size, spec.fill)
    photo_mask = warp(Image.new("L", source.size, 255), inverse, spec.size, 0, Image.Resampling.NEAREST)
    covered = np.asarray(photo_mask) == 255
    if covered.all():
        return FilledCrop(crop, photo_mask)
    sigma = FILL_BLUR * spec.size
    mirrored = _mirrored_warp(source, inverse, spec.size)
    sharp = np.asarray(mirrored, dtype=np.float32)
    blurred = np.asarray(mirrored.filter(ImageFilter.GaussianBlur(sigma)), dtype=np.float32)
    blend = np.clip(ndimage.distance_transform_edt(~covered) / (sigma / 2), 0.0, 1.0)[..., None]
    fill = np.rint(sharp + blend * (blurred - sharp)).astype(np.uint8)
    return FilledCrop(Image.fromarray(np.where(covered[..., None], np.asarray(crop), fill)), photo_mask)


def _mirrored_warp(source: Image.Image, inverse: np.ndarray, size: int) -> Image.Image:
    """``source`` (RGB) sampled (bilinear) through ``inverse`` as PIL's transform does (pixel centres at
    +0.5), reflected about the edge pixels' centres where the coordinates leave the image (OpenCV's
    BORDER_REFLECT_101, scipy's "mirror")."""
    pixels = np.asarray(source, dtype=np.float32)
    centres = np.arange(size) + 0.5
    x, y = np.meshgrid(centres, centres)
    rows = inverse[1, 0] * x + inverse[1, 1] * y + inverse[1, 2] - 0.5
    cols = inverse[0, 0] * x + inverse[0, 1] * y + inverse[0, 2] - 0.5
    channels = [ndimage.map_coordinates(pixels[..., c], (rows, cols), order=1, mode="mirror") for c in range(3)]
    return Image.fromarray(np.rint(np.stack(channels, axis=-1)).astype(np.uint8))
