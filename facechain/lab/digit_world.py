"""A world small enough to train a text-to-image diffusion model on a CPU, where SuDe's claim can be
measured in pixels.

Images are scikit-learn's handwritten digits (8x8, upsampled to 16x16, ink in [0, 1]). Captions name
a category ("digit seven") and attributes that a pixel measure can check:

- thick / thin: strokes dilated / eroded, measured by ``stroke_mass`` (share of ink pixels);
- slanted: sheared to the right, measured by ``slant`` (ink-weighted x-y covariance over y variance);
- inverted: dark strokes on white, measured by ``inversion`` (brightness of the border).

A personalized subject is "a sks digit seven": one distinctive seven. SuDe says a subject trained as
a derived class of its category keeps the category's attributes ("a thick sks digit seven"), which
here becomes: the generated image is still classified as a seven and its pixel measure moves as the
attribute word asks. ``category_classifier`` is the judge of the first part.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from PIL import Image
from scipy import ndimage

SIDE = 16
NAMES = ("zero", "one", "two", "three", "four", "five", "six", "seven", "eight", "nine")
ATTRIBUTES = ("thick", "thin", "slanted", "inverted")
SHEAR = 0.35
INK = 0.5


def base_digits() -> tuple[np.ndarray, np.ndarray]:
    """(images (n, 16, 16) in [0, 1], labels (n,)) from scikit-learn's bundled digits."""
    from sklearn.datasets import load_digits

    digits = load_digits()
    images = np.stack(
        [
            np.asarray(
                Image.fromarray((image / 16.0 * 255).astype(np.uint8)).resize((SIDE, SIDE), Image.Resampling.BILINEAR),
                dtype=np.float32,
            )
            / 255.0
            for image in digits.images
        ]
    )
    return images, digits.target.astype(np.int64)


def with_attributes(image: np.ndarray, attributes: tuple[str, ...]) -> np.ndarray:
    """The digit drawn with the given attributes (applied in the order of ``ATTRIBUTES``)."""
    unknown = set(attributes) - set(ATTRIBUTES)
    if unknown or {"thick", "thin"} <= set(attributes):
        raise ValueError(f"attributes must be from {ATTRIBUTES}, not both thick and thin: {attributes}")
    out = image.astype(np.float32)
    if "thick" in attributes:
        out = ndimage.grey_dilation(out, size=(2, 2))
    if "thin" in attributes:
        out = (
            ndimage.grey_erosion(out, footprint=np.array([[0, 1, 0], [1, 1, 1], [0, 1, 0]], dtype=bool)) * 0.5
            + out * 0.5
        )
        out = np.where(out > INK, out, out * 0.5)
    if "slanted" in attributes:
        centre = (SIDE - 1) / 2.0
        # output (row, col) samples input (row, col + SHEAR * (row - centre)): top leans right
        out = ndimage.affine_transform(
            out, np.array([[1.0, 0.0], [SHEAR, 1.0]]), offset=(0.0, -SHEAR * centre), order=1
        )
    if "inverted" in attributes:
        out = 1.0 - out
    return np.clip(out, 0.0, 1.0)


def caption(label: int, attributes: tuple[str, ...] = (), subject: str | None = None) -> str:
    """'a thick slanted digit seven', or with a subject token 'a thick sks digit seven'."""
    words = [a for a in ATTRIBUTES if a in attributes] + ([subject] if subject else []) + ["digit", NAMES[label]]
    return "a " + " ".join(words)


def inversion(image: np.ndarray) -> float:
    """Mean brightness of the one-pixel border: ~0 for ink on black, ~1 inverted."""
    border = np.concatenate([image[0], image[-1], image[1:-1, 0], image[1:-1, -1]])
    return float(border.mean())


def upright_ink(image: np.ndarray) -> np.ndarray:
    """The strokes as bright-on-dark whatever the inversion."""
    return 1.0 - image if inversion(image) > 0.5 else image


def stroke_mass(image: np.ndarray) -> float:
    """Share of pixels that are ink: grows with stroke thickness."""
    return float((upright_ink(image) > INK).mean())


def slant(image: np.ndarray) -> float:
    """Ink-weighted covariance of column with (upward) row over the row variance: > 0 leans right."""
    ink = upright_ink(image)
    total = ink.sum()
    if total <= 0:
        return 0.0
    rows, cols = np.mgrid[0:SIDE, 0:SIDE].astype(np.float64)
    up = -(rows - (ink * rows).sum() / total)
    across = cols - (ink * cols).sum() / total
    return float((ink * up * across).sum() / max((ink * up * up).sum(), 1e-9))


@dataclass
class CategoryClassifier:
    """Logistic regression over upright-ink pixels: the probability that an image shows each digit."""

    model: object

    def probabilities(self, images: np.ndarray) -> np.ndarray:
        flat = np.stack([upright_ink(image).ravel() for image in images])
        return self.model.predict_proba(flat)


def category_classifier(images: np.ndarray, labels: np.ndarray, seed: int = 0) -> CategoryClassifier:
    """Train the judge on the digits drawn with every attribute combination it may meet."""
    from sklearn.linear_model import LogisticRegression

    rng = np.random.default_rng(seed)
    variants = [(), ("thick",), ("thin",), ("slanted",), ("thick", "slanted"), ("thin", "slanted")]
    drawn = [with_attributes(image, variants[rng.integers(len(variants))]) for image in images]
    flat = np.stack([upright_ink(image).ravel() for image in drawn])
    return CategoryClassifier(LogisticRegression(max_iter=2000, C=0.5).fit(flat, labels))


MEASURES = {"thick": (stroke_mass, +1), "thin": (stroke_mass, -1), "slanted": (slant, +1), "inverted": (inversion, +1)}


def obeys_attribute(image: np.ndarray, plain: np.ndarray, attribute: str, drawing: np.ndarray) -> bool:
    """Whether ``image``, generated from the same noise as ``plain`` but with ``attribute`` in the
    prompt, moved the attribute's measure by at least half of what drawing the attribute does to
    ``drawing`` (the subject), in the attribute's direction."""
    measure, direction = MEASURES[attribute]
    expected = direction * (measure(with_attributes(drawing, (attribute,))) - measure(drawing))
    return direction * (measure(image) - measure(plain)) > expected / 2.0


def ink_features(image: np.ndarray) -> np.ndarray:
    """Upright ink, lightly blurred (a one-pixel shift should not read as a different drawing), centred
    and unit length: the feature vector of subject similarity."""
    feature = ndimage.gaussian_filter(upright_ink(image).astype(np.float64), sigma=1.0).ravel()
    feature -= feature.mean()
    return feature / max(float(np.linalg.norm(feature)), 1e-9)


def similarity(image: np.ndarray, other: np.ndarray) -> float:
    """Cosine similarity of the two drawings' ink features (1: same drawing)."""
    return float(ink_features(image) @ ink_features(other))


def distinctive_subject(images: np.ndarray, labels: np.ndarray, label: int, judge: CategoryClassifier) -> int:
    """Index of the digit of ``label`` least like the average of its category, among those the judge
    still recognises: a subject whose identity differs visibly from a generic member of the category."""
    members = np.flatnonzero(labels == label)
    recognised = members[judge.probabilities(images[members]).argmax(1) == label]
    mean_features = np.mean([ink_features(image) for image in images[members]], axis=0)
    return int(recognised[np.argmin([ink_features(images[i]) @ mean_features for i in recognised])])


def subject_views(image: np.ndarray) -> np.ndarray:
    """A few 'photos' of one subject: the drawing and its one-pixel shifts (n, 16, 16)."""
    shifts = [(0, 0), (0, 1), (1, 0), (0, -1), (-1, 0)]
    return np.stack([ndimage.shift(image, shift, order=0, mode="constant") for shift in shifts]).astype(np.float32)
