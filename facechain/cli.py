"""The ``facechain`` command: a thin layer over the Python API (``facechain.portrait`` ...)."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from tqdm import tqdm

from .cli_generate import add_generate_commands
from .cli_lab import add_lab_commands
from .cli_motion import add_motion_commands
from .errors import FacechainError
from .faces import BACKENDS, CropSpec
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

    add_train_command(commands)
    add_generate_commands(commands)
    add_motion_commands(commands)
    add_lab_commands(commands)

    example = commands.add_parser("example-photos", help="write the example photo set (made from images that ship in packages)")
    example.add_argument("folder", type=Path)
    example.set_defaults(run=run_example_photos)
    return parser


def add_train_command(commands) -> None:
    from .portrait.train_config import TrainConfig

    defaults = TrainConfig(dataset=".", out=".")
    train = commands.add_parser(
        "train", help="train a LoRA digital twin on a prepared dataset (optionally with SuDe)",
        description="Train a PEFT LoRA on the base model's UNet attention from a dataset made by `facechain prepare`. "
                    "Writes pytorch_lora_weights.safetensors, train_log.jsonl, training.json and checkpoints/ into --out. "
                    "Runs under `accelerate launch` too (several processes).",
        formatter_class=argparse.ArgumentDefaultsHelpFormatter)
    train.add_argument("dataset", type=Path, help="folder with metadata.jsonl (from facechain prepare)")
    train.add_argument("--out", required=True, type=Path, help="model folder to write")
    train.add_argument("--base-model", default=None, help="hub id or local diffusers folder (default: FACECHAIN_BASE_MODEL or SD 1.5)")
    train.add_argument("--tiny", action="store_true", help="use the tiny offline model: a demo of the workflow, not of quality")
    train.add_argument("--steps", type=int, default=None, help="optimizer steps (default: --epochs over the photos)")
    train.add_argument("--epochs", type=int, default=defaults.epochs)
    train.add_argument("--resolution", type=int, default=None, help="training resolution (default 512; 64 for --tiny)")
    train.add_argument("--batch-size", type=int, default=defaults.batch_size)
    train.add_argument("--gradient-accumulation", type=int, default=defaults.gradient_accumulation)
    train.add_argument("--learning-rate", type=float, default=defaults.learning_rate)
    train.add_argument("--lr-scheduler", default=defaults.lr_scheduler, help="any diffusers scheduler name: cosine, constant, linear, ...")
    train.add_argument("--warmup-steps", type=int, default=defaults.warmup_steps)
    train.add_argument("--rank", type=int, default=defaults.rank, help="LoRA rank")
    train.add_argument("--alpha", type=float, default=None, help="LoRA alpha (default: the rank)")
    train.add_argument("--train-text-encoder", action="store_true", help="also train a LoRA on the text encoder")
    train.add_argument("--sude-weight", type=float, default=defaults.sude_weight, help="SuDe regularization weight; 0 disables")
    train.add_argument("--class-prompt", default=None, help="category prompt for SuDe (default: the dataset's class phrase)")
    train.add_argument("--prior-preservation", action="store_true",
                       help="DreamBooth prior preservation with class images (generated by the base model when missing)")
    train.add_argument("--class-data-dir", type=Path, default=None, help="class images (default: OUT/class_images)")
    train.add_argument("--num-class-images", type=int, default=defaults.num_class_images)
    train.add_argument("--prior-loss-weight", type=float, default=defaults.prior_loss_weight)
    train.add_argument("--mixed-precision", choices=("no", "fp16", "bf16"), default=defaults.mixed_precision)
    train.add_argument("--gradient-checkpointing", action="store_true", help="trade compute for memory")
    train.add_argument("--snr-gamma", type=float, default=None, help="min-SNR loss weighting (5.0 is typical)")
    train.add_argument("--noise-offset", type=float, default=defaults.noise_offset)
    train.add_argument("--checkpoint-every", type=int, default=defaults.checkpoint_every)
    train.add_argument("--keep-checkpoints", type=int, default=defaults.keep_checkpoints)
    train.add_argument("--resume", action="store_true", help="continue from the newest checkpoint in --out")
    train.add_argument("--seed", type=int, default=defaults.seed)
    train.add_argument("--validation-images", type=int, default=defaults.validation_images,
                       help="images generated with the trained LoRA at the end (0: none)")
    train.add_argument("--validation-steps", type=int, default=defaults.validation_steps, help="sampling steps for them")
    train.add_argument("--export", action="append", choices=("kohya",), default=[],
                       help="also write the LoRA as lora_kohya.safetensors for A1111 / ComfyUI")
    train.set_defaults(run=run_train)


def run_train(args: argparse.Namespace) -> int:
    from accelerate import PartialState

    from .portrait import TrainConfig, train

    options = {key: value for key, value in vars(args).items() if key not in ("command", "run")}
    options["export"] = tuple(options["export"])
    config = TrainConfig(**options)
    speaks = PartialState().is_main_process  # under `accelerate launch`, one process reports
    if config.tiny and speaks:
        print("note: training the tiny offline model (random weights): a demo of the workflow, not of quality",
              file=sys.stderr)
    with tqdm(total=None, unit="step", desc="train", file=sys.stderr, disable=not speaks) as bar:
        def progress(step: int, total: int, loss: float) -> None:
            bar.total = total
            bar.set_postfix(loss=f"{loss:.4f}")
            bar.update(step - bar.n)

        result = train(config, progress=progress)
    evals = result.eval_losses
    if speaks and evals:
        print(f"evaluation loss: {evals[0][1]:.4f} at step {evals[0][0]} -> {evals[-1][1]:.4f} at step {evals[-1][0]}")
    if speaks:
        print(f"LoRA: {result.lora_file}  ({result.steps} steps on {result.base_model})")
    return 0


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
    except (FileExistsError, ValueError, FacechainError) as error:
        print(f"error: {error}", file=sys.stderr)
        return EXIT_BAD_INPUT


if __name__ == "__main__":
    sys.exit(main())
