"""Face analysis behind one interface: ``load_analyzer("auto" | "dlib" | "insightface")``.

Backends are registered by name; ``auto`` picks insightface when its model pack is on disk and the
offline dlib engine otherwise. Analyzers are cached per configuration, so models load once.
"""

from __future__ import annotations

from functools import lru_cache
from pathlib import Path

from ..config import Settings
from ..errors import BadArguments
from .align import CropSpec, align_face, roll_degrees
from .types import BackendUnavailable, Face, FaceAnalyzer, Thresholds

BACKENDS = ("auto", "dlib", "insightface")

__all__ = [
    "BACKENDS",
    "BackendUnavailable",
    "CropSpec",
    "Face",
    "FaceAnalyzer",
    "Thresholds",
    "align_face",
    "load_analyzer",
    "resolve_backend",
    "roll_degrees",
]


def resolve_backend(name: str, settings: Settings) -> str:
    """The concrete backend ``name`` stands for with these settings."""
    from .insightface_backend import pack_present

    if name not in BACKENDS:
        raise BadArguments(f"unknown face backend '{name}': choose one of {', '.join(BACKENDS)}")
    if name == "auto":
        return "insightface" if pack_present(settings.insightface_root, settings.insightface_pack) else "dlib"
    return name


def load_analyzer(name: str | None = None, settings: Settings | None = None) -> FaceAnalyzer:
    """The analyzer for backend ``name`` (default: ``settings.face_backend``), loaded once and reused."""
    settings = settings or Settings.from_env()
    backend = resolve_backend(name or settings.face_backend, settings)
    return _load(backend, settings.insightface_root, settings.insightface_pack)


@lru_cache(maxsize=4)
def _load(backend: str, insightface_root: Path, insightface_pack: str) -> FaceAnalyzer:
    if backend == "dlib":
        from .dlib_backend import DlibAnalyzer

        return DlibAnalyzer()
    from .insightface_backend import InsightFaceAnalyzer

    return InsightFaceAnalyzer(insightface_root, insightface_pack)
