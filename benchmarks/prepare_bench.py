"""Photos per second of ``facechain prepare`` against the face_recognition package, side by side.

Both run on the same 20 photos (1024 px phone-style variants of scikit-image's astronaut) with 1
and 2 workers. One worker runs in this process with models already loaded; two workers are two
fresh processes for both (as face_recognition's own CLI does with ``--cpus``: dlib's DNN calls hold
the GIL, so threads would not help either), their start-up and model loading included.
face_recognition does detection (its default: HOG, upsampled once) and 128-d encoding only; prepare
does all of its work (orientation, detection with CNN verification, 68 + 5 landmarks, embedding,
gender/age, alignment, quality, curation and writing
the dataset). face_recognition shares dlib's model files; install it beside dlib-bin with
``pip install --no-deps face_recognition``.

Whole process: the same comparison as a user meets it, one command from a cold start (interpreter,
imports, model loading, 7 photos: the README example's usable ones), ``facechain prepare`` against a
fresh Python process running face_recognition's detect + encode; plus the start-up of ``facechain
--help`` beside a bare ``python -c pass``.

    python benchmarks/prepare_bench.py [--repeats 3] [--json benchmarks/results/prepare_bench.json]
"""

from __future__ import annotations

import argparse
import importlib.util
import json
import platform
import statistics
import subprocess
import sys
import tempfile
import time
import types
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path

from PIL import Image, ImageEnhance, ImageFilter


def photo_set(folder: Path, count: int = 20) -> list[Path]:
    """``count`` distinct 1024x1024 shots: framings, turns, mirroring, softening, exposure."""
    from facechain.examples import astronaut, framed

    person = astronaut()
    paths = []
    for i in range(count):
        shift = 12 * i
        image = framed(person, shift % 120, (7 * i) % 90, 400 + shift % 120, 400 + (7 * i) % 90)
        if i % 4 == 1:
            image = image.rotate(-12 + 3 * (i % 9), resample=Image.Resampling.BICUBIC, fillcolor=(250, 250, 250))
        if i % 4 == 2:
            image = image.transpose(Image.Transpose.FLIP_LEFT_RIGHT)
        if i % 5 == 3:
            image = image.filter(ImageFilter.GaussianBlur(0.8))
        image = ImageEnhance.Brightness(image).enhance(0.85 + 0.03 * (i % 10))
        path = folder / f"photo_{i:02d}.jpg"
        image.resize((1024, 1024), Image.Resampling.BICUBIC).save(path, quality=90)
        paths.append(path)
    return paths


def load_face_recognition():
    """Import face_recognition, whose model package still imports pkg_resources (gone from new
    setuptools): answer its one call, resource_filename, with the installed files' location."""
    if "pkg_resources" not in sys.modules and importlib.util.find_spec("pkg_resources") is None:
        root = Path(list(importlib.util.find_spec("face_recognition_models").submodule_search_locations)[0])
        shim = types.ModuleType("pkg_resources")
        shim.resource_filename = lambda package, name: str(root / name)
        sys.modules["pkg_resources"] = shim
    import face_recognition

    return face_recognition


def reference(path: Path) -> int:
    """face_recognition's detection (HOG, upsampled once: its default) and encoding of one photo."""
    face_recognition = load_face_recognition()
    image = face_recognition.load_image_file(str(path))
    return len(face_recognition.face_encodings(image, face_recognition.face_locations(image)))


def run_reference(photos: list[Path], workers: int) -> list[int]:
    """face_recognition over the set: in this process, or in a fresh pool of worker processes (their
    start-up and model loading counted, as prepare's are)."""
    if workers == 1:
        return [reference(path) for path in photos]
    with ProcessPoolExecutor(workers, initializer=load_face_recognition) as pool:
        return list(pool.map(reference, photos))


def reference_process(folder: Path) -> None:
    """The reference as a whole process (this script with --reference-process): every photo in ``folder``."""
    print(sum(reference(path) for path in sorted(folder.iterdir())))


def time_command(command: list[str], repeats: int) -> float:
    """Median wall time of a fresh process running ``command`` (it must succeed)."""

    def run():
        subprocess.run(command, check=True, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)

    return time_runs(run, repeats)


def whole_process(tmp: Path, repeats: int) -> dict:
    """Cold-start seconds of ``facechain prepare`` and of the reference on 7 photos, and of ``--help``."""
    from facechain.examples import write_example_photos

    written = write_example_photos(tmp / "examples")
    folder = tmp / "seven"
    folder.mkdir()
    for path in sorted(written)[:7]:  # 01_portrait .. 07_sideways: the usable ones
        (folder / path.name).write_bytes(path.read_bytes())
    facechain = [sys.executable, "-m", "facechain.cli"]
    seconds = {
        "facechain_prepare": time_command(
            [*facechain, "prepare", str(folder), "--out", str(tmp / "cold"), "--overwrite"], repeats
        ),
        "face_recognition": time_command([sys.executable, __file__, "--reference-process", str(folder)], repeats),
        "facechain_help": time_command([*facechain, "--help"], repeats),
        "python_pass": time_command([sys.executable, "-c", "pass"], repeats),
    }
    return {"photos": 7, "seconds": seconds, "ratio": seconds["facechain_prepare"] / seconds["face_recognition"]}


def time_runs(run, repeats: int) -> float:
    timings = []
    for _ in range(repeats):
        start = time.perf_counter()
        run()
        timings.append(time.perf_counter() - start)
    return statistics.median(timings)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--json", type=Path, default=Path(__file__).parent / "results" / "prepare_bench.json")
    parser.add_argument("--reference-process", type=Path, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.reference_process:  # nothing of facechain imported: the reference pays only for its own start-up
        return reference_process(args.reference_process)
    from facechain.faces import load_analyzer
    from facechain.portrait import prepare

    analyzer = load_analyzer("dlib")
    with tempfile.TemporaryDirectory() as tmp:
        photos = photo_set(Path(tmp))
        prepare(photos[:2], Path(tmp) / "warmup", analyzer=analyzer)  # first-call model warm-up

        rows, found = [], {}
        for workers in (1, 2):
            ours = time_runs(
                lambda workers=workers: prepare(
                    photos, Path(tmp) / "out", analyzer=analyzer, overwrite=True, workers=workers
                ),
                args.repeats,
            )
            theirs = time_runs(
                lambda workers=workers: found.__setitem__(workers, run_reference(photos, workers)), args.repeats
            )
            rows.append(
                {
                    "workers": workers,
                    "facechain_photos_per_s": len(photos) / ours,
                    "face_recognition_photos_per_s": len(photos) / theirs,
                    "speed_ratio": theirs / ours,
                }
            )
        ours_faces = [
            p.faces_found for p in prepare(photos, Path(tmp) / "out", analyzer=analyzer, overwrite=True).photos
        ]
        cold = whole_process(Path(tmp), args.repeats)

    print(f"{len(photos)} photos, 1024x1024, median of {args.repeats} runs")
    print(f"{'workers':>7}  {'facechain prepare':>18}  {'face_recognition':>17}  {'ratio (ours/theirs)':>19}")
    for row in rows:
        print(
            f"{row['workers']:>7}  {row['facechain_photos_per_s']:>13.2f} ph/s  "
            f"{row['face_recognition_photos_per_s']:>12.2f} ph/s"
            f"  {row['speed_ratio']:>18.2f}x"
        )
    print(
        f"faces reported over the set: facechain {sum(ours_faces)}, face_recognition {sum(found[1])} "
        f"(true: {len(photos)})"
    )
    times = cold["seconds"]
    print(
        f"\nwhole process, 7 photos from a cold start: facechain prepare {times['facechain_prepare']:.2f} s, "
        f"face_recognition {times['face_recognition']:.2f} s, ratio (ours/theirs, time) {cold['ratio']:.2f}x"
    )
    print(f"start-up: facechain --help {times['facechain_help']:.2f} s, python -c pass {times['python_pass']:.2f} s")
    result = {
        "photos": len(photos),
        "size": "1024x1024",
        "repeats": args.repeats,
        "rows": rows,
        "faces_found": {"facechain": sum(ours_faces), "face_recognition": sum(found[1]), "true": len(photos)},
        "whole_process": cold,
        "machine": {"python": platform.python_version(), "processor": platform.processor() or platform.machine()},
    }
    args.json.parent.mkdir(parents=True, exist_ok=True)
    args.json.write_text(json.dumps(result, indent=2))
    print(f"wrote {args.json}")


if __name__ == "__main__":
    main()
