"""``facechain prepare`` (photos -> curated, aligned, captioned training set) and ``facechain
example-photos`` (the example set made from images that ship in packages)."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from ..faces import BACKENDS, CropSpec
from ..progress import TqdmProgress
from ..wording import plural
from .common import add_command


def add_prepare_commands(commands) -> None:
    prep = add_command(
        commands,
        "prepare",
        "curate photos of one person into an aligned, captioned training set",
        "Detect, check and align the face in each photo; drop unusable photos, other people and duplicates "
        "(each with its reason); keep the most varied --max-photos; write images/NNN.png, their photo and face "
        "masks masks/NNN-photo.png and masks/NNN-face.png (for train --face-loss-weight), metadata.jsonl "
        "(diffusers imagefolder) and report.json into --out. Exit code 2 when no photo is usable.",
    )
    prep.add_argument("photos", nargs="+", type=Path, help="photo files and/or folders of photos")
    prep.add_argument("--out", required=True, type=Path, help="dataset folder to write")
    prep.add_argument(
        "--trigger",
        default="sks",
        help="the token that will stand for this person in prompts: "
        "one word of letters, digits, '_' or '-', at most 32",
    )
    prep.add_argument(
        "--class-word",
        help="class phrase, e.g. 'woman' or 'an old man' (default: detected from the photos' gender and age)",
    )
    prep.add_argument("--max-photos", type=int, default=20, help="keep at most this many (the most varied ones)")
    prep.add_argument(
        "--backend",
        choices=BACKENDS,
        help="face engine; auto = insightface when its model pack is present, else dlib "
        "(default: FACECHAIN_FACE_BACKEND, else auto)",
    )
    prep.add_argument("--size", type=int, default=CropSpec.size, help="side of the square crops, in pixels")
    prep.add_argument(
        "--face-fraction", type=float, default=CropSpec.face_fraction, help="face size as a fraction of the crop side"
    )
    prep.add_argument(
        "--face-center-y",
        type=float,
        default=CropSpec.face_center_y,
        help="height of the face centre as a fraction of the crop",
    )
    prep.add_argument(
        "--workers",
        type=int,
        default=1,
        help="processes analysing photos in parallel (each loads the face models, ~2 s)",
    )
    prep.add_argument("--overwrite", action="store_true", help="replace --out if it already holds files")
    prep.set_defaults(run=run_prepare)

    example = add_command(
        commands,
        "example-photos",
        "write the example photo set (made from images that ship in packages)",
        "Write 14 example files into FOLDER to try prepare on: seven usable photos of one "
        "person (framed, turned, mirrored, EXIF-rotated, greyscale ...) and files it must "
        "reject, each for its own reason (a duplicate, a blurred photo, a cat, a screenshot, "
        "a truncated JPEG, an empty file, a text file).",
    )
    example.add_argument("folder", type=Path, help="folder to write the photos into (created if missing)")
    example.set_defaults(run=run_example_photos)


def run_prepare(args: argparse.Namespace) -> int:
    from ..portrait import NoUsablePhotos, prepare

    crop = CropSpec(size=args.size, face_fraction=args.face_fraction, face_center_y=args.face_center_y)
    with TqdmProgress("prepare", "photo") as bar:
        try:
            result = prepare(
                args.photos,
                args.out,
                trigger=args.trigger,
                class_word=args.class_word,
                max_photos=args.max_photos,
                analyzer=args.backend,
                crop=crop,
                overwrite=args.overwrite,
                progress=bar,
                workers=args.workers,
            )
        except NoUsablePhotos as error:
            bar.close()
            print(summary_table(error.photos), file=sys.stderr)
            raise
    print(summary_table(result.photos))
    print(summary_lines(result))
    return 0


def summary_table(photos) -> str:
    rows = [("#", "photo", "status", "detail")]
    for photo in photos:
        if photo.status == "kept":
            detail = (
                f"{photo.output}  score {photo.detection_score:.2f}  sharpness {photo.sharpness:.0f}  "
                f"identity {photo.identity_distance:.2f}"
            )
            if photo.rotation:
                detail += f"  turned {photo.rotation} deg"
        else:
            detail = photo.reason or ""
        rows.append(
            (str(photo.order if photo.order is not None else "-"), Path(photo.source).name, photo.status, detail)
        )
    widths = [max(len(row[i]) for row in rows) for i in range(3)]
    return "\n".join(
        "  ".join(cell.ljust(width) for cell, width in zip(row[:3], widths)) + "  " + row[3] for row in rows
    )


def summary_lines(result) -> str:
    detected = (
        "" if result.class_phrase == result.detected_class_phrase else f" (detected: {result.detected_class_phrase})"
    )
    lines = [
        f"kept {len(result.kept)} of {plural(len(result.photos), 'photo')}; reference face: "
        f"{Path(result.reference).name}",
        f"caption: '{result.caption}'{detected}   (change with --class-word / --trigger)",
        f"face engine: {result.backend}",
        f"written: {result.out}/images, {result.out}/masks, {result.out}/metadata.jsonl, {result.out}/report.json",
    ]
    return "\n".join(lines + [f"warning: {w}" for w in result.warnings])


def run_example_photos(args: argparse.Namespace) -> int:
    from ..examples import write_example_photos

    written = write_example_photos(args.folder)
    print(f"wrote {plural(len(written), 'example file')} to {args.folder}")
    return 0
