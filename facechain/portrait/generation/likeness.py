"""Likeness a person can read: a portrait's identity similarity relative to how alike the person's own
photos are to each other.

A raw cosine similarity (0.62, say) means little on its own: it depends on the face engine and on how
varied the person's photos are. So the portrait is compared with the person the way the person's own
photos compare with each other. With the kept training photos' unit embeddings e_1..e_n (n >= 2) and
S = e_1 + ... + e_n:

    own consistency   c = median_i  cos(e_i, S - e_i)      (each photo against the rest: leave-one-out)
    boundary          b = 1 - t^2 / 2                        (the engine's same-person distance t as a cosine)
    likeness of p     L = 100 * (cos(p, S) - b) / (c - b)   percent

L = 100% means "as alike as a typical photo of you is to your other photos"; 0% is where the face engine
stops calling two faces the same person, so a portrait of someone else reads below 0. Without the
boundary (L = 100 cos / c) the scale says little: dlib's embeddings put two different people at a
cosine of about 0.86, and on the test photos someone else read 86% against 100% for the person.
Each side is one face against the sum of n or n-1 others, so neither is favoured by comparing a face
with itself. Both sides are measured by the face engine that ranks the portraits (the
settings' one, or the analyzer passed to ``generate``), which need not be the one that prepared the photos.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np


def boundary_cosine(same_person_distance: float) -> float:
    """b: the cosine of two unit embeddings at the engine's same-person distance (|a - b|^2 = 2 - 2 cos)."""
    return 1.0 - same_person_distance**2 / 2.0


@dataclass(frozen=True)
class LikenessScale:
    """centroid: unit direction of S; own: the median leave-one-out cosine c; boundary: b; photos: n."""

    centroid: np.ndarray
    own: float
    boundary: float
    photos: int

    def percent(self, embedding: np.ndarray) -> float:
        """L for one portrait's identity embedding (normalised here)."""
        unit = np.asarray(embedding, dtype=np.float64)
        unit = unit / np.linalg.norm(unit)
        return float(100.0 * (np.dot(unit, self.centroid) - self.boundary) / (self.own - self.boundary))


def likeness_scale(embeddings: np.ndarray, boundary: float) -> LikenessScale | None:
    """The scale of a person's photos (rows: identity embeddings) for an engine whose same-person boundary
    is the cosine ``boundary``; None for fewer than 2 photos, or when the photos are no more alike than
    the boundary (c <= b: the engine would not call them one person, so there is no scale to speak of)."""
    rows = np.asarray(embeddings, dtype=np.float64)
    if rows.ndim != 2 or len(rows) < 2:
        return None
    rows = rows / np.linalg.norm(rows, axis=1, keepdims=True)
    total = rows.sum(axis=0)
    rest = total - rows
    loo = np.einsum("ij,ij->i", rows, rest) / np.linalg.norm(rest, axis=1)
    own = float(np.median(loo))
    if own <= boundary:
        return None
    return LikenessScale(total / np.linalg.norm(total), own, boundary, len(rows))


__all__ = ["LikenessScale", "boundary_cosine", "likeness_scale"]
