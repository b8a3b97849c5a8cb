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
    """An image and its caption, with the masks ``prepare`` writes beside it (None: a dataset prepared
    before masks existed, or class images; read as all ones)."""

    image: Path
    caption: str
    photo_mask: Path | None = None
    face_mask: Path | None = None


MASK_KEYS = {"photo_mask": "photo_mask_file_name", "face_mask": "face_mask_file_name"}
"""Example field -> its metadata.jsonl key (``prepare.mask_names``)."""


def read_examples(dataset: Path) -> list[Example]:
    """The (image, caption, masks) of a prepared dataset's metadata.jsonl."""
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
            masks = {field: dataset / entry[key] for field, key in MASK_KEYS.items() if entry.get(key)}
            example = Example(dataset / entry["file_name"], str(entry["text"]), **masks)
        except (json.JSONDecodeError, KeyError, TypeError) as error:
            raise DatasetError(
                f'{metadata}, line {number}: expected {{"file_name": ..., "text": ...}} ({error})'
            ) from None
        for path in (example.image, *masks.values()):
            if not path.is_file():
                raise DatasetError(f"{metadata}, line {number}: {path} does not exist")
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


@dataclass(frozen=True)
class View:
    """The part of an image one step trains on: a square ``box`` (left, top, right, bottom), mirrored or not."""

    box: tuple[int, int, int, int]
    mirror: bool

    def of(self, image: Image.Image, resolution: int, resample: Image.Resampling) -> Image.Image:
        image = image.crop(self.box).resize((resolution, resolution), resample)
        return image.transpose(Image.Transpose.FLIP_LEFT_RIGHT) if self.mirror else image


def random_view(size: tuple[int, int], generator: torch.Generator, crop_scale: float, flip: bool) -> View:
    """A random square crop covering ``crop_scale``..1 of the side (the face stays in view: prepared crops
    centre it), mirrored half the time when ``flip``. Always four draws, in this order."""
    width, height = size
    fraction = crop_scale + (1.0 - crop_scale) * float(torch.rand((), generator=generator))
    crop = max(1, round(min(size) * fraction))
    left = int(torch.randint(0, width - crop + 1, (), generator=generator))
    top = int(torch.randint(0, height - crop + 1, (), generator=generator))
    mirror = bool(torch.rand((), generator=generator) < 0.5)
    return View((left, top, left + crop, top + crop), flip and mirror)


def pixels_of(image: Image.Image, view: View, resolution: int) -> torch.Tensor:
    """(3, resolution, resolution) in [-1, 1]: ``image`` seen through ``view``."""
    seen = view.of(image, resolution, Image.Resampling.BICUBIC)
    return torch.from_numpy(np.asarray(seen, dtype=np.float32) / 127.5 - 1.0).permute(2, 0, 1)


CROP_SCALE = 0.9
"""Random crops cover 90-100% of a prepared photo's side: a little framing variety, the face kept whole."""


def load_pixels(
    example: Example,
    resolution: int,
    generator: torch.Generator,
    crop_scale: float = CROP_SCALE,
    flip: bool = True,
    masks: bool = False,
) -> tuple[torch.Tensor, torch.Tensor | None]:
    """(pixels, masks) of one random view (``random_view``): pixels (3, resolution, resolution) in [-1, 1];
    with ``masks``, (2, resolution, resolution) in [0, 1], the photo and face masks seen through the same
    crop and mirror (all ones where the example has none), else None. Reading masks draws nothing, so
    the run's random stream is the same with and without them."""
    image = Image.open(example.image).convert("RGB")
    view = random_view(image.size, generator, crop_scale, flip)
    pixels = pixels_of(image, view, resolution)
    return pixels, mask_views(example, image.size, view, resolution) if masks else None


def mask_views(example: Example, size: tuple[int, int], view: View, resolution: int) -> torch.Tensor:
    """(2, resolution, resolution): the example's photo and face masks seen through ``view`` of its image
    of ``size`` (all ones where it has none)."""
    return torch.stack([mask_view(path, size, view, resolution) for path in (example.photo_mask, example.face_mask)])


def mask_view(path: Path | None, size: tuple[int, int], view: View, resolution: int) -> torch.Tensor:
    """(resolution, resolution) in [0, 1] from an L mask (255 = 1) of an image of ``size``, resized
    bilinearly so it stays in [0, 1]; all ones without a mask."""
    if path is None:
        return torch.ones(resolution, resolution)
    mask = Image.open(path)
    if mask.size != size:
        raise DatasetError(
            f"{path} is {mask.width}x{mask.height} pixels and its image {size[0]}x{size[1]}: "
            "prepare the dataset again (facechain prepare)"
        )
    seen = view.of(mask.convert("F"), resolution, Image.Resampling.BILINEAR)
    return torch.from_numpy(np.asarray(seen, dtype=np.float32) / 255.0)
