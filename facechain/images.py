"""Open user photos safely: every way a file can be unusable becomes a ``PhotoError`` whose message
names the problem in words, and every usable file becomes an upright 8-bit RGB image of bounded size.

Phone photos arrive rotated by an EXIF tag, as RGBA screenshots, palette GIFs, greyscale or 16-bit
PNGs, CMYK JPEGs; some are empty or truncated uploads, some are not images at all, and a
decompression bomb must be refused from its header, before a single pixel is decoded. A photo just
under that limit is still a hundred megapixels, so it is reduced while it is decoded (see
``MAX_WORKING_SIDE``), and an image too thin to show a face is refused from its header too.
"""

from __future__ import annotations

import warnings
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from PIL import Image, UnidentifiedImageError

WHITE = (255, 255, 255)

MAX_WORKING_SIDE = 4096
"""Longest side, in pixels, of the image ``load_photo`` returns; a larger photo is reduced by a whole
factor while it is decoded, so the image handed on has its long side between 2049 and 4096 px.

Nothing downstream needs more: the detectors look at a copy scaled to 1024 px (dlib) or 640 px
(insightface), and the training crop is 512 px with the face spanning 40 % of it (~205 px), which a
face of a tenth of the photo's long side still fills without upscaling.

Measured through ``prepare`` (dlib backend, one core) on a 10900x10900 PNG of one grey (139 KB),
which shows no face: decoded at full size and searched in four turns, 11.8 s of CPU and +1.79 GB of
peak memory; reduced to 3634 px, 2.6-2.9 s and +250 MB. In RGB (377 KB): 11.1 s and +1.79 GB
before, 2.9-4.1 s and +505 MB after, that memory nearly all the one decode PIL cannot avoid: it
holds RGB at 4 bytes a pixel, so a photo at the 120-megapixel guard still needs ~480 MB while it is
reduced, once, and for one photo at a time."""

BAND_ROWS = 64
"""Rows of the reduced image made per pass when the photo's mode must be converted before it is
reduced (palette, transparency, 16-bit, CMYK): the conversion then runs on ``factor * BAND_ROWS``
decoded rows at a time, so no full-size converted copy exists besides the decoded file."""

MIN_SIDE = 32
MAX_ASPECT = 20
"""The short side must be at least ``MIN_SIDE`` px and at least 1/``MAX_ASPECT`` of the long side.

This refuses, with a reason in words, images no usable face fits in, before the detectors' own
resizing fails on them (a 100000x1 image is 0 px high once scaled to 1024 px wide). Faces are trained
on from 64 px up (``Thresholds.min_face_px``); the bound is half that, so a small but real photo still
reaches the face checks, which report a face's measured size. The aspect bound keeps the short side
at ``MIN_SIDE`` px even when the long side is scaled to 640 px, the smallest size a detector here
works at (insightface; dlib's 1024 px leaves 51 px, above its HOG's 40 px minimum)."""

EXIF_UPRIGHT = {
    2: Image.Transpose.FLIP_LEFT_RIGHT,
    3: Image.Transpose.ROTATE_180,
    4: Image.Transpose.FLIP_TOP_BOTTOM,
    5: Image.Transpose.TRANSPOSE,
    6: Image.Transpose.ROTATE_270,
    7: Image.Transpose.TRANSVERSE,
    8: Image.Transpose.ROTATE_90,
}
"""EXIF orientation tag -> the transpose that shows the stored pixels upright. Applied to the reduced
image, not the decoded one, so turning a photo costs no full-size copy."""


class PhotoError(ValueError):
    """A photo that cannot be used. ``str(error)`` is the reason shown to the user."""


@dataclass(frozen=True)
class Photo:
    """An upright RGB photo and where it came from.

    scale: pixels of the original photo per pixel of ``image`` (1.0 unless it was reduced).
    """

    path: Path
    image: Image.Image
    original_mode: str
    exif_rotated: bool
    scale: float = 1.0


def load_photo(path: str | Path, max_pixels: int = 120_000_000, max_side: int = MAX_WORKING_SIDE) -> Photo:
    """Open ``path`` as an upright RGB image with no side over ``max_side``, or raise ``PhotoError``
    saying why it cannot be used."""
    path = Path(path)
    with _opened(path, max_pixels) as image:
        width, height = image.size
        original_mode = image.mode
        try:
            working = reduced_rgb(image, max_side)
            orientation = image.getexif().get(0x0112, 1)
        except (OSError, SyntaxError, ValueError, Image.DecompressionBombError) as error:
            raise PhotoError(f"truncated or corrupt image data ({error})") from None
    if orientation in EXIF_UPRIGHT:
        working = working.transpose(EXIF_UPRIGHT[orientation])
    return Photo(
        path=path,
        image=working,
        original_mode=original_mode,
        exif_rotated=orientation not in (1, None),
        scale=max(width, height) / max(working.size),
    )


def decoded_pixels(path: str | Path, max_pixels: int = 120_000_000, max_side: int = MAX_WORKING_SIDE) -> int:
    """How many pixels ``load_photo`` will decode for ``path``, from its header alone; 0 for a file it
    refuses without decoding. This is what a photo costs to load, so what a per-request budget counts."""
    try:
        with _opened(Path(path), max_pixels) as image:
            _draft(image, max_side)
            return image.width * image.height
    except PhotoError:
        return 0


@contextmanager
def _opened(path: Path, max_pixels: int) -> Iterator[Image.Image]:
    """``path`` opened with its header checked and no pixel decoded; every refusal is a ``PhotoError``."""
    if not path.exists():
        raise PhotoError("file not found")
    if not path.is_file():
        raise PhotoError("not a file")
    if path.stat().st_size == 0:
        raise PhotoError("empty file (0 bytes)")
    with warnings.catch_warnings():
        # Our own pixel limit replaces PIL's warning-then-error pair.
        warnings.simplefilter("ignore", Image.DecompressionBombWarning)
        try:
            image = Image.open(path)
        except UnidentifiedImageError:
            raise PhotoError("not an image (the file format is not recognised)") from None
        except Image.DecompressionBombError as error:
            raise PhotoError(f"image too large to decode safely ({error})") from None
        except OSError as error:
            raise PhotoError(f"cannot be read ({error})") from None
    with image:
        width, height = image.size
        if width * height > max_pixels:
            raise PhotoError(
                f"image too large: {width}x{height} is {width * height / 1e6:.0f} megapixels, the limit is "
                f"{max_pixels / 1e6:.0f} (decompression-bomb guard); downscale it or raise FACECHAIN_MAX_IMAGE_PIXELS"
            )
        if min(width, height) < max(MIN_SIDE, max(width, height) / MAX_ASPECT):
            raise PhotoError(
                f"image {width}x{height} is too narrow to hold a face: the short side must be at least "
                f"{MIN_SIDE} px and at least 1/{MAX_ASPECT} of the long side"
            )
        yield image


def _factor(size: tuple[int, int], max_side: int) -> int:
    """The smallest whole reduction that brings the long side of ``size`` to ``max_side`` or below."""
    return -(-max(size) // max_side)


def _draft(image: Image.Image, max_side: int) -> None:
    """Have a JPEG decode at 1/2, 1/4 or 1/8 scale, the largest reduction that ``_factor`` still
    allows (PIL's draft mode; other formats ignore it). Changes ``image.size``, decodes nothing."""
    factor = _factor(image.size, max_side)
    if factor > 1:
        image.draft(image.mode, (max(1, image.width // factor), max(1, image.height // factor)))


def reduced_rgb(image: Image.Image, max_side: int) -> Image.Image:
    """Decode ``image``, just opened, as RGB with no side over ``max_side``, holding at most one
    full-size copy: JPEGs decode at a reduced scale (``_draft``), then any image is reduced by a whole
    factor, converted to RGB band by band where its mode needs converting first."""
    _draft(image, max_side)
    image.load()
    factor = _factor(image.size, max_side)
    if factor == 1:
        return to_rgb(image)
    if image.mode in ("RGB", "L"):  # reducing commutes with their conversion: reduce first, in one pass
        return to_rgb(image.reduce(factor))
    width, height = image.size
    peak = _peak(image) if _is_wide(image.mode) else None
    reduced = Image.new("RGB", (-(-width // factor), -(-height // factor)))
    band = factor * BAND_ROWS
    for top in range(0, height, band):
        rows = image.crop((0, top, width, min(top + band, height)))
        reduced.paste(to_rgb(rows, peak).reduce(factor), (0, top // factor))
    return reduced


def to_rgb(image: Image.Image, peak: float | None = None) -> Image.Image:
    """8-bit RGB from any PIL mode: transparency over white, 16-bit and float scaled, CMYK converted.

    peak: the value that becomes white in a 16-bit or float image; by default found from the image
        itself, so a band of a larger image is given the whole image's.
    """
    mode = image.mode
    if mode == "RGB":
        return image
    if _is_wide(mode):
        return Image.fromarray(_to_uint8(np.asarray(image), peak or _peak(image)), "L").convert("RGB")
    if mode == "P":
        image = image.convert("RGBA")
        mode = "RGBA"
    if mode in ("RGBA", "LA", "PA", "RGBa", "La"):
        rgba = image.convert("RGBA")
        canvas = Image.new("RGB", rgba.size, WHITE)
        canvas.paste(rgba, mask=rgba.getchannel("A"))
        return canvas
    return image.convert("RGB")


def _is_wide(mode: str) -> bool:
    """Integer images of 16 bits or more, and float images: their values need scaling onto 0..255."""
    return mode.startswith("I") or mode == "F"


def _peak(image: Image.Image) -> float:
    """1.0 for a float image within [0, 1], 255 for one that never exceeds 255, else 65535."""
    low, high = image.getextrema()
    if image.mode == "F" and low >= 0.0 and high <= 1.0:
        return 1.0
    return 255.0 if high <= 255 else 65535.0


def _to_uint8(values: np.ndarray, peak: float) -> np.ndarray:
    """Map ``values`` onto 0..255, ``peak`` becoming 255."""
    return np.clip(np.round(values.astype(np.float64) / peak * 255.0), 0, 255).astype(np.uint8)
