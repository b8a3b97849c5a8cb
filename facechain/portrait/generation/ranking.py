"""Rank generated portraits by how much they look like the person.

As in FaceChain's post-processing, a portrait should hold exactly one face of plausible size; its
score is the cosine similarity between that face's identity embedding and the reference face's
(the training photo chosen by ``curate``). Portraits that fail a check keep their image and get a
flag saying why; they sort after the ones that pass, so a gallery is never emptied by the checks.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np
from PIL import Image

from ...faces import FaceAnalyzer
from ...faces.quality_score import quality_for

MIN_FACE_SHARE = 0.08  # a face narrower than 8% of the image side is a crowd extra, not a portrait


@dataclass
class Judgement:
    """score: cosine similarity to the reference in [-1, 1] (None without a usable face);
    flag: why the portrait failed a check, None when it passed; quality: RTS reliability of the face
    in (0, 1) (faces/quality_score.py), None without a face or for another engine."""

    score: float | None
    flag: str | None
    quality: float | None = None
    embedding: np.ndarray | None = None  # the judged face's identity embedding (for the likeness percent)

    @property
    def sort_key(self) -> tuple[int, float]:
        return (0 if self.flag is None else 1, -(self.score if self.score is not None else -2.0))


def reference_embedding(image_path: Path, analyzer: FaceAnalyzer) -> np.ndarray | None:
    """The identity embedding of the largest face in the reference crop (None if none is found)."""
    if not image_path.is_file():
        return None
    faces = analyzer.detect(np.asarray(Image.open(image_path).convert("RGB")))
    return faces[0].embedding if faces else None


def judge_portrait(image: Image.Image, reference: np.ndarray | None, analyzer: FaceAnalyzer) -> Judgement:
    faces = analyzer.detect(np.asarray(image.convert("RGB")))
    if not faces:
        return Judgement(None, "no face found")
    face = faces[0]
    score = None if reference is None else float(np.dot(face.embedding, reference))
    quality = quality_for(analyzer, face)
    if len(faces) > 1 and face.area < analyzer.thresholds.dominant_area_ratio * faces[1].area:
        return Judgement(score, f"{len(faces)} faces", quality, face.embedding)
    if face.size < MIN_FACE_SHARE * min(image.size):
        return Judgement(score, f"face too small ({face.size:.0f} px)", quality, face.embedding)
    if reference is None:
        return Judgement(None, "no reference face to compare with", quality, face.embedding)
    return Judgement(score, None, quality, face.embedding)


def photo_embeddings(paths: list[Path], analyzer: FaceAnalyzer) -> np.ndarray:
    """The identity embedding of the largest face in each photo that has one (rows)."""
    found = [reference_embedding(path, analyzer) for path in paths]
    found = [embedding for embedding in found if embedding is not None]
    return np.stack(found) if found else np.zeros((0, 0))


def rank_order(judgements: list[Judgement]) -> list[int]:
    """Indices, best first: passing portraits by score, then flagged ones by score."""
    return sorted(range(len(judgements)), key=lambda i: judgements[i].sort_key)
