"""A map of a person's photos (or generated portraits) by identity: each face's identity embedding is
laid out in 2-D, so clusters (one person, several looks) and outliers (someone else, a bad crop, a
portrait that lost the likeness) show at a glance.

Faces -> 2-D by DLME (``dlme``: a small network trained with neighbour-mixed pairs and
heavy-tailed kernels; here with EVNet's neighbourhood of k = 5, which keeps the mix inside a small
group of one person's photos) when there are at least ``MIN_DLME_FACES`` faces; with fewer, a neighbourhood
structure is not there to learn, and the map is the embeddings' two principal components, labelled
as such. Outliers are measured in the embedding itself, not on the map: each face's identity distance
to the median identity (coordinate-wise median of the unit embeddings), flagged when it is larger than
the face engine's same-person threshold. Photos without a face are listed, not drawn.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
from PIL import Image, ImageDraw, ImageFont

from ..atomic import staged_file
from ..faces import Face, FaceAnalyzer
from ..images import PhotoError, load_photo
from ..progress import Progress

MIN_DLME_FACES = 8
MAP_EPOCHS = 200
THUMBNAIL = 80
CANVAS = (1000, 760)
MARGIN = 90  # from the canvas edge to the nearest thumbnail centre
TITLE_BAND = 44  # thumbnails stay below the title
FACE_MARGIN = 0.35  # share of the face box added around it in a thumbnail
OUTLIER_COLOUR = (214, 39, 40)
FACE_COLOUR = (70, 110, 170)


@dataclass
class MappedFace:
    """One face on the map: where it is drawn, and how far its identity is from the median one."""

    number: int
    path: Path
    x: float
    y: float
    identity_distance: float
    outlier: bool


@dataclass
class FaceMap:
    faces: list[MappedFace]
    method: str  # "DLME" or "PCA"
    without_face: list[tuple[Path, str]] = field(default_factory=list)  # (photo, why it is not drawn)
    image: Path | None = None

    @property
    def outliers(self) -> list[MappedFace]:
        return [face for face in self.faces if face.outlier]

    def farthest_first(self) -> list[MappedFace]:
        return sorted(self.faces, key=lambda face: -face.identity_distance)


@dataclass
class FoundFace:
    path: Path
    embedding: np.ndarray
    thumbnail: Image.Image


def thumbnail(image: Image.Image, face: Face, side: int = THUMBNAIL) -> Image.Image:
    """A square crop around the face box (with a margin), ``side`` pixels."""
    left, top, right, bottom = face.box
    half = max(right - left, bottom - top) * (0.5 + FACE_MARGIN)
    cx, cy = (left + right) / 2, (top + bottom) / 2
    box = tuple(round(v) for v in (cx - half, cy - half, cx + half, cy + half))
    return image.crop(box).resize((side, side), Image.Resampling.LANCZOS)


def find_faces(
    paths: Sequence[Path], analyzer: FaceAnalyzer, max_pixels: int = 120_000_000, progress: Progress | None = None
) -> tuple[list[FoundFace], list[tuple[Path, str]]]:
    """The largest face of each photo (embedding + thumbnail), and the photos without one, with why."""
    found, missing = [], []
    for done, path in enumerate(paths, 1):
        try:
            image = load_photo(path, max_pixels).image
            faces = analyzer.detect(np.asarray(image))
            if faces:
                found.append(FoundFace(Path(path), faces[0].embedding, thumbnail(image, faces[0])))
            else:
                missing.append((Path(path), "no face found"))
        except PhotoError as error:
            missing.append((Path(path), str(error)))
        if progress:
            progress(done, len(paths), Path(path).name)
    return found, missing


def principal_components(embeddings: np.ndarray) -> np.ndarray:
    """(n, 2) coordinates on the two main axes of variation (zeros where there are fewer axes)."""
    centred = embeddings - embeddings.mean(axis=0)
    _, _, axes = np.linalg.svd(centred, full_matrices=False)
    coordinates = np.zeros((len(embeddings), 2))
    used = min(2, len(axes))
    coordinates[:, :used] = centred @ axes[:used].T
    return coordinates


def map_coordinates(embeddings: np.ndarray, seed: int = 0) -> tuple[np.ndarray, str]:
    """(n, 2) map positions and the method that placed them: DLME, or PCA for fewer than
    ``MIN_DLME_FACES`` faces."""
    from .dlme import SMALL_GROUP_K, dlme_map

    if len(embeddings) < MIN_DLME_FACES:
        return principal_components(embeddings), "PCA"
    # EVNet's k = 5, not DLME's 15: in a photo set one person's group may be only a few photos, and
    # the neighbour mix must stay inside a group (with k at or above a group's size it mixes people)
    return dlme_map(embeddings, epochs=MAP_EPOCHS, k=SMALL_GROUP_K, seed=seed).astype(np.float64), "DLME"


def median_identity_distances(embeddings: np.ndarray) -> np.ndarray:
    """Each embedding's distance to the median identity (coordinate-wise median, unit length)."""
    median = np.median(embeddings, axis=0)
    median /= max(float(np.linalg.norm(median)), 1e-12)
    return np.array([FaceAnalyzer.distance(embedding, median) for embedding in embeddings])


def placements(coordinates: np.ndarray, size: tuple[int, int] = CANVAS, margin: int = MARGIN) -> np.ndarray:
    """Map coordinates scaled (one scale for both axes, so distances keep their meaning) and centred
    into the canvas, in pixels."""
    low, high = coordinates.min(axis=0), coordinates.max(axis=0)
    span = np.maximum(high - low, 1e-12)
    scale = min((size[0] - 2 * margin) / span[0], (size[1] - 2 * margin) / span[1])
    centre = (low + high) / 2
    return (coordinates - centre) * scale + np.array(size) / 2


def spread(centres: np.ndarray, gap: float, rounds: int = 100) -> np.ndarray:
    """Centres of square thumbnails nudged apart until no two squares of side ``gap`` overlap (their
    max-norm distance is at least ``gap``) or ``rounds`` pass: each overlapping pair moves apart
    along its own line by half the shortfall each, so a tight cluster becomes a compact patch of
    thumbnails that can each be seen, and points already apart do not move."""
    centres = centres.astype(np.float64).copy()
    rng = np.random.default_rng(0)
    for _ in range(rounds):
        moved = False
        for i in range(len(centres)):
            for j in range(i + 1, len(centres)):
                offset = centres[j] - centres[i]
                distance = float(np.abs(offset).max())
                if distance >= gap:
                    continue
                direction = offset if distance > 1e-9 else rng.normal(size=2)
                direction = direction / np.abs(direction).max()  # a unit step in the max-norm
                centres[i] -= direction * (gap - distance) / 2
                centres[j] += direction * (gap - distance) / 2
                moved = True
        if not moved:
            break
    return centres


def draw_map(
    faces: list[MappedFace], thumbnails: list[Image.Image], title: str, size: tuple[int, int] = CANVAS
) -> Image.Image:
    """Thumbnails at their map positions (outliers framed red, drawn last so they stay visible),
    each with its number from the table."""
    canvas = Image.new("RGB", size, "white")
    draw = ImageDraw.Draw(canvas)
    draw.text((16, 14), title, fill="black", font=ImageFont.load_default(size=18))
    centres = spread(placements(np.array([[face.x, face.y] for face in faces]), size), THUMBNAIL + 6)
    centres = np.clip(centres, (THUMBNAIL / 2 + 4, TITLE_BAND + THUMBNAIL / 2), np.array(size) - THUMBNAIL / 2 - 4)
    for index in sorted(range(len(faces)), key=lambda i: faces[i].outlier):
        face, (cx, cy) = faces[index], centres[index]
        left, top = round(cx - THUMBNAIL / 2), round(cy - THUMBNAIL / 2)
        canvas.paste(thumbnails[index], (left, top))
        colour = OUTLIER_COLOUR if face.outlier else FACE_COLOUR
        draw.rectangle((left - 2, top - 2, left + THUMBNAIL + 1, top + THUMBNAIL + 1), outline=colour, width=3)
        draw.text(
            (left + 3, top + 2),
            str(face.number),
            fill=colour,
            stroke_width=2,
            stroke_fill="white",
            font=ImageFont.load_default(size=14),
        )
    return canvas


def map_title(method: str, count: int) -> str:
    if method == "PCA":
        return (
            f"PCA map of {count} faces (fewer than {MIN_DLME_FACES}: too few for DLME). Red: unlike the median identity"
        )
    return f"Identity map of {count} faces (DLME). Red: unlike the median identity"


def build_face_map(
    paths: Sequence[Path],
    out: Path,
    analyzer: FaceAnalyzer,
    max_pixels: int = 120_000_000,
    seed: int = 0,
    progress: Progress | None = None,
) -> FaceMap:
    """Detect, embed and map the faces of ``paths``; draw the map into ``out`` (PNG) when at least one
    face was found. Numbers follow the order of ``paths``.

    Args:
        paths: photos or generated portraits.
        out: the PNG to write.
        analyzer: the face engine whose identity embeddings are mapped.
        max_pixels: larger images are listed as unreadable, not decoded.
        seed: the map network's seed (DLME), for a reproducible layout.
        progress: ``progress(images done, total, image name)`` (``facechain.progress``).
    """
    found, missing = find_faces(paths, analyzer, max_pixels, progress)
    if not found:
        return FaceMap([], "none", missing)
    embeddings = np.stack([face.embedding for face in found]).astype(np.float64)
    coordinates, method = map_coordinates(embeddings, seed)
    distances = median_identity_distances(embeddings)
    threshold = analyzer.thresholds.same_person
    faces = [
        MappedFace(number, face.path, float(x), float(y), float(distance), bool(distance > threshold))
        for number, (face, (x, y), distance) in enumerate(zip(found, coordinates, distances), 1)
    ]
    image = draw_map(faces, [face.thumbnail for face in found], map_title(method, len(faces)))
    with staged_file(Path(out)) as staging:
        image.save(staging)
    return FaceMap(faces, method, missing, Path(out))
