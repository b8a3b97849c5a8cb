"""Image-quality measures of an aligned face, comparable across photos of any resolution."""

from __future__ import annotations

from dataclasses import replace

import numpy as np
from PIL import Image

from .align import CANONICAL, align_face

INNER_FACE = (slice(30, 100), slice(20, 92))
"""Rows and columns of the 112x112 canonical face that hold brows, eyes, nose and mouth: hair,
ears and background would make the measure depend on the scene rather than on the face."""


def canonical_face(image: Image.Image, landmarks: np.ndarray) -> np.ndarray:
    """The face in the 112x112 ArcFace frame as float greyscale in [0, 255], NaN outside the photo."""
    rgba = align_face(image.convert("RGBA"), landmarks, replace(CANONICAL, fill=(0, 0, 0, 0)))
    grey = np.asarray(rgba.convert("L"), dtype=np.float64)
    return np.where(np.asarray(rgba.getchannel("A")) == 255, grey, np.nan)


def sharpness(face: np.ndarray) -> float:
    """Variance of the 4-neighbour Laplacian (Pech-Pacheco et al., ICPR 2000) over the inner face:
    low means blurred. Measured on the canonical face, so blur counts relative to the face's size;
    pixels next to the photo's edge (NaN) are left out, since the edge itself is no detail."""
    laplacian = face[1:-1, :-2] + face[1:-1, 2:] + face[:-2, 1:-1] + face[2:, 1:-1] - 4.0 * face[1:-1, 1:-1]
    rows, cols = INNER_FACE
    inner = laplacian[rows.start - 1 : rows.stop - 1, cols.start - 1 : cols.stop - 1]
    inner = inner[np.isfinite(inner)]
    return float(inner.var()) if inner.size else 0.0


def difference_hash(grey: np.ndarray, side: int = 16) -> np.ndarray:
    """Boolean gradient-sign hash of a greyscale image (dHash): copies of one shot give (near) equal bits."""
    small = np.asarray(
        Image.fromarray(grey.astype(np.uint8)).resize((side + 1, side), Image.Resampling.BOX), dtype=np.float64
    )
    return (small[:, 1:] > small[:, :-1]).ravel()
