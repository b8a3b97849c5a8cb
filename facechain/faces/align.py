"""Align a face from its 5 landmarks: one similarity transform fixes roll, scale and position.

The landmarks are fitted (least squares, Umeyama 1991) to the ArcFace 112x112 template, whose
frame is taken as the face box. Placing that frame in the crop as FaceChain does (face side =
``face_fraction`` of the crop, its centre at ``face_center_y`` of the height) gives the training
crop; the same fit at 112x112 gives the canonical face used for quality measures.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from PIL import Image

from ..errors import BadArguments

# Left eye, right eye, nose tip, left and right mouth corner in the 112x112 ArcFace frame.
ARCFACE_TEMPLATE = np.array(
    [[38.2946, 51.6963], [73.5318, 51.5014], [56.0252, 71.7366], [41.5493, 92.3655], [70.7299, 92.2041]],
    dtype=np.float64,
)
TEMPLATE_SIDE = 112.0


@dataclass(frozen=True)
class CropSpec:
    """Where the face sits in a training crop.

    FaceChain v1 draws face_fraction from U(0.35, 0.45) and the face centre's height from
    U(0.35, 0.50); v3 uses a fixed crop and leaves randomness to training augmentation. The
    defaults are the middles of those ranges.
    """

    size: int = 512
    face_fraction: float = 0.40
    face_center_y: float = 0.42
    fill: tuple[int, ...] = (255, 255, 255)

    def __post_init__(self):
        if not 0.05 <= self.face_fraction <= 1.0:
            raise BadArguments(f"face_fraction must be in [0.05, 1], got {self.face_fraction}")
        if not 0.0 <= self.face_center_y <= 1.0:
            raise BadArguments(f"face_center_y must be in [0, 1], got {self.face_center_y}")
        if self.size < 64:
            raise BadArguments(f"crop size must be at least 64 px, got {self.size}")


CANONICAL = CropSpec(size=112, face_fraction=1.0, face_center_y=0.5)
"""The ArcFace frame itself: the face fills the 112x112 crop."""


def similarity_transform(source: np.ndarray, target: np.ndarray) -> np.ndarray:
    """2x3 matrix of the rotation + uniform scale + translation that best maps source onto target
    points in the least-squares sense (Umeyama, "Least-squares estimation of transformation
    parameters between two point patterns", TPAMI 1991)."""
    source = np.asarray(source, dtype=np.float64)
    target = np.asarray(target, dtype=np.float64)
    source_mean, target_mean = source.mean(0), target.mean(0)
    source_centred, target_centred = source - source_mean, target - target_mean
    covariance = target_centred.T @ source_centred / len(source)
    u, singular, vt = np.linalg.svd(covariance)
    sign = np.diag([1.0, np.sign(np.linalg.det(u) * np.linalg.det(vt)) or 1.0])
    rotation = u @ sign @ vt
    scale = np.trace(np.diag(singular) @ sign) / source_centred.var(0).sum()
    translation = target_mean - scale * rotation @ source_mean
    return np.hstack([scale * rotation, translation[:, None]])


def crop_targets(spec: CropSpec) -> np.ndarray:
    """Where the template's 5 points land in a crop made to ``spec``."""
    zoom = spec.size * spec.face_fraction / TEMPLATE_SIDE
    centre = np.array([spec.size / 2.0, spec.face_center_y * spec.size])
    return (ARCFACE_TEMPLATE - TEMPLATE_SIDE / 2.0) * zoom + centre


def crop_matrix(landmarks: np.ndarray, spec: CropSpec) -> np.ndarray:
    """2x3 matrix from image pixels to crop pixels."""
    return similarity_transform(landmarks, crop_targets(spec))


def roll_degrees(landmarks: np.ndarray) -> float:
    """Angle of the eye line, in degrees, counter-clockwise positive as seen in the image."""
    (left_x, left_y), (right_x, right_y) = landmarks[0], landmarks[1]
    return float(np.degrees(np.arctan2(-(right_y - left_y), right_x - left_x)))


def align_face(image: Image.Image, landmarks: np.ndarray, spec: CropSpec = CropSpec()) -> Image.Image:
    """The face cut out upright, sized and placed as ``spec`` says; outside the photo is ``spec.fill``."""
    source, inverse = source_and_inverse(image, landmarks, spec)
    return warp(source, inverse, spec.size, spec.fill)


def source_and_inverse(image: Image.Image, landmarks: np.ndarray, spec: CropSpec) -> tuple[Image.Image, np.ndarray]:
    """The image to sample and the 2x3 map from crop to its pixels. Large downscales are first done by
    box-filter reduction so the crop does not alias."""
    matrix = crop_matrix(landmarks, spec)
    scale = float(np.sqrt(abs(np.linalg.det(matrix[:, :2]))))
    reduce_by = max(1, int(0.5 / scale)) if scale < 0.5 else 1
    if reduce_by > 1:
        image = image.reduce(reduce_by)
        matrix = matrix.copy()
        matrix[:, :2] *= reduce_by
    return image, np.linalg.inv(np.vstack([matrix, [0.0, 0.0, 1.0]]))[:2]


def warp(source: Image.Image, inverse: np.ndarray, size: int, fill, resample=Image.Resampling.BICUBIC) -> Image.Image:
    """``source`` resampled into a size x size crop through the crop-to-source map ``inverse``, ``fill``
    where a pixel's centre maps outside the source. PIL makes that test before any filter, so the pixels
    filled are the same for every ``resample``: an all-255 source warped with NEAREST marks exactly the
    pixels a BICUBIC crop takes from the photo."""
    return source.transform(
        (size, size), Image.Transform.AFFINE, tuple(inverse.ravel()), resample=resample, fillcolor=fill
    )


def aligned_landmarks(landmarks: np.ndarray, spec: CropSpec) -> np.ndarray:
    """The landmarks mapped into the crop; their residual from the template carries pose and expression."""
    matrix = crop_matrix(landmarks, spec)
    return np.asarray(landmarks, dtype=np.float64) @ matrix[:, :2].T + matrix[:, 2]
