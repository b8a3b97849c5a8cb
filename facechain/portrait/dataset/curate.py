"""Choose a clean, varied training set from the photos that have one usable face.

InfoGrowth-style cleaning then selection (see ``diversity``):
1. identity: the person of the set is the largest group of mutually similar faces; photos of anyone
   else are dropped;
2. duplicates: a photo that is the same shot as a better one already kept (near-identical whole-photo
   hash and an embedding within the backend's duplicate distance) is dropped;
3. reference: the photo that is both among the sharpest and the most central to the identity;
4. selection: gain-greedy ordering from the reference in identity + pose space, so that ``max_photos``
   keeps the most varied photos, never simply the first N.
Every drop carries its reason in words.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from ...faces import Face, FaceAnalyzer
from ...faces.align import CANONICAL, TEMPLATE_SIDE, aligned_landmarks, crop_targets
from ...faces.types import unit
from .diversity import greedy_selection

PHOTO_HASH_MAX_BITS = 26
"""Whole-photo dHash bits (of 256) that may differ between copies of one shot: measured 1-5 for
re-saved, resized or blurred copies, 13 for a brightness change, 68+ for a 5% crop or a 5° turn."""

POSE_WEIGHT = 4.0
"""Weight of the landmark residual (pose, expression) against the identity embedding in selection."""


@dataclass(frozen=True, eq=False)
class Candidate:
    """A photo that passed the per-photo checks: one usable face, large and sharp enough."""

    key: int
    name: str
    face: Face
    sharpness: float
    photo_hash: np.ndarray

    @property
    def pose(self) -> np.ndarray:
        """Landmark offsets from the template after alignment, in template units: yaw, pitch, smile."""
        return ((aligned_landmarks(self.face.landmarks, CANONICAL) - crop_targets(CANONICAL)) / TEMPLATE_SIDE).ravel()


@dataclass
class Decision:
    kept: bool
    reason: str | None = None
    identity_distance: float | None = None
    duplicate_of: str | None = None
    order: int | None = None


@dataclass
class Curation:
    decisions: dict[int, Decision]
    reference: int | None
    warnings: list[str] = field(default_factory=list)

    @property
    def kept(self) -> list[int]:
        """Keys of the kept photos in their chosen order."""
        return sorted((k for k, d in self.decisions.items() if d.kept), key=lambda k: self.decisions[k].order)


def curate(candidates: list[Candidate], analyzer: FaceAnalyzer, max_photos: int = 20) -> Curation:
    if not candidates:
        return Curation({}, None)
    thresholds = analyzer.thresholds
    embeddings = np.stack([c.face.embedding for c in candidates]).astype(np.float64)
    members, centroid = majority_identity(embeddings, analyzer)
    decisions: dict[int, Decision] = {}
    warnings = []
    if members.sum() * 2 <= len(candidates) and len(candidates) > 1:
        warnings.append(
            f"no single person is in most photos: kept the largest group ({members.sum()} of {len(candidates)})"
        )
    for i, cand in enumerate(candidates):
        distance = analyzer.distance(embeddings[i], centroid)
        decisions[cand.key] = Decision(kept=bool(members[i]), identity_distance=round(distance, 4))
        if not members[i]:
            decisions[cand.key].reason = (
                f"a different person from the rest of the set (identity distance {distance:.2f} > "
                f"{thresholds.same_person:.2f})"
            )

    best_first = sorted(
        (c for c in candidates if decisions[c.key].kept), key=lambda c: (-c.sharpness, -c.face.area, c.key)
    )
    survivors: list[Candidate] = []
    for cand in best_first:
        original = next((kept for kept in survivors if is_duplicate(cand, kept, analyzer)), None)
        if original is None:
            survivors.append(cand)
        else:
            decisions[cand.key] = Decision(
                False,
                f"near-duplicate of {original.name} (kept the sharper copy)",
                decisions[cand.key].identity_distance,
                original.name,
            )

    reference = reference_photo(survivors, decisions)
    features = np.stack([np.concatenate([c.face.embedding, POSE_WEIGHT * c.pose]) for c in survivors])
    order = greedy_selection(features, survivors.index(reference))
    for rank, position in enumerate(order):
        decision = decisions[survivors[position].key]
        if rank < max_photos:
            decision.order = rank
        else:
            decision.kept = False
            decision.reason = f"not selected: {max_photos} more varied photos were kept (--max-photos)"
    return Curation(decisions, reference.key, warnings)


def majority_identity(embeddings: np.ndarray, analyzer: FaceAnalyzer) -> tuple[np.ndarray, np.ndarray]:
    """Members of the largest same-person group, and that group's unit centroid.

    The group is seeded by the face with the most same-person neighbours (ties: the smaller mean
    distance), then re-read against the seed group's centroid, which is steadier than any one face.
    """
    threshold = analyzer.thresholds.same_person
    distances = np.linalg.norm(embeddings[:, None, :] - embeddings[None, :, :], axis=-1)
    neighbours = (distances <= threshold).sum(1)
    seed = min(range(len(embeddings)), key=lambda i: (-neighbours[i], distances[i].mean()))
    centroid = unit(embeddings[distances[seed] <= threshold].mean(0))
    members = np.linalg.norm(embeddings - centroid, axis=1) <= threshold
    if not members.any():
        members[seed] = True
    return members, unit(embeddings[members].mean(0))


def is_duplicate(a: Candidate, b: Candidate, analyzer: FaceAnalyzer) -> bool:
    """Same shot: the whole photos look alike and the faces are within the duplicate distance."""
    same_picture = int(np.count_nonzero(a.photo_hash != b.photo_hash)) <= PHOTO_HASH_MAX_BITS
    return same_picture and analyzer.distance(a.face.embedding, b.face.embedding) <= analyzer.thresholds.duplicate


def reference_photo(survivors: list[Candidate], decisions: dict[int, Decision]) -> Candidate:
    """Best quality and most central identity: the smallest sum of the sharpness rank and the
    identity-distance rank (ties: the larger face)."""
    by_sharpness = sorted(survivors, key=lambda c: -c.sharpness)
    by_centrality = sorted(survivors, key=lambda c: decisions[c.key].identity_distance)
    return min(survivors, key=lambda c: (by_sharpness.index(c) + by_centrality.index(c), -c.face.area, c.key))
