"""What a face analyzer returns, and the thresholds that give its numbers meaning.

Every backend maps its own outputs onto ``Face`` so that alignment, curation and ranking never
depend on which detector or embedding model produced them. Thresholds live with the backend,
because distances and scores only mean something for the model that produced them.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from ..errors import EnvironmentProblem

Box = tuple[float, float, float, float]
"""(left, top, right, bottom) in pixels of the analysed image."""


@dataclass(frozen=True)
class Face:
    """One detected face.

    landmarks: (5, 2) array in image pixels, in the order left eye, right eye, nose tip, left mouth
        corner, right mouth corner ("left" = smaller x in the image), the convention of the ArcFace
        alignment template.
    embedding: unit-length identity embedding; compare with ``FaceAnalyzer.distance``.
    gender: "female" / "male" with ``gender_confidence`` in [0, 1]; age in years. None when the
        backend has no attribute model.
    """

    box: Box
    landmarks: np.ndarray
    score: float
    embedding: np.ndarray
    gender: str | None = None
    gender_confidence: float | None = None
    age: float | None = None

    @property
    def width(self) -> float:
        return self.box[2] - self.box[0]

    @property
    def height(self) -> float:
        return self.box[3] - self.box[1]

    @property
    def area(self) -> float:
        return max(self.width, 0.0) * max(self.height, 0.0)

    @property
    def size(self) -> float:
        """Side of the square with the face box's area, in pixels."""
        return float(np.sqrt(self.area))


@dataclass(frozen=True)
class Thresholds:
    """The decisions a backend's numbers support.

    same_person: largest embedding distance between two photos of one person.
    duplicate: largest embedding distance between two copies of one shot (re-saved, resized).
    min_sharpness: smallest variance of the Laplacian of the 112x112 aligned face (see quality.py).
    min_face_px: smallest face (box side, in original pixels) worth training on.
    dominant_area_ratio: a photo with several faces is kept for its largest face only when that
        face's area is at least this many times the next one's (FaceChain uses 4).
    """

    same_person: float
    duplicate: float
    min_sharpness: float = 30.0
    min_face_px: int = 64
    dominant_area_ratio: float = 4.0


class BackendUnavailable(EnvironmentProblem):
    """A backend cannot run here; the message says what is missing and where it looked."""


class FaceAnalyzer(ABC):
    """Detect faces with box, 5 landmarks, score, identity embedding, gender and age.

    Models load once, when the analyzer is built, and are reused for every image.
    """

    name: str
    thresholds: Thresholds

    @abstractmethod
    def detect(self, image: np.ndarray) -> list[Face]:
        """All faces in an RGB uint8 (H, W, 3) image, largest first."""

    def detect_batch(self, images: Sequence[np.ndarray]) -> list[list[Face]]:
        return [self.detect(image) for image in images]

    @staticmethod
    def distance(a: np.ndarray, b: np.ndarray) -> float:
        """Euclidean distance between unit embeddings (0 identical, 2 opposite)."""
        return float(np.linalg.norm(np.asarray(a, dtype=np.float64) - np.asarray(b, dtype=np.float64)))

    def same_person(self, a: Face, b: Face) -> bool:
        return self.distance(a.embedding, b.embedding) <= self.thresholds.same_person


def unit(vector: np.ndarray) -> np.ndarray:
    vector = np.asarray(vector, dtype=np.float32).ravel()
    return vector / max(float(np.linalg.norm(vector)), 1e-12)
