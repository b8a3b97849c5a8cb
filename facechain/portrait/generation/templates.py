"""Template photos: the person's face put into a photo that exists, everything else of it kept.

FaceChain's inpaint mode does this with a template photo; here it is the face detail pass (``detail``)
run on the template instead of on a sampled image, at a higher strength so that the face becomes the
person's, with the same feathered mask, so pixels outside it stay the template's own.

A few templates ship with the product, made from public-domain photos that ship inside scikit-image
(NASA's astronaut portrait and rocket launch), so template mode works offline; a user's own photo is
opened like any input photo (EXIF rotation, CMYK and 16-bit handled by ``images.load_photo``).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from PIL import Image, ImageFilter, ImageOps

from ...images import PhotoError, load_photo
from ...wording import plural
from .request import GenerationError


def _astronaut() -> Image.Image:
    from skimage import data

    return Image.fromarray(data.astronaut())


def _monochrome() -> Image.Image:
    """The astronaut in black and white with a soft glow: a studio portrait look."""
    grey = ImageOps.grayscale(_astronaut())
    glow = grey.filter(ImageFilter.GaussianBlur(6))
    return Image.blend(ImageOps.autocontrast(grey, cutoff=1), glow, 0.25).convert("RGB")


def _launch_day() -> Image.Image:
    """The astronaut beside the rocket on its launch pad, 896 x 512: a wide, two-subject composition."""
    from skimage import data

    rocket = Image.fromarray(data.rocket())
    rocket = rocket.resize((round(rocket.width * 512 / rocket.height), 512), Image.Resampling.LANCZOS)
    canvas = Image.new("RGB", (512 + rocket.width, 512))
    canvas.paste(_astronaut(), (0, 0))
    canvas.paste(rocket, (512, 0))
    return canvas


@dataclass(frozen=True)
class Template:
    name: str
    title: str
    build: Callable[[], Image.Image]


SHIPPED_TEMPLATES = {
    template.name: template
    for template in (
        Template("astronaut", "NASA astronaut portrait, colour, 512 x 512", _astronaut),
        Template("monochrome", "the astronaut portrait in black and white, 512 x 512", _monochrome),
        Template("launch-day", "the astronaut beside a rocket launch, 896 x 512", _launch_day),
    )
}


REFERENCE_PHOTO = "photo.png"
"""The file of an app user's uploaded template or control photo, in their workspace's templates section."""


def shipped_template(name: str) -> str:
    """``name`` when it is a shipped template's (the app's jobs accept no other template name)."""
    if name not in SHIPPED_TEMPLATES:
        raise GenerationError(f"no shipped template is called {name!r}; there are {', '.join(SHIPPED_TEMPLATES)}")
    return name


def template_image(source: str | Path) -> Image.Image:
    """The photo a ``--template`` names: a shipped template's name, or an image file."""
    if str(source) in SHIPPED_TEMPLATES:
        return SHIPPED_TEMPLATES[str(source)].build()
    path = Path(source)
    if not path.is_file():
        raise GenerationError(
            f"template {source}: no such file, and not a shipped template ({', '.join(SHIPPED_TEMPLATES)})"
        )
    try:
        return load_photo(path).image
    except PhotoError as error:
        raise GenerationError(f"template {path.name}: {error}") from None


def template_title(source: str) -> str:
    """How messages name a template: a shipped one by name, a file by its name only (never its folder, which
    for an app user's upload is a server path), an app upload as "your template photo"."""
    if source in SHIPPED_TEMPLATES:
        return source
    name = Path(source).name
    return "your template photo" if name == REFERENCE_PHOTO else name


def checked_template_plan(source: str, plan: list) -> None:
    """Refuse a template the pass would leave as it is: no face, or none chosen that can be refined."""
    name = template_title(source)
    if not any(face is not None for face, _ in plan):
        if not plan:
            raise GenerationError(
                f"template {name}: the face engine finds no face in it; choose a photo with a clearly visible face"
            )
        reasons = "; ".join(f"face {record.number}: {record.reason}" for _, record in plan)
        raise GenerationError(
            f"template {name} has {plural(len(plan), 'face')} and none to put the person into ({reasons}); "
            "choose another face to refine (1 = the largest) or a photo with larger faces"
        )
