"""The Map tab's job: the workspace's newest training set, or its portraits, mapped by identity."""

from __future__ import annotations

from dataclasses import asdict
from pathlib import Path

from ..config import Settings
from ..errors import NothingUsable
from ..progress import Progress
from ..workspace import Workspace

MAX_FACES = 80
IMAGE_SUFFIXES = (".png", ".jpg", ".jpeg", ".webp")
SOURCES = ("photos", "portraits")


def workspace_images(workspace: Workspace, source: str) -> list[Path]:
    """The newest training set's crops (``datasets/<newest>/images``) or the generated portraits (every
    ``outputs/<run>/``, newest run first), at most ``MAX_FACES``."""
    if source == "photos":
        folders = [workspace.section("datasets") / item.name / "images" for item in workspace.items("datasets")[:1]]
    elif source == "portraits":
        folders = [workspace.section("outputs") / item.name for item in workspace.items("outputs")]
    else:
        raise NothingUsable(f"nothing to map called '{source}': choose {' or '.join(SOURCES)}")
    images = [
        path
        for folder in folders
        if folder.is_dir()
        for path in sorted(folder.iterdir())
        if path.suffix.lower() in IMAGE_SUFFIXES and not path.name.startswith(".")
    ]
    return images[:MAX_FACES]


def run_face_map(params: dict, workspace: Workspace, settings: Settings, progress: Progress) -> dict:
    """Map ``params["source"]``; the result holds the map's faces (paths relative to the workspace)."""
    from ..faces import load_analyzer
    from ..mapping.face_map import build_face_map

    source = params["source"]
    images = workspace_images(workspace, source)
    if not images:
        raise NothingUsable(f"no {source} in this workspace to map")
    out = workspace.item("maps", "identity") / f"{source}.png"
    face_map = build_face_map(
        images, out, load_analyzer(settings=settings), settings.max_image_pixels, progress=progress
    )

    def inside(path: Path) -> str:
        return str(Path(path).relative_to(workspace.path))

    return {
        "image": inside(face_map.image) if face_map.image else None,
        "method": face_map.method,
        "faces": [{**asdict(face), "path": inside(face.path)} for face in face_map.faces],
        "without_face": [[inside(path), why] for path, why in face_map.without_face],
        "total": len(images),
    }
