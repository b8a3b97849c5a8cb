"""Photos in, a curated, aligned, captioned training set out, with a report of every decision.

``prepare`` looks at each photo on its own (readable? one dominant face? large and sharp enough?),
then at the set (one identity, no duplicates, the most varied ``max_photos``), then writes
``images/NNN.png``, their masks ``masks/NNN-photo.png`` and ``masks/NNN-face.png``, ``metadata.jsonl``
(diffusers' imagefolder layout) and ``report.json`` into a temporary folder that replaces the output
folder only when everything is written.
"""

from __future__ import annotations

import json
import multiprocessing
import re
import threading
from collections.abc import Iterable
from concurrent.futures import ProcessPoolExecutor, ThreadPoolExecutor
from dataclasses import asdict, dataclass, field
from pathlib import Path

import numpy as np
from PIL import Image

from ...atomic import staged_folder
from ...config import Settings
from ...errors import BadArguments, NothingUsable
from ...faces import CropSpec, FaceAnalyzer, load_analyzer, roll_degrees
from ...faces.align import aligned_landmarks
from ...faces.fill import FilledCrop, filled_crop
from ...faces.masks import face_mask
from ...faces.quality import canonical_face, difference_hash, sharpness
from ...faces.quality_score import quality_for
from ...images import PhotoError, decoded_pixels, load_photo
from ...progress import Progress
from .captions import caption, class_vote, with_article
from .curate import Candidate, curate

MAX_TRIGGER = 32
TRIGGER = re.compile(rf"[A-Za-z0-9_-]{{1,{MAX_TRIGGER}}}")
"""The trigger token: one rare word (FaceChain and DreamBooth use 'sks', kohya users 'ohwx'). 32 characters
is already ~10 CLIP tokens of the 77 a prompt has; a comma or space would split the caption's phrases."""

ROTATIONS = (0, 90, 270, 180)
"""Counter-clockwise turns tried, in order, when a photo shows no face as it is: phone photos
often lose their EXIF orientation."""


@dataclass
class PhotoReport:
    """What happened to one input photo, and the measurements behind it."""

    source: str
    status: str = "rejected"
    reason: str | None = None
    output: str | None = None
    order: int | None = None
    faces_found: int | None = None
    detection_score: float | None = None
    box: list[float] | None = None
    rotation: int = 0
    exif_rotated: bool = False
    roll_degrees: float | None = None
    sharpness: float | None = None
    identity_distance: float | None = None
    duplicate_of: str | None = None
    gender: str | None = None
    gender_confidence: float | None = None
    age: float | None = None
    quality: float | None = None  # RTS reliability of the face in (0, 1), see faces/quality_score.py


@dataclass
class PreparedDataset:
    """The result of ``prepare``: where the dataset is and what went into it."""

    out: Path
    photos: list[PhotoReport]
    reference: str | None
    trigger: str
    class_phrase: str
    detected_class_phrase: str
    backend: str
    warnings: list[str] = field(default_factory=list)

    @property
    def kept(self) -> list[PhotoReport]:
        return sorted((p for p in self.photos if p.status == "kept"), key=lambda p: p.order)

    @property
    def rejected(self) -> list[PhotoReport]:
        return [p for p in self.photos if p.status != "kept"]

    @property
    def caption(self) -> str:
        return caption(self.trigger, self.class_phrase)


class OutputExists(BadArguments, FileExistsError):
    """The output folder holds files and overwriting was not asked for."""


class NoUsablePhotos(NothingUsable):
    """Not one photo could be used; ``photos`` holds the reason for each."""

    def __init__(self, photos: list[PhotoReport]):
        self.photos = photos
        reasons = sorted({p.reason for p in photos if p.reason}) or ["no photos were given"]
        super().__init__("no usable photo among the inputs. Reasons found: " + "; ".join(reasons))


def clipped(text: str, keep: int = 40) -> str:
    """A user's text quoted for a message, its length said instead of all of it."""
    return repr(text) if len(text) <= keep else f"{text[:keep]!r}... ({len(text)} characters)"


FACE_FEATHER = 0.1
"""The face mask's soft edge, as a share of the face box side in the crop (20 px at the defaults): the
loss weight fades over about a third of the ellipse's half-width instead of stepping at its edge."""


def image_name(order: int) -> str:
    """Where the crop of the photo chosen ``order``-th goes, relative to the dataset folder."""
    return f"images/{order:03d}.png"


def mask_names(order: int) -> dict[str, str]:
    """The metadata keys and files of that crop's masks (L PNGs, 255 = 1): the pixels that come from the
    photo, and the face ellipse (``faces.masks``). Keys ending in ``_file_name`` are image columns to
    Hugging Face ``datasets``' imagefolder ("photo_mask", "face_mask")."""
    return {f"{kind}_mask_file_name": f"masks/{order:03d}-{kind}.png" for kind in ("photo", "face")}


def expand_inputs(inputs: Iterable[str | Path]) -> list[Path]:
    """Files as given, and the visible files inside given folders (sorted); repeats removed."""
    paths: list[Path] = []
    for item in map(Path, inputs):
        if item.is_dir():
            paths.extend(sorted(p for p in item.iterdir() if p.is_file() and not p.name.startswith(".")))
        else:
            paths.append(item)
    return list(dict.fromkeys(paths))


def prepare(
    photos: Iterable[str | Path],
    out: str | Path,
    *,
    trigger: str = "sks",
    class_word: str | None = None,
    max_photos: int = 20,
    analyzer: FaceAnalyzer | str | None = None,
    crop: CropSpec = CropSpec(),
    overwrite: bool = False,
    settings: Settings | None = None,
    progress: Progress | None = None,
    workers: int = 1,
    max_request_pixels: int | None = None,
) -> PreparedDataset:
    """Curate ``photos`` (files or folders) into a training set at ``out``.

    Args:
        photos: image files or folders of them; every photo gets a report, kept or rejected with its reason.
        out: the dataset folder to write (images/, metadata.jsonl, report.json), written whole.
        trigger: the one-word token the LoRA learns for the person.
        class_word: overrides the class phrase voted from the faces' gender and age ("woman", "man", ...).
        max_photos: most photos kept; beyond it, the most varied ones (``diversity.greedy_selection``).
        analyzer: a face engine, or its name ("auto", "dlib", "insightface"); None: the settings' one.
        crop: size of the crops and where the face sits in them.
        overwrite: replace a non-empty ``out``.
        settings: home folder, engine and limits (default: from the environment).
        progress: ``progress(photos done, total, photo name)`` (``facechain.progress``).
        workers: processes examining photos (1: this process only).
        max_request_pixels: photos that would take the pixels decoded for this call past it are rejected
            unread, each with the reason (see ``over_budget``); the others are examined as usual.

    Raises ``NoUsablePhotos`` when nothing survives, ``OutputExists`` (a ``FileExistsError``) when ``out``
    holds files and ``overwrite`` is False, ``BadArguments`` for a bad trigger or count; in every case
    nothing is written.
    """
    settings = settings or Settings.from_env()
    trigger = trigger.strip()
    if not TRIGGER.fullmatch(trigger):
        raise BadArguments(
            f"the trigger must be one word of 1-{MAX_TRIGGER} letters, digits, '_' or '-' "
            f"(e.g. sks, ohwx), got {clipped(trigger)}"
        )
    if max_photos < 1:
        raise BadArguments(f"max_photos must be at least 1, got {max_photos}")
    out = Path(out)
    if out.exists() and (not out.is_dir() or any(out.iterdir())) and not overwrite:
        raise OutputExists(
            f"output folder {out} already exists and is not empty: choose another --out or pass --overwrite"
        )
    if not isinstance(analyzer, FaceAnalyzer):
        analyzer = load_analyzer(analyzer, settings)
    paths = expand_inputs(photos)

    refused = over_budget(paths, max_request_pixels, settings.max_image_pixels) if max_request_pixels else {}
    examined = examine_all(paths, analyzer, crop, settings, workers, progress, refused)
    reports = [report for report, _, _ in examined]
    candidates = [cand for _, cand, _ in examined if cand is not None]
    crops = {cand.key: image for _, cand, image in examined if cand is not None}

    curation = curate(candidates, analyzer, max_photos)
    for cand in candidates:
        decision, report = curation.decisions[cand.key], reports[cand.key]
        report.identity_distance = decision.identity_distance
        report.duplicate_of = decision.duplicate_of
        if decision.kept:
            report.status, report.order, report.reason = "kept", decision.order, None
            report.output = image_name(decision.order)
        else:
            report.reason = decision.reason
    if curation.reference is None:
        raise NoUsablePhotos(reports)

    vote = class_vote(c.face for c in candidates if curation.decisions[c.key].kept)
    result = PreparedDataset(
        out=out,
        photos=reports,
        reference=reports[curation.reference].source,
        trigger=trigger,
        class_phrase=with_article(class_word) if class_word else vote.phrase,
        detected_class_phrase=vote.phrase,
        backend=analyzer.name,
        warnings=curation.warnings,
    )
    landmarks = {cand.key: cand.face.landmarks for cand in candidates}
    write_dataset(result, crops, landmarks, curation.kept, vote, crop, analyzer)
    return result


def over_budget(paths: list[Path], budget: int, max_pixels: int) -> dict[int, str]:
    """The photos, by position, whose decoding would take this call past ``budget`` pixels, with the
    reason. Counted in input order from each header (``decoded_pixels``), so the earlier photos are
    examined, and a later one still is when it fits in what is left."""
    spent, refused = 0, {}
    for key, path in enumerate(paths):
        pixels = decoded_pixels(path, max_pixels)
        if spent + pixels > budget:
            refused[key] = (
                f"not examined: it would decode {pixels / 1e6:.0f} megapixels and this request has "
                f"{(budget - spent) / 1e6:.0f} of its {budget / 1e6:.0f} left; "
                "send it downscaled or in another batch"
            )
        else:
            spent += pixels
    return refused


def examine_all(
    paths: list[Path],
    analyzer: FaceAnalyzer,
    crop: CropSpec,
    settings: Settings,
    workers: int,
    progress: Progress | None = None,
    refused: dict[int, str] | None = None,
) -> list:
    """Examine every photo but the ``refused`` ones (position -> reason); results in input order.

    With ``workers`` > 1, ``workers - 1`` helper processes take photos from the same queue as this
    one, which starts working at once while the helpers load their models. Processes, not threads:
    dlib's DNN calls hold the GIL. Spawned, not forked: dlib's CNN hung in a forked child here.
    """
    refused = refused or {}
    results: list = [None] * len(paths)
    pending = iter(enumerate(paths))
    lock = threading.Lock()

    def work(examine) -> None:
        while True:
            with lock:
                key, path = next(pending, (None, None))
            if key is None:
                return
            if key in refused:
                results[key] = PhotoReport(str(path), reason=refused[key]), None, None
            else:
                results[key] = examine(key, path)
            with lock:
                if progress:
                    progress(sum(r is not None for r in results), len(paths), path.name)

    helpers = min(workers, len(paths)) - 1
    if helpers < 1:
        work(lambda key, path: examine_photo(key, path, analyzer, crop, settings))
        return results
    context = multiprocessing.get_context("spawn")
    with (
        ProcessPoolExecutor(
            helpers, mp_context=context, initializer=_start_worker, initargs=(analyzer.name, settings)
        ) as pool,
        ThreadPoolExecutor(helpers) as feeders,
    ):
        fed = [
            feeders.submit(work, lambda key, path: pool.submit(_examine_in_worker, key, path, crop).result())
            for _ in range(helpers)
        ]
        work(lambda key, path: examine_photo(key, path, analyzer, crop, settings))
        for feeder in fed:
            feeder.result()
    return results


_worker_state: dict = {}


def _start_worker(backend: str, settings: Settings) -> None:
    _worker_state.update(analyzer=load_analyzer(backend, settings), settings=settings)


def _examine_in_worker(key: int, path: Path, crop: CropSpec):
    return examine_photo(key, path, _worker_state["analyzer"], crop, _worker_state["settings"])


def examine_photo(key: int, path: Path, analyzer: FaceAnalyzer, crop: CropSpec, settings: Settings):
    """(report, candidate or None, ``FilledCrop`` or None) for one photo; never raises."""
    report = PhotoReport(source=str(path))
    try:
        return _examine(key, path, analyzer, crop, settings, report)
    except PhotoError as error:
        report.reason = str(error)
    except Exception as error:  # one bad photo must never stop the others
        report.reason = f"could not be analysed ({type(error).__name__}: {error})"
    return report, None, None


def _examine(key, path, analyzer, crop, settings, report):
    """Detection, checks and crop all use ``photo.image``, the reduced copy the landmarks come from;
    the face box and size are reported, and checked, in the photo's own pixels."""
    photo = load_photo(path, settings.max_image_pixels)
    report.exif_rotated = photo.exif_rotated
    image, faces = photo.image, []
    for turn in ROTATIONS:
        image = photo.image.rotate(turn, expand=True) if turn else photo.image
        faces = analyzer.detect(np.asarray(image))
        if faces:
            report.rotation = turn
            break
    report.faces_found = len(faces)
    if not faces:
        report.reason = "no face found"
        return report, None, None
    face = faces[0]
    report.detection_score = round(face.score, 3)
    report.box = [round(v * photo.scale, 1) for v in face.box]
    report.roll_degrees = round(roll_degrees(face.landmarks), 1)
    report.gender, report.age = face.gender, face.age
    report.gender_confidence = None if face.gender_confidence is None else round(face.gender_confidence, 3)
    report.quality = quality_for(analyzer, face)
    limits = analyzer.thresholds
    if len(faces) > 1 and face.area < limits.dominant_area_ratio * faces[1].area:
        report.reason = (
            f"{len(faces)} faces of comparable size: crop the photo to the one person "
            f"(a face is used only when it is {limits.dominant_area_ratio:g}x larger than any other)"
        )
        return report, None, None
    if face.size * photo.scale < limits.min_face_px:
        report.reason = f"face too small ({face.size * photo.scale:.0f} px, at least {limits.min_face_px} px needed)"
        return report, None, None
    canonical = canonical_face(image, face.landmarks)
    report.sharpness = round(sharpness(canonical), 1)
    if report.sharpness < limits.min_sharpness:
        report.reason = f"too blurred (sharpness {report.sharpness:.0f}, at least {limits.min_sharpness:.0f} needed)"
        return report, None, None
    photo_hash = difference_hash(np.asarray(image.convert("L"), dtype=np.float64))
    candidate = Candidate(key=key, name=path.name, face=face, sharpness=report.sharpness, photo_hash=photo_hash)
    return report, candidate, filled_crop(image, face.landmarks, crop)


def face_mask_image(landmarks: np.ndarray, crop: CropSpec) -> Image.Image:
    """The face ellipse of a crop (L, 255 = 1), from the photo's landmarks."""
    feather = FACE_FEATHER * crop.face_fraction * crop.size
    mask = face_mask(aligned_landmarks(landmarks, crop), (crop.size, crop.size), feather)
    return Image.fromarray(np.rint(mask * 255).astype(np.uint8))


def write_dataset(
    result: PreparedDataset,
    crops: dict[int, FilledCrop],
    landmarks: dict[int, np.ndarray],
    kept: list[int],
    vote,
    crop: CropSpec,
    analyzer: FaceAnalyzer,
) -> None:
    """Write everything into a staging folder, then swap it in for ``result.out``."""
    with staged_folder(result.out) as staging:
        (staging / "images").mkdir()
        (staging / "masks").mkdir()
        with open(staging / "metadata.jsonl", "w", encoding="utf-8") as metadata:
            for rank, key in enumerate(kept):
                name, masks = image_name(rank), mask_names(rank)
                crops[key].image.save(staging / name, compress_level=1)
                crops[key].photo_mask.save(staging / masks["photo_mask_file_name"], compress_level=1)
                face_mask_image(landmarks[key], crop).save(staging / masks["face_mask_file_name"], compress_level=1)
                metadata.write(json.dumps({"file_name": name, "text": result.caption, **masks}) + "\n")
        report = {
            "version": 1,
            "backend": result.backend,
            "trigger": result.trigger,
            "class_phrase": result.class_phrase,
            "detected_class_phrase": result.detected_class_phrase,
            "class_vote": {"female_share": vote.female_share, "median_age": vote.median_age, "faces": vote.faces},
            "caption": result.caption,
            "reference": result.reference,
            "kept": len(kept),
            "rejected": len(result.photos) - len(kept),
            "warnings": result.warnings,
            "crop": asdict(crop),
            "thresholds": asdict(analyzer.thresholds),
            "photos": [asdict(p) for p in result.photos],
        }
        (staging / "report.json").write_text(json.dumps(report, indent=2), encoding="utf-8")
