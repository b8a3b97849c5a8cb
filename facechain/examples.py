"""Example phone-style photos made from images that ship inside packages (no photos of people are
stored in this repository): scikit-image's astronaut portrait (public domain) turned into the kinds
of photos a person uploads, plus the kinds of files that must be rejected, each for its own reason.
"""

from __future__ import annotations

import io
from pathlib import Path

import numpy as np
from PIL import Image, ImageDraw, ImageEnhance, ImageFilter

EXIF_ORIENTATION = 0x0112


def astronaut() -> Image.Image:
    from skimage import data

    return Image.fromarray(data.astronaut())


def framed(image: Image.Image, left: int, top: int, right: int, bottom: int) -> Image.Image:
    """A different framing of the same scene, padded with white where it leaves the picture."""
    canvas = Image.new("RGB", (right - left, bottom - top), (255, 255, 255))
    canvas.paste(image, (-left, -top))
    return canvas


def save_with_orientation(image: Image.Image, path: Path, orientation: int) -> None:
    """Store pixels turned so that a viewer honouring EXIF ``orientation`` shows ``image`` upright."""
    stored = {
        6: image.transpose(Image.Transpose.ROTATE_90),
        8: image.transpose(Image.Transpose.ROTATE_270),
        3: image.transpose(Image.Transpose.ROTATE_180),
    }[orientation]
    exif = Image.Exif()
    exif[EXIF_ORIENTATION] = orientation
    stored.save(path, quality=92, exif=exif)


def resaved(image: Image.Image, scale: float, quality: int) -> Image.Image:
    """The same shot sent through a messenger: downscaled and recompressed."""
    small = image.resize((round(image.width * scale), round(image.height * scale)), Image.Resampling.BICUBIC)
    buffer = io.BytesIO()
    small.save(buffer, "JPEG", quality=quality)
    return Image.open(io.BytesIO(buffer.getvalue())).convert("RGB")


def screenshot(size=(540, 960)) -> Image.Image:
    """A phone screenshot: flat colours, text lines, transparency."""
    image = Image.new("RGBA", size, (245, 245, 250, 255))
    draw = ImageDraw.Draw(image)
    draw.rectangle((0, 0, size[0], 80), fill=(40, 90, 200, 255))
    for row in range(12):
        y = 120 + row * 64
        draw.rounded_rectangle((24, y, size[0] - 24, y + 48), radius=12, fill=(255, 255, 255, 230))
        draw.text((40, y + 16), f"Message {row + 1}: see you at 7?", fill=(20, 20, 20, 255))
    return image


def write_example_photos(folder: str | Path) -> list[Path]:
    """Write the example set into ``folder`` and return the files written.

    Seven usable photos of one person (framed, turned, mirrored, softened, EXIF-rotated, sideways
    without EXIF, greyscale 16-bit), one re-saved copy (a duplicate), one badly blurred photo, and
    five files that are no use: a cat, a screenshot, a truncated JPEG, an empty file and a text file.
    """
    from skimage import data

    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    person = astronaut()
    portrait = framed(person, 40, 0, 480, 420)
    photos = {
        "01_portrait.jpg": portrait,
        "02_turned.jpg": framed(person, 0, 0, 512, 512).rotate(
            14, resample=Image.Resampling.BICUBIC, fillcolor=(250, 250, 250)
        ),
        "03_mirrored.jpg": framed(person, 20, 10, 470, 460).transpose(Image.Transpose.FLIP_LEFT_RIGHT),
        "04_close.jpg": framed(person, 120, 20, 340, 240).resize((440, 440), Image.Resampling.BICUBIC),
        "05_soft.jpg": framed(person, 60, 30, 420, 390).filter(ImageFilter.GaussianBlur(1.0)),
        "07_sideways.jpg": ImageEnhance.Brightness(framed(person, 90, 0, 440, 350))
        .enhance(1.15)
        .rotate(90, expand=True),
        "09_copy.jpg": resaved(portrait, 0.8, 70),
        "10_blurred.jpg": framed(person, 30, 40, 460, 470).filter(ImageFilter.GaussianBlur(3.5)),
        "11_cat.jpg": Image.fromarray(data.chelsea()),
    }
    written = []
    for name, image in photos.items():
        image.save(folder / name, quality=92)
        written.append(folder / name)
    save_with_orientation(framed(person, 80, 10, 400, 330), folder / "06_exif_rotated.jpg", 6)
    grey = np.asarray(framed(person, 0, 20, 400, 420).convert("L"), dtype=np.uint16) * 257
    Image.fromarray(grey).save(folder / "08_grey16.png")
    screenshot().save(folder / "12_screenshot.png")
    truncated = io.BytesIO()
    person.save(truncated, "JPEG", quality=90)
    (folder / "13_truncated.jpg").write_bytes(truncated.getvalue()[: len(truncated.getvalue()) // 3])
    (folder / "14_empty.jpg").write_bytes(b"")
    (folder / "15_notes.txt").write_text("not a photo\n")
    written += [
        folder / n
        for n in (
            "06_exif_rotated.jpg",
            "08_grey16.png",
            "12_screenshot.png",
            "13_truncated.jpg",
            "14_empty.jpg",
            "15_notes.txt",
        )
    ]
    return sorted(written)
