"""Every way a photo file can be odd or unusable gets an upright RGB image or its own reason."""

from __future__ import annotations

import struct
import zlib

import numpy as np
import pytest
from PIL import Image

from facechain.examples import save_with_orientation
from facechain.images import PhotoError, load_photo


def png_header_only(path, width, height):
    """A PNG that declares width x height but carries no pixel data: decoding it would fail."""

    def chunk(kind, data):
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))

    path.write_bytes(
        b"\x89PNG\r\n\x1a\n"
        + chunk(b"IHDR", struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0))
        + chunk(b"IEND", b"")
    )
    return path


def reason(path, **kwargs) -> str:
    with pytest.raises(PhotoError) as error:
        load_photo(path, **kwargs)
    return str(error.value)


def test_exif_orientation_is_honoured(tmp_path, person):
    save_with_orientation(person, tmp_path / "exif.jpg", 6)
    stored = Image.open(tmp_path / "exif.jpg")
    assert stored.size == (person.height, person.width) and stored.getexif()[0x0112] == 6
    photo = load_photo(tmp_path / "exif.jpg")
    assert photo.exif_rotated
    difference = np.abs(np.asarray(photo.image, dtype=float) - np.asarray(person, dtype=float)).mean()
    assert difference < 4.0  # upright again, up to JPEG noise


@pytest.mark.parametrize("mode", ["RGBA", "P", "L", "LA", "CMYK", "1"])
def test_modes_become_rgb(tmp_path, person, mode):
    image = person.convert(mode)
    path = tmp_path / f"photo.{'jpg' if mode == 'CMYK' else 'png'}"
    image.save(path)
    photo = load_photo(path)
    assert photo.image.mode == "RGB" and photo.image.size == person.size and photo.original_mode == mode


def test_transparency_goes_over_white(tmp_path):
    image = Image.new("RGBA", (40, 40), (200, 0, 0, 0))
    image.paste((0, 0, 255, 255), (10, 10, 30, 30))
    image.save(tmp_path / "cutout.png")
    pixels = np.asarray(load_photo(tmp_path / "cutout.png").image)
    assert tuple(pixels[0, 0]) == (255, 255, 255) and tuple(pixels[20, 20]) == (0, 0, 255)


def test_16_bit_greyscale_is_scaled_not_clipped(tmp_path, person):
    grey = np.asarray(person.convert("L"), dtype=np.uint16) * 257
    Image.fromarray(grey).save(tmp_path / "grey16.png")
    assert Image.open(tmp_path / "grey16.png").mode.startswith("I")
    pixels = np.asarray(load_photo(tmp_path / "grey16.png").image)[:, :, 0].astype(int)
    assert np.abs(pixels - np.asarray(person.convert("L"), dtype=int)).max() <= 1


def test_decompression_bomb_refused_from_header(tmp_path):
    text = reason(png_header_only(tmp_path / "bomb.png", 30000, 30000))
    assert "too large" in text


def test_pixel_limit_is_configurable(tmp_path, person):
    person.save(tmp_path / "photo.png")
    assert "megapixels" in reason(tmp_path / "photo.png", max_pixels=10_000)


def test_empty_truncated_and_non_image_files(tmp_path, person):
    (tmp_path / "empty.jpg").write_bytes(b"")
    person.save(tmp_path / "full.jpg", quality=90)
    data = (tmp_path / "full.jpg").read_bytes()
    (tmp_path / "truncated.jpg").write_bytes(data[: len(data) // 2])
    (tmp_path / "notes.jpg").write_text("definitely not a JPEG")
    assert reason(tmp_path / "empty.jpg") == "empty file (0 bytes)"
    assert reason(tmp_path / "truncated.jpg").startswith("truncated or corrupt")
    assert reason(tmp_path / "notes.jpg").startswith("not an image")
    assert reason(tmp_path / "missing.jpg") == "file not found"
    assert reason(tmp_path) == "not a file"
