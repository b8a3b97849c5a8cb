"""Open user photos safely: every way a file can be unusable becomes a ``PhotoError`` whose message
names the problem in words, and every usable file becomes an upright 8-bit RGB image.

Phone photos arrive rotated by an EXIF tag, as RGBA screenshots, palette GIFs, greyscale or 16-bit
PNGs, CMYK JPEGs; some are empty or truncated uploads, some are not images at all, and a
decompression bomb must be refused from its header, before a single pixel is decoded.
"""

from __future__ import annotations

import warnings
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from PIL import Image, ImageOps, UnidentifiedImageError

WHITE = (255, 255, 255)


class PhotoError(ValueError):
    """A photo that cannot be used. ``str(error)`` is the reason shown to the user."""


@dataclass(frozen=True)
class Photo:
    """An upright RGB photo and where it came from."""

    path: Path
    image: Image.Image
    original_mode: str
    exif_rotated: bool


def load_photo(path: str | Path, max_pixels: int = 120_000_000) -> Photo:
    """Open ``path`` as an upright RGB image, or raise ``PhotoError`` saying why it cannot be used."""
    path = Path(path)
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
            original_mode = image.mode
            try:
                image.load()
                orientation = image.getexif().get(0x0112, 1)
                upright = ImageOps.exif_transpose(image)
            except (OSError, SyntaxError, ValueError, Image.DecompressionBombError) as error:
                raise PhotoError(f"truncated or corrupt image data ({error})") from None
    return Photo(path=path, image=to_rgb(upright), original_mode=original_mode, exif_rotated=orientation not in (1, None))


def to_rgb(image: Image.Image) -> Image.Image:
    """8-bit RGB from any PIL mode: transparency over white, 16-bit and float scaled, CMYK converted."""
    mode = image.mode
    if mode == "RGB":
        return image
    if mode.startswith("I") or mode == "F":
        return Image.fromarray(_to_uint8(np.asarray(image)), "L").convert("RGB")
    if mode == "P":
        image = image.convert("RGBA")
        mode = "RGBA"
    if mode in ("RGBA", "LA", "PA", "RGBa", "La"):
        rgba = image.convert("RGBA")
        canvas = Image.new("RGB", rgba.size, WHITE)
        canvas.paste(rgba, mask=rgba.getchannel("A"))
        return canvas
    return image.convert("RGB")


def _to_uint8(values: np.ndarray) -> np.ndarray:
    """Map integer images of 16 bits or more, and float images, onto 0..255."""
    is_float = np.issubdtype(values.dtype, np.floating)
    values = values.astype(np.float64)
    if is_float and values.max(initial=0) <= 1.0 and values.min(initial=0) >= 0.0:
        peak = 1.0
    elif values.max(initial=0) <= 255:
        peak = 255.0
    else:
        peak = 65535.0
    return np.clip(np.round(values / peak * 255.0), 0, 255).astype(np.uint8)
