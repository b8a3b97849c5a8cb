"""Seconds per step and peak memory of `facechain train` against diffusers' own DreamBooth LoRA script,
and the cost of SuDe, side by side on the tiny offline model.

Every arm is a fresh process on the same tiny model, images, 64 px resolution, batch 1, LoRA rank 4,
constant learning rate and seed; no validation, no checkpoints. Seconds per step come from two runs
of each arm (few and many steps), so start-up and model loading cancel out. Peak memory is the
process's maximum resident set. The reference is diffusers' ``examples/dreambooth/train_dreambooth_lora.py``
from a diffusers checkout, given on the command line and run as it is (it imports torchvision, so
``--python`` may name an interpreter whose environment has torchvision and this project installed).

    python benchmarks/train_bench.py [--reference-script PATH] [--python PYTHON] [--steps 5 25]
"""

from __future__ import annotations

import argparse
import json
import os
import re
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from facechain.config import Settings  # noqa: E402
from facechain.diffusion.tiny import ensure_tiny_model  # noqa: E402
from facechain.examples import astronaut, framed  # noqa: E402

PEAK = "PEAK_RSS_KB"
RUNNER = (
    "import atexit, resource, runpy, sys; "
    "atexit.register(lambda: print('{peak}', resource.getrusage(resource.RUSAGE_SELF).ru_maxrss, file=sys.stderr)); "
    "target, sys.argv = sys.argv[1], sys.argv[1:]; "
    "runpy.run_module(target[2:], run_name='__main__') if target.startswith('-m') else "
    "runpy.run_path(target, run_name='__main__')"
)


def make_dataset(folder: Path, count: int = 4) -> tuple[Path, Path, str]:
    """(prepared dataset, plain image folder for the reference, caption)."""
    caption = "sks, a woman"
    dataset, plain = folder / "dataset", folder / "instance"
    (dataset / "images").mkdir(parents=True)
    plain.mkdir()
    lines = []
    for i in range(count):
        image = framed(astronaut(), 80 + 10 * i, 10 * i, 380 + 10 * i, 300 + 10 * i).resize((128, 128))
        image.save(dataset / "images" / f"{i:03d}.png")
        image.save(plain / f"{i:03d}.png")
        lines.append(json.dumps({"file_name": f"images/{i:03d}.png", "text": caption}))
    (dataset / "metadata.jsonl").write_text("\n".join(lines) + "\n")
    (dataset / "report.json").write_text(json.dumps({"trigger": "sks", "class_phrase": "a woman"}))
    return dataset, plain, caption


def run(python: str, target: str, arguments: list[str], env: dict) -> tuple[float, int]:
    """(wall seconds, peak resident kB) of one process."""
    start = time.perf_counter()
    done = subprocess.run(
        [python, "-c", RUNNER.replace("{peak}", PEAK), target, *arguments], env=env, capture_output=True, text=True
    )
    seconds = time.perf_counter() - start
    if done.returncode != 0:
        raise RuntimeError(f"{target} failed:\n{done.stderr[-3000:]}")
    peak = int(re.findall(rf"{PEAK} (\d+)", done.stderr)[-1])
    return seconds, peak


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--reference-script", type=Path, help="diffusers' examples/dreambooth/train_dreambooth_lora.py")
    parser.add_argument("--python", default=sys.executable, help="interpreter for every arm")
    parser.add_argument("--steps", type=int, nargs=2, default=(10, 410), metavar=("FEW", "MANY"))
    parser.add_argument("--repeats", type=int, default=3, help="runs per (arm, steps); the median time counts")
    parser.add_argument("--json", type=Path, default=Path(__file__).parent / "results" / "train_bench.json")
    args = parser.parse_args()

    with tempfile.TemporaryDirectory() as tmp:
        tmp = Path(tmp)
        home = tmp / "home"
        model = ensure_tiny_model(Settings(home=home).home / "tiny-sd")
        dataset, plain, caption = make_dataset(tmp)
        env = {**os.environ, "FACECHAIN_HOME": str(home), "OMP_NUM_THREADS": "1", "HF_HUB_OFFLINE": "1"}
        common = [
            "--learning-rate",
            "1e-4",
            "--lr-scheduler",
            "constant",
            "--rank",
            "4",
            "--resolution",
            "64",
            "--batch-size",
            "1",
            "--seed",
            "42",
            "--checkpoint-every",
            "100000",
            "--validation-images",
            "0",
        ]

        def ours(sude: float):
            return lambda steps, out: (
                "-mfacechain.cli",
                [
                    "train",
                    str(dataset),
                    "--out",
                    str(out),
                    "--tiny",
                    "--steps",
                    str(steps),
                    "--sude-weight",
                    str(sude),
                    *common,
                ],
            )

        arms = {"facechain train": ours(0.0), "facechain train + SuDe 0.4": ours(0.4)}
        if args.reference_script:
            arms["diffusers train_dreambooth_lora.py"] = lambda steps, out: (
                str(args.reference_script),
                [
                    "--pretrained_model_name_or_path",
                    str(model),
                    "--instance_data_dir",
                    str(plain),
                    "--instance_prompt",
                    caption,
                    "--output_dir",
                    str(out),
                    "--resolution",
                    "64",
                    "--train_batch_size",
                    "1",
                    "--max_train_steps",
                    str(steps),
                    "--learning_rate",
                    "1e-4",
                    "--lr_scheduler",
                    "constant",
                    "--lr_warmup_steps",
                    "0",
                    "--rank",
                    "4",
                    "--seed",
                    "42",
                    "--checkpointing_steps",
                    "100000",
                    "--mixed_precision",
                    "no",
                ],
            )
        rows = {}
        few, many = args.steps
        for name, arm in arms.items():
            timings = []
            for steps in (few, many):
                runs = []
                for repeat in range(args.repeats):
                    out = tmp / f"out-{len(rows)}-{steps}-{repeat}"
                    runs.append(run(args.python, *arm(steps, out), env))
                    shutil.rmtree(out, ignore_errors=True)
                timings.append((statistics.median(t for t, _ in runs), max(p for _, p in runs)))
            (t_few, _), (t_many, peak) = timings
            rows[name] = {
                "seconds_per_step": (t_many - t_few) / (many - few),
                "peak_rss_mb": peak / 1024,
                "startup_seconds": t_few - few * (t_many - t_few) / (many - few),
            }

    base = rows["facechain train"]["seconds_per_step"]
    print(f"tiny model, 64 px, batch 1, rank 4; seconds per step from {few} vs {many} steps, median of {args.repeats}")
    print(f"{'arm':<36}{'s/step':>9}{'vs ours':>9}{'peak RSS':>11}{'start-up':>10}")
    for name, row in rows.items():
        print(
            f"{name:<36}{row['seconds_per_step']:>9.3f}{row['seconds_per_step'] / base:>8.2f}x"
            f"{row['peak_rss_mb']:>8.0f} MB{row['startup_seconds']:>9.1f}s"
        )
    args.json.parent.mkdir(parents=True, exist_ok=True)
    args.json.write_text(
        json.dumps(
            {
                "steps": [few, many],
                "repeats": args.repeats,
                "python": args.python,
                "reference": str(args.reference_script) if args.reference_script else None,
                "rows": rows,
            },
            indent=2,
        )
    )
    print(f"wrote {args.json}")


if __name__ == "__main__":
    main()
