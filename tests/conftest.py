"""Shared fixtures: real face images that ship inside packages, and the real dlib face engine.

- scikit-image's astronaut (one person, public domain) and its augmentations: "same person";
- the insightface wheel's t1.jpg (six people) and Tom_Hanks_54745.png: "different people"
  (the wheel is installed with --no-deps for its data only; see README);
- scikit-image's chelsea (a cat) and coffee: "no face".
"""

from __future__ import annotations

import importlib.util
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


def insightface_image(name: str) -> Image.Image:
    spec = importlib.util.find_spec("insightface")
    if spec is None or not spec.submodule_search_locations:
        pytest.fail("the test images of other people come from the insightface wheel: pip install --no-deps insightface==2.1")
    return Image.open(Path(list(spec.submodule_search_locations)[0]) / "data" / "images" / name).convert("RGB")


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
