"""A prepared dataset as training examples, with the randomness of each step fixed by (seed, step).

Every random choice (batch order, crop, flip, noise, timesteps) is drawn from a generator seeded by
the run's seed and the position in training, so a run resumed from a checkpoint continues exactly
as the uninterrupted run would have, with no RNG state to save.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch
from PIL import Image

from ...errors import BadArguments
from ...seeding import step_generator


class DatasetError(BadArguments):
    """A dataset that cannot be trained on."""


@dataclass(frozen=True)
class Example:
    image: Path
    caption: str


def read_examples(dataset: Path) -> list[Example]:
    """The (image, caption) pairs of a prepared dataset's metadata.jsonl."""
    dataset = Path(dataset)
    metadata = dataset / "metadata.jsonl"
    if not metadata.is_file():
        raise DatasetError(
            f"{dataset} has no metadata.jsonl: make the dataset with `facechain prepare PHOTOS --out {dataset}`"
        )
    examples = []
    for number, line in enumerate(metadata.read_text(encoding="utf-8").splitlines(), start=1):
        if not line.strip():
            continue
        try:
            entry = json.loads(line)
            example = Example(dataset / entry["file_name"], str(entry["text"]))
        except (json.JSONDecodeError, KeyError, TypeError) as error:
            raise DatasetError(
                f'{metadata}, line {number}: expected {{"file_name": ..., "text": ...}} ({error})'
            ) from None
        if not example.image.is_file():
            raise DatasetError(f"{metadata}, line {number}: {example.image} does not exist")
        examples.append(example)
    if not examples:
        raise DatasetError(f"{metadata} lists no images")
    return examples


def batch_indices(count: int, batch_size: int, seed: int, micro_step: int, process: int, processes: int) -> list[int]:
    """Indices of the examples one process trains on at one micro-step: consecutive slices of a
    per-epoch permutation, so every example is seen once per epoch across all processes."""
    per_step = batch_size * processes
    start = micro_step * per_step + process * batch_size
    indices = []
    for position in range(start, start + batch_size):
        epoch, offset = divmod(position, count)
        order = torch.randperm(count, generator=step_generator(seed, 1_000_003, epoch))
        indices.append(int(order[offset]))
    return indices


def load_pixels(
    example: Example, resolution: int, generator: torch.Generator, crop_scale: float = 0.9, flip: bool = True
) -> torch.Tensor:
    """(3, resolution, resolution) in [-1, 1]: a random square crop covering ``crop_scale``..1 of the
    side (the face stays in view: prepared crops centre it), resized, randomly mirrored."""
    image = Image.open(example.image).convert("RGB")
    side = min(image.size)
    fraction = crop_scale + (1.0 - crop_scale) * float(torch.rand((), generator=generator))
    crop = max(1, round(side * fraction))
    left = int(torch.randint(0, image.width - crop + 1, (), generator=generator))
    top = int(torch.randint(0, image.height - crop + 1, (), generator=generator))
    image = image.crop((left, top, left + crop, top + crop)).resize((resolution, resolution), Image.Resampling.BICUBIC)
    mirror = bool(torch.rand((), generator=generator) < 0.5)
    if flip and mirror:
        image = image.transpose(Image.Transpose.FLIP_LEFT_RIGHT)
    pixels = torch.from_numpy(np.asarray(image, dtype=np.float32) / 127.5 - 1.0)
    return pixels.permute(2, 0, 1)
