"""Data that ships with scikit-learn (the 8x8 handwritten digits, 1797 images, 10 classes) and the
corruptions the methods are tested against, each planted with a seed and returned with the truth
about what was planted (which labels were flipped, which pairs shuffled), so a method's filter can be
scored against it."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

CLASSES = 10
SIDE = 8


@dataclass
class Split:
    """Features in [0, 1] (n, 64) float32 and labels int64: train / validation / test, stratified."""

    x_train: np.ndarray
    y_train: np.ndarray
    x_val: np.ndarray
    y_val: np.ndarray
    x_test: np.ndarray
    y_test: np.ndarray


def digits(seed: int, test: float = 0.3, validation: float = 0.15) -> Split:
    """The digits, shuffled and split by ``seed`` (each class in the same proportions everywhere)."""
    from sklearn.datasets import load_digits
    from sklearn.model_selection import train_test_split

    data = load_digits()
    x, y = (data.data / 16.0).astype(np.float32), data.target.astype(np.int64)
    x_rest, x_test, y_rest, y_test = train_test_split(x, y, test_size=test, stratify=y, random_state=seed)
    x_train, x_val, y_train, y_val = train_test_split(
        x_rest, y_rest, test_size=validation / (1 - test), stratify=y_rest, random_state=seed
    )
    return Split(x_train, y_train, x_val, y_val, x_test, y_test)


def images(x: np.ndarray) -> np.ndarray:
    """(n, 64) -> (n, 8, 8)."""
    return x.reshape(len(x), SIDE, SIDE)


def symmetric_noise(y: np.ndarray, rate: float, rng: np.random.Generator, classes: int = CLASSES):
    """Flip each label with probability ``rate`` to one of the other classes, uniformly.
    Returns (noisy labels, flipped mask)."""
    flipped = rng.random(len(y)) < rate
    offsets = rng.integers(1, classes, size=len(y))
    return np.where(flipped, (y + offsets) % classes, y), flipped


def long_tail(y: np.ndarray, ratio: float, rng: np.random.Generator, classes: int = CLASSES) -> np.ndarray:
    """Indices of an exponentially imbalanced subset: class c keeps n * ratio^(-c / (classes - 1)) items,
    n the smallest class's count, so the first class keeps n and the last n / ratio."""
    keep = []
    smallest = np.bincount(y, minlength=classes).min()
    for c in range(classes):
        members = rng.permutation(np.flatnonzero(y == c))
        keep.append(members[: max(1, int(round(smallest * ratio ** (-c / (classes - 1)))))])
    return np.sort(np.concatenate(keep))


def photon_noise(x: np.ndarray, photons: float, rng: np.random.Generator) -> np.ndarray:
    """Photon-limited capture: Poisson(photons * x) / photons (``inf``: the clean image). Fewer photons,
    more severe."""
    if np.isinf(photons):
        return x.copy()
    return (rng.poisson(photons * x) / photons).astype(np.float32)


def class_subset(x: np.ndarray, y: np.ndarray, classes) -> tuple[np.ndarray, np.ndarray]:
    """The items of the given classes, labels renumbered 0..len(classes)-1 in the given order."""
    number = {label: index for index, label in enumerate(classes)}
    mask = np.isin(y, list(number))
    return x[mask], np.array([number[label] for label in y[mask]], dtype=np.int64)


def few_labels(y: np.ndarray, per_class: int, rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray]:
    """(labelled indices: ``per_class`` of each class, unlabelled indices: the rest)."""
    labelled = np.concatenate([rng.permutation(np.flatnonzero(y == c))[:per_class] for c in np.unique(y)])
    return np.sort(labelled), np.setdiff1d(np.arange(len(y)), labelled)


def two_views(x: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """An "image" and a "text" view of each digit: its left and right halves, (n, 32) each."""
    grid = images(x)
    half = SIDE // 2
    return grid[:, :, :half].reshape(len(x), -1), grid[:, :, half:].reshape(len(x), -1)


def shuffled_pairs(n: int, rate: float, rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray]:
    """Noisy correspondence: (partner index of each item's second view, noisy mask). A ``rate`` share
    of items get another item's second view (a derangement among them, so none stays matched)."""
    partner = np.arange(n)
    noisy = np.zeros(n, dtype=bool)
    chosen = rng.permutation(n)[: int(round(rate * n))]
    if len(chosen) > 1:
        partner[chosen] = np.roll(chosen, 1)
        noisy[chosen] = True
    return partner, noisy


@dataclass
class Stream:
    """A growing dataset in arrival order with what was planted: mismatched labels and near-duplicates."""

    x: np.ndarray
    y: np.ndarray
    mismatched: np.ndarray
    duplicate: np.ndarray


def growing_stream(
    x: np.ndarray, y: np.ndarray, mismatch: float, duplicate: float, rng: np.random.Generator, jitter: float = 0.02
) -> Stream:
    """The items in random order, a ``mismatch`` share with a wrong label, plus ``duplicate`` x n
    near-copies (small Gaussian jitter) of random earlier items inserted after them."""
    order = rng.permutation(len(x))
    x, y = x[order], y[order]
    labels, mismatched = symmetric_noise(y, mismatch, rng)
    copies = rng.integers(0, len(x), size=int(round(duplicate * len(x))))
    xs, ys, bad, dup = list(x), list(labels), list(mismatched), [False] * len(x)
    for source in sorted(copies, reverse=True):  # insert from the back so earlier positions hold
        at = int(rng.integers(source + 1, len(xs) + 1))
        xs.insert(at, np.clip(x[source] + rng.normal(0, jitter, x.shape[1]), 0, 1).astype(np.float32))
        ys.insert(at, labels[source])
        bad.insert(at, bool(mismatched[source]))
        dup.insert(at, True)
    return Stream(np.stack(xs), np.array(ys), np.array(bad), np.array(dup))


SHAPES = ("disc", "square", "triangle")


def shapes(count: int, rng: np.random.Generator, side: int = 24) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Images with one or two filled shapes on a noisy, shaded background, for weak supervision:
    (images (n, 1, side, side) float32, image labels (n, 3) float32 multi-hot, masks (n, side, side)
    int64 with 0 background and c + 1 for shape c; a later shape covers an earlier one)."""
    yy, xx = np.mgrid[:side, :side].astype(np.float32)
    images = np.zeros((count, 1, side, side), np.float32)
    labels = np.zeros((count, len(SHAPES)), np.float32)
    masks = np.zeros((count, side, side), np.int64)
    for n in range(count):
        slope = rng.normal(0, 0.004, 2)
        image = 0.2 + slope[0] * (xx - side / 2) + slope[1] * (yy - side / 2)
        for kind in rng.choice(len(SHAPES), size=int(rng.integers(1, 3)), replace=False):
            radius = rng.uniform(3.5, 6.0)
            cx, cy = rng.uniform(radius, side - radius, 2)
            if kind == 0:
                inside = (xx - cx) ** 2 + (yy - cy) ** 2 <= radius**2
            elif kind == 1:
                inside = (np.abs(xx - cx) <= radius * 0.85) & (np.abs(yy - cy) <= radius * 0.85)
            else:
                inside = (
                    (yy - cy <= radius * 0.8) & (yy - cy >= -radius) & (np.abs(xx - cx) <= (yy - cy + radius) * 0.6)
                )
            image = np.where(inside, rng.uniform(0.6, 1.0), image)
            masks[n][inside] = kind + 1
            labels[n, kind] = 1
        images[n, 0] = image + rng.normal(0, 0.08, (side, side))
    return images, labels, masks
