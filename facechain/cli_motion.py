"""``facechain motion train|predict``: HumanMAC on the procedural motion set (real VideoPose3D files
and evaluation come next)."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from tqdm import tqdm


def add_motion_commands(commands) -> None:
    motion = commands.add_parser("motion", help="HumanMAC motion prediction: train, predict")
    actions = motion.add_subparsers(dest="action", required=True, metavar="ACTION")
    train = actions.add_parser(
        "train", help="train a HumanMAC denoiser on procedural motion (H36M skeleton)",
        description="Train the HumanMAC denoiser on procedural 17-joint motion and save the pipeline "
                    "(denoiser + DDIM cosine scheduler, safetensors) into --out.",
        formatter_class=argparse.ArgumentDefaultsHelpFormatter)
    train.add_argument("--out", required=True, type=Path, help="pipeline folder to write")
    train.add_argument("--steps", type=int, default=2000)
    train.add_argument("--batch-size", type=int, default=32)
    train.add_argument("--learning-rate", type=float, default=1e-3)
    train.add_argument("--windows", type=int, default=2000, help="procedural training windows to draw")
    train.add_argument("--width", type=int, default=128, help="transformer width (paper: 512)")
    train.add_argument("--layers", type=int, default=4, help="transformer layers, even (paper: 8)")
    train.add_argument("--seed", type=int, default=0)
    train.set_defaults(run=run_motion_train)

    evaluate = actions.add_parser(
        "eval", help="APD/ADE/FDE/MMADE/MMFDE on held-out procedural windows, beside the zero-velocity baseline",
        formatter_class=argparse.ArgumentDefaultsHelpFormatter)
    evaluate.add_argument("model", type=Path, help="pipeline folder from `facechain motion train`")
    evaluate.add_argument("--windows", type=int, default=100, help="held-out procedural test windows")
    evaluate.add_argument("--samples", type=int, default=50, help="K futures per window (paper: 50)")
    evaluate.add_argument("--steps", type=int, default=100, help="DDIM steps (paper: 100)")
    evaluate.add_argument("--seed", type=int, default=12345, help="draws the test windows (not the training seed)")
    evaluate.set_defaults(run=run_motion_eval)

    predict = actions.add_parser(
        "predict", help="K futures for a procedural history, as an animated GIF",
        formatter_class=argparse.ArgumentDefaultsHelpFormatter)
    predict.add_argument("model", type=Path, help="pipeline folder from `facechain motion train`")
    predict.add_argument("--out", required=True, type=Path, help="GIF to write")
    predict.add_argument("--samples", type=int, default=3, help="K futures (1-6 in the GIF)")
    predict.add_argument("--steps", type=int, default=50, help="DDIM steps (paper: 100)")
    predict.add_argument("--seed", type=int, default=0, help="chooses the history and the sampling noise")
    predict.set_defaults(run=run_motion_predict)


def run_motion_train(args: argparse.Namespace) -> int:
    import numpy as np
    import torch

    from models.humanmac import HumanMACDenoiser
    from pipelines.humanmac import HumanMACPipeline, default_scheduler

    from .atomic import staged_folder
    from .motion.skeleton import H36M
    from .motion.training import MotionTrainConfig, procedural_windows, train_denoiser

    torch.manual_seed(args.seed)
    windows = procedural_windows(args.windows, H36M, np.random.default_rng(args.seed))
    denoiser = HumanMACDenoiser(joints=H36M.count - 1, coefficients=H36M.dct_coefficients, width=args.width,
                                layers=args.layers, heads=8 if args.width % 8 == 0 else 4, feed_forward=2 * args.width)
    scheduler = default_scheduler()
    config = MotionTrainConfig(steps=args.steps, batch_size=args.batch_size, learning_rate=args.learning_rate,
                               seed=args.seed)
    with tqdm(total=args.steps, unit="step", desc="motion train", file=sys.stderr) as bar:
        def progress(step: int, total: int, loss: float) -> None:
            bar.set_postfix(loss=f"{loss:.4f}")
            bar.update(step - bar.n)

        ema, losses = train_denoiser(denoiser, scheduler, windows, config, H36M, progress)
    with staged_folder(args.out) as staging:
        HumanMACPipeline(ema, scheduler).save_pretrained(staging)
    print(f"loss {np.mean(losses[:20]):.4f} -> {np.mean(losses[-20:]):.4f}; pipeline: {args.out}")
    return 0


def load_pipeline(folder: Path):
    from pipelines.humanmac import HumanMACPipeline

    from .errors import FacechainError

    if not (folder / "model_index.json").is_file():
        raise FacechainError(f"{folder} is not a motion pipeline folder: make one with `facechain motion train`")
    pipe = HumanMACPipeline.from_pretrained(folder)
    pipe.set_progress_bar_config(disable=True)
    return pipe


def run_motion_eval(args: argparse.Namespace) -> int:
    import numpy as np

    from .motion.evaluation import ZeroVelocity, evaluate, table
    from .motion.skeleton import H36M
    from .motion.training import procedural_windows

    pipe = load_pipeline(args.model)
    windows = procedural_windows(args.windows, H36M, np.random.default_rng(args.seed))
    with tqdm(total=args.windows, unit="window", desc="motion eval", file=sys.stderr) as bar:
        ours = evaluate(pipe, windows, H36M, args.samples, args.steps, progress=lambda done, total: bar.update(done - bar.n))
    baseline = evaluate(ZeroVelocity(), windows, H36M, samples=1, steps=1)
    print(table({"HumanMAC (this model)": ours, "zero velocity": baseline}))
    return 0


def run_motion_predict(args: argparse.Namespace) -> int:
    import numpy as np
    import torch

    from .errors import FacechainError
    from .motion.procedural import random_clip, root_relative
    from .motion.render import animate
    from .motion.skeleton import H36M

    if not 1 <= args.samples <= 6:
        raise FacechainError("--samples must be between 1 and 6")
    pipe = load_pipeline(args.model)
    history = root_relative(random_clip(H36M.t_his, np.random.default_rng(args.seed))).astype(np.float32)
    out = pipe(torch.from_numpy(history)[None], H36M.t_pred, num_samples=args.samples, num_inference_steps=args.steps,
               generator=torch.Generator().manual_seed(args.seed))
    animate(history, out.futures[0].numpy(), H36M, args.out)
    print(f"wrote {args.out}: the history and {args.samples} futures")
    return 0
