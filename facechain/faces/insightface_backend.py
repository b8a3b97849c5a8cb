"""The insightface backend: RetinaFace/SCRFD detection, ArcFace embedding and gender/age from a
model pack such as ``buffalo_l``, when the user has one. It is the better engine, but its packs are
hub downloads, so it is optional and only chosen automatically when the pack is already on disk.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from .types import BackendUnavailable, Face, FaceAnalyzer, Thresholds, unit

# ArcFace cosine similarity above ~0.4 means one person: distance sqrt(2 - 2 cos) <= 1.1.
INSIGHTFACE_THRESHOLDS = Thresholds(same_person=1.1, duplicate=0.35)


def pack_dir(root: Path, pack: str) -> Path:
    """insightface's own layout: ``<root>/models/<pack>/`` holding the pack's .onnx files."""
    return Path(root).expanduser() / "models" / pack


def pack_present(root: Path, pack: str) -> bool:
    folder = pack_dir(root, pack)
    return folder.is_dir() and any(folder.glob("*.onnx"))


class InsightFaceAnalyzer(FaceAnalyzer):
    """insightface's ``FaceAnalysis`` with detection, recognition and gender/age modules, on the CPU
    unless onnxruntime offers CUDA."""

    name = "insightface"

    def __init__(
        self,
        root: Path,
        pack: str = "buffalo_l",
        detect_size: int = 640,
        thresholds: Thresholds = INSIGHTFACE_THRESHOLDS,
    ):
        if not pack_present(root, pack):
            raise BackendUnavailable(
                f"insightface model pack '{pack}' not found: looked for .onnx files in {pack_dir(root, pack)}. "
                f"Download the pack into that folder, set FACECHAIN_INSIGHTFACE_ROOT to the folder that holds "
                f"models/{pack}, or use the offline dlib backend (--backend dlib)."
            )
        try:
            from insightface.app import FaceAnalysis
        except ImportError as error:
            raise BackendUnavailable(
                f"the insightface backend needs the insightface package ({error}): pip install 'facechain[insightface]'"
            ) from None
        self._app = FaceAnalysis(
            name=pack, root=str(Path(root).expanduser()), allowed_modules=["detection", "recognition", "genderage"]
        )
        self._app.prepare(ctx_id=-1, det_size=(detect_size, detect_size))
        self.thresholds = thresholds

    def detect(self, image: np.ndarray) -> list[Face]:
        # insightface works on BGR arrays, as OpenCV reads them.
        found = self._app.get(np.ascontiguousarray(image[:, :, ::-1]))
        return sorted((to_face(item) for item in found), key=lambda face: face.area, reverse=True)


def to_face(item) -> Face:
    """Map one insightface ``Face`` (bbox, kps, det_score, embedding, sex "M"/"F", age) onto ours."""
    sex = getattr(item, "sex", None)
    return Face(
        box=tuple(float(v) for v in item.bbox[:4]),
        landmarks=np.asarray(item.kps, dtype=np.float32).reshape(5, 2),
        score=float(item.det_score),
        embedding=unit(item.embedding),
        gender={"F": "female", "M": "male"}.get(sex),
        gender_confidence=None,
        age=float(item.age) if getattr(item, "age", None) is not None else None,
    )
