"""Where the face is, as a soft mask: an ellipse fitted to the 5 landmarks, feathered outwards.

Training weighs its loss by this mask (``--face-loss-weight``) and a face pass can repaint just this
area; both need "forehead to chin, cheek to cheek" from nothing but the landmarks of
``faces.types.Face`` (left eye, right eye, nose tip, left and right mouth corner), in any image.

The ellipse is sized on the ArcFace template (``align.ARCFACE_TEMPLATE``, the 112x112 frame that
ArcFace crops and FaceChain's training crops put around a face), where it spans x 17..95 and y 11..113:
- width axis along the eye line; half-width ``HALF_WIDTH`` x the eye distance, 1.1 x 35.2 = 38.7 px.
  A face is about 2.1 eye distances wide at the cheekbones (bizygomatic width ~135 mm over ~63 mm
  between the pupils); 2.2 keeps the cheeks' edges in.
- height axis across it; half-height ``HALF_HEIGHT`` x the eye-to-mouth distance (eye midpoint to
  mouth midpoint), 1.25 x 40.7 = 50.9 px, centred ``CENTRE_DOWN`` = 0.25 of the way from the eyes to
  the mouth. Its top is then 1.0 eye-to-mouth distance above the eyes (the hairline: the forehead is
  about as tall as eyes-to-mouth) and its bottom 0.5 below the mouth (the chin).
- the scale is the larger of the two distances, each over its template value: the two agree on a
  frontal face, a turned head shortens the eye distance and a tilted one the eye-to-mouth distance,
  and neither should make the face look narrow.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from ..errors import BadArguments
from .align import ARCFACE_TEMPLATE

HALF_WIDTH = 1.1
"""Half the ellipse's width over the eye distance."""
HALF_HEIGHT = 1.25
"""Half the ellipse's height over the eye-to-mouth distance."""
CENTRE_DOWN = 0.25
"""Where the centre lies on the way from the eyes' midpoint to the mouth's."""


def _eye_and_mouth_distances(landmarks: np.ndarray) -> tuple[float, float]:
    eyes, mouth = landmarks[:2], landmarks[3:5]
    return float(np.linalg.norm(eyes[1] - eyes[0])), float(np.linalg.norm(mouth.mean(0) - eyes.mean(0)))


TEMPLATE_EYES, TEMPLATE_EYE_MOUTH = _eye_and_mouth_distances(ARCFACE_TEMPLATE)


@dataclass(frozen=True)
class Ellipse:
    """centre (x, y) and semi_axes (half width, half height) in pixels; angle in degrees from the image's
    x axis to the width axis, in image coordinates (y down: clockwise as seen), as ``cv2.ellipse`` takes it.
    Pixel (column, row) has its centre at (column + 0.5, row + 0.5), as in PIL's transforms and
    ``align_face``'s crops."""

    centre: tuple[float, float]
    semi_axes: tuple[float, float]
    angle: float

    def mask(self, size: tuple[int, int], feather: float) -> np.ndarray:
        """(H, W) float32 for an image of ``size`` = (W, H): exactly 1 inside the ellipse, falling to
        exactly 0 at ``feather`` pixels outside it (smoothstep, so the mask has no kink), 0 beyond;
        ``feather`` 0 gives a hard 0/1 mask.

        The distance used is r - R(theta): how far past the ellipse a pixel lies along the ray from the
        centre. It equals the true distance on the axes and is never smaller elsewhere, so every pixel
        more than ``feather`` from the ellipse is 0; it grows linearly along each ray, so the mask falls
        monotonically outwards.
        """
        width, height = size
        if width < 1 or height < 1 or feather < 0:
            raise BadArguments(f"a mask needs a size of at least 1x1 and a feather >= 0, got {size}, {feather}")
        dx = np.arange(width) + 0.5 - self.centre[0]
        dy = (np.arange(height) + 0.5 - self.centre[1])[:, None]
        cos, sin = np.cos(np.radians(self.angle)), np.sin(np.radians(self.angle))
        half_width, half_height = self.semi_axes
        rho = np.hypot((dx * cos + dy * sin) / half_width, (dy * cos - dx * sin) / half_height)
        r = np.hypot(dx, dy)
        radius = np.divide(r, rho, out=np.full_like(r, min(self.semi_axes)), where=rho > 0)  # R(theta)
        beyond = r - radius
        if feather == 0:
            return (beyond <= 0).astype(np.float32)
        t = np.clip(beyond / feather, 0.0, 1.0)
        return (1.0 - t * t * (3.0 - 2.0 * t)).astype(np.float32)


def face_ellipse(landmarks: np.ndarray) -> Ellipse:
    """The ellipse from forehead to chin and cheek to cheek around a face's 5 landmarks (module docstring)."""
    points = np.asarray(landmarks, dtype=np.float64).reshape(5, 2)
    eye_distance, eye_mouth = _eye_and_mouth_distances(points)
    scale = max(eye_distance / TEMPLATE_EYES, eye_mouth / TEMPLATE_EYE_MOUTH)
    if not scale > 0:
        raise BadArguments("the 5 landmarks coincide: pass the landmarks of a detected face (Face.landmarks)")
    eyes, mouth = points[:2].mean(0), points[3:5].mean(0)
    centre = eyes + CENTRE_DOWN * (mouth - eyes)
    eye_line = points[1] - points[0]
    return Ellipse(
        centre=(float(centre[0]), float(centre[1])),
        semi_axes=(HALF_WIDTH * TEMPLATE_EYES * scale, HALF_HEIGHT * TEMPLATE_EYE_MOUTH * scale),
        angle=float(np.degrees(np.arctan2(eye_line[1], eye_line[0]))),
    )


def face_mask(landmarks: np.ndarray, size: tuple[int, int], feather: float) -> np.ndarray:
    """(H, W) float32 in [0, 1] for an image of ``size`` = (W, H) whose face has these 5 landmarks (in
    its pixels): 1 on the face ellipse, 0 from ``feather`` pixels outside it (``Ellipse.mask``)."""
    return face_ellipse(landmarks).mask(size, feather)
