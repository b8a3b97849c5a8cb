"""The ``facechain`` command: a thin layer over the Python API (``facechain.portrait`` ...)."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from tqdm import tqdm

from .faces import BACKENDS, BackendUnavailable, CropSpec
from .portrait import NoUsablePhotos, PreparedDataset, prepare

EXIT_NO_USABLE_PHOTOS = 2
EXIT_BAD_INPUT = 3


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="facechain", description="FaceChain Studio: personalized portraits from a few photos.")
    commands = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")

    prep = commands.add_parser(
        "prepare", help="curate photos of one person into an aligned, captioned training set",
        description="Detect, check and align the face in each photo; drop unusable photos, other people and "
                    "duplicates (each with its reason); keep the most varied --max-photos; write images/NNN.png, "
                    "metadata.jsonl (diffusers imagefolder) and report.json into --out.",
        formatter_class=argparse.ArgumentDefaultsHelpFormatter)
    prep.add_argument("photos", nargs="+", type=Path, help="photo files and/or folders of photos")
    prep.add_argument("--out", required=True, type=Path, help="dataset folder to write")
    prep.add_argument("--trigger", default="sks", help="the token that will stand for this person in prompts")
    prep.add_argument("--class-word", default=None,
                      help="class phrase, e.g. 'woman' or 'an old man' (default: detected from the photos' gender and age)")
    prep.add_argument("--max-photos", type=int, default=20, help="keep at most this many (the most varied ones)")
    prep.add_argument("--backend", choices=BACKENDS, default=None,
                      help="face engine; auto = insightface when its model pack is present, else dlib (env FACECHAIN_FACE_BACKEND)")
    prep.add_argument("--size", type=int, default=CropSpec.size, help="side of the square crops, in pixels")
    prep.add_argument("--face-fraction", type=float, default=CropSpec.face_fraction, help="face size as a fraction of the crop side")
    prep.add_argument("--face-center-y", type=float, default=CropSpec.face_center_y, help="height of the face centre as a fraction of the crop")
    prep.add_argument("--workers", type=int, default=1, help="processes analysing photos in parallel (each loads the face models, ~2 s)")
    prep.add_argument("--overwrite", action="store_true", help="replace --out if it already holds files")
    prep.set_defaults(run=run_prepare)

    example = commands.add_parser("example-photos", help="write the example photo set (made from images that ship in packages)")
    example.add_argument("folder", type=Path)
    example.set_defaults(run=run_example_photos)
    return parser


def run_prepare(args: argparse.Namespace) -> int:
    crop = CropSpec(size=args.size, face_fraction=args.face_fraction, face_center_y=args.face_center_y)
    with tqdm(total=None, unit="photo", desc="prepare", file=sys.stderr) as bar:
        def progress(done: int, total: int, name: str) -> None:
            bar.total = total
            bar.set_postfix_str(Path(name).name)
            bar.update(done - bar.n)

        try:
            result = prepare(args.photos, args.out, trigger=args.trigger, class_word=args.class_word,
                             max_photos=args.max_photos, analyzer=args.backend, crop=crop, overwrite=args.overwrite,
                             progress=progress, workers=args.workers)
        except NoUsablePhotos as error:
            bar.close()
            print(summary_table(error.photos), file=sys.stderr)
            print(f"error: {error}", file=sys.stderr)
            return EXIT_NO_USABLE_PHOTOS
    print(summary_table(result.photos))
    print(summary_lines(result))
    return 0


def summary_table(photos) -> str:
    rows = [("#", "photo", "status", "detail")]
    for photo in photos:
        if photo.status == "kept":
            detail = f"{photo.output}  score {photo.detection_score:.2f}  sharpness {photo.sharpness:.0f}  identity {photo.identity_distance:.2f}"
            if photo.rotation:
                detail += f"  turned {photo.rotation} deg"
        else:
            detail = photo.reason or ""
        rows.append((str(photo.order if photo.order is not None else "-"), Path(photo.source).name, photo.status, detail))
    widths = [max(len(row[i]) for row in rows) for i in range(3)]
    return "\n".join("  ".join(cell.ljust(width) for cell, width in zip(row[:3], widths)) + "  " + row[3] for row in rows)


def summary_lines(result: PreparedDataset) -> str:
    detected = "" if result.class_phrase == result.detected_class_phrase else f" (detected: {result.detected_class_phrase})"
    lines = [
        f"kept {len(result.kept)} of {len(result.photos)} photos; reference face: {Path(result.reference).name}",
        f"caption: '{result.caption}'{detected}   (change with --class-word / --trigger)",
        f"face engine: {result.backend}",
        f"written: {result.out}/images, {result.out}/metadata.jsonl, {result.out}/report.json",
    ]
    return "\n".join(lines + [f"warning: {w}" for w in result.warnings])


def run_example_photos(args: argparse.Namespace) -> int:
    from .examples import write_example_photos

    written = write_example_photos(args.folder)
    print(f"wrote {len(written)} example files to {args.folder}")
    return 0


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    try:
        return args.run(args)
    except (FileExistsError, ValueError, BackendUnavailable) as error:
        print(f"error: {error}", file=sys.stderr)
        return EXIT_BAD_INPUT


if __name__ == "__main__":
    sys.exit(main())
