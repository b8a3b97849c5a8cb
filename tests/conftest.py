"""Shared fixtures: real face images that ship inside packages, and the real dlib face engine.

- scikit-image's astronaut (one person, public domain) and its augmentations: "same person";
- the insightface wheel's t1.jpg (six people) and Tom_Hanks_54745.png: "different people"
  (the README's test command downloads the wheel into tests/.data for its images only; it is read as
  a zip, never installed, so the test venv stays exactly the locked set);
- scikit-image's chelsea (a cat) and coffee: "no face".
"""

from __future__ import annotations

import importlib.util
import io
import zipfile
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from facechain.examples import astronaut, framed


def pytest_configure(config):
    try:
        import torch

        torch.set_num_threads(1)
    except ImportError:
        pass


TEST_DATA = Path(__file__).parent / ".data"


def insightface_image(name: str) -> Image.Image:
    """An image from the downloaded insightface wheel, else from an installed insightface (the extra)."""
    member = f"insightface/data/images/{name}"
    for wheel in sorted(TEST_DATA.glob("insightface-*.whl")):
        with zipfile.ZipFile(wheel) as archive:
            return Image.open(io.BytesIO(archive.read(member))).convert("RGB")
    spec = importlib.util.find_spec("insightface")
    if spec is None or not spec.submodule_search_locations:
        pytest.fail(
            "the test images of other people come from the insightface wheel: "
            "pip download --no-deps insightface==2.1 -d tests/.data"
        )
    return Image.open(Path(list(spec.submodule_search_locations)[0]).parent / member).convert("RGB")


@pytest.fixture(scope="session")
def analyzer():
    from facechain.faces import load_analyzer

    return load_analyzer("dlib")


@pytest.fixture(scope="session")
def person() -> Image.Image:
    return astronaut()


@pytest.fixture(scope="session")
def group_photo() -> Image.Image:
    return insightface_image("t1.jpg")


@pytest.fixture(scope="session")
def other_person() -> Image.Image:
    """Tom Hanks' 112x112 aligned crop, enlarged onto a photo-sized canvas."""
    face = insightface_image("Tom_Hanks_54745.png").resize((336, 336), Image.Resampling.BICUBIC)
    return framed(face, -60, -40, 396, 416)


def save(image: Image.Image, path: Path, **options) -> Path:
    image.save(path, **options)
    return path


def as_array(image: Image.Image) -> np.ndarray:
    return np.asarray(image.convert("RGB"))
