"""``facechain motion train|eval|predict``: HumanMAC on the procedural motion set or on VideoPose3D
files (Human3.6M, HumanEva-I) in the standard splits, with checkpoints and resume."""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

from pipelines.schedulers import (
    DEFAULT_MOTION_PRECISION,
    DEFAULT_MOTION_SOLVER,
    DEFAULT_MOTION_STEPS,
    MAX_MOTION_STEPS,
    MOTION_FIRST_TIMESTEP,
    MOTION_PRECISIONS,
    MOTION_SOLVERS,
)

from ..motion.config import MotionTrainConfig
from ..motion.scenario import MODES, START_MOTIONS
from ..progress import TqdmProgress
from .common import add_command, add_config_options, add_group, config_from_args

DATA_HELP = (
    "VideoPose3D 3D-pose file (data_3d_h36m.npz / data_3d_humaneva15.npz, or the same data as plain "
    "arrays, one key per 'subject/action'); without it, procedural H36M motion"
)
STEPS_HELP = f"sampling steps, of equal size from t = {MOTION_FIRST_TIMESTEP} down to clean motion"
TRUSTED_HELP = "open VideoPose3D's pickled layout (only for a file you downloaded yourself: unpickling can run code)"


def add_motion_commands(commands) -> None:
    actions = add_group(
        commands,
        "motion",
        "HumanMAC motion prediction: train, eval, predict",
        "HumanMAC (masked motion completion with a diffusion model): train a denoiser, evaluate it "
        "against the zero-velocity baseline, or animate predicted futures of a motion.",
    )
    train = add_command(
        actions,
        "train",
        "train a HumanMAC denoiser (procedural motion, or a Human3.6M / HumanEva-I file)",
        "Train the HumanMAC denoiser and save the pipeline (denoiser + DDIM cosine scheduler, "
        "safetensors) into --out. Checkpoints go to --checkpoints every --checkpoint-every steps; "
        "after an interruption, the same command with --resume continues exactly where it stopped "
        "(also to a larger --steps). Paper size: --width 512 --layers 8 (HumanEva: 4), --batch-size 64, "
        "--learning-rate 3e-4.",
    )
    train.add_argument("--out", required=True, type=Path, help="pipeline folder to write")
    train.add_argument("--dataset", choices=("h36m", "humaneva"), default="h36m", help="skeleton and split")
    train.add_argument("--data", type=Path, help=DATA_HELP)
    train.add_argument("--trusted-file", action="store_true", help=TRUSTED_HELP)
    train.add_argument("--windows", type=int, default=2000, help="procedural training windows to draw")
    train.add_argument("--width", type=int, default=128, help="transformer width (paper: 512)")
    train.add_argument("--layers", type=int, default=4, help="transformer layers, even (paper: 8)")
    train.add_argument(
        "--checkpoints", type=Path, help="checkpoint folder (default: beside --out, named <out>.checkpoints)"
    )
    add_config_options(train, MotionTrainConfig)
    train.set_defaults(steps=2000, batch_size=32, learning_rate=1e-3)  # a model this CPU trains in minutes
    train.add_argument("--resume", action="store_true", help="continue from the newest checkpoint")
    train.set_defaults(run=run_motion_train)

    evaluate = add_command(
        actions,
        "eval",
        "APD/ADE/FDE/MMADE/MMFDE and plausibility beside the baseline and the recorded futures",
        "The paper's protocol: K futures per test window; with --data, the test subjects' windows "
        "at stride t_his, multimodal ground truth from all of them. Beside the paper's five metrics: "
        "BoneErr% (bone lengths against the history's), Skate (m/s a foot in ground contact slides) "
        "and Cross% (frames with the legs through each other), for the model, the zero-velocity "
        "baseline and the recorded futures.",
    )
    evaluate.add_argument(
        "model",
        type=Path,
        nargs="?",
        help="pipeline folder from `facechain motion train` (default: FACECHAIN_MOTION_MODEL, else "
        "the shipped procedural model)",
    )
    evaluate.add_argument("--data", type=Path, help=DATA_HELP)
    evaluate.add_argument("--trusted-file", action="store_true", help=TRUSTED_HELP)
    evaluate.add_argument("--windows", type=int, default=100, help="test windows to predict (0: all, with --data)")
    evaluate.add_argument("--samples", type=int, default=50, help="K futures per window (paper: 50)")
    evaluate.add_argument(
        "--scheduler", choices=tuple(MOTION_SOLVERS), help="sampling solver (default: the pipeline's own, DDIM)"
    )
    evaluate.add_argument("--steps", type=int, default=100, help=f"{STEPS_HELP} (paper: 100 DDIM steps)")
    evaluate.add_argument(
        "--precision",
        choices=MOTION_PRECISIONS[1:],
        default="fp32",
        help="the denoiser's precision (bf16: under bfloat16 autocast)",
    )
    evaluate.add_argument("--seed", type=int, default=12345, help="draws the test windows (not the training seed)")
    evaluate.add_argument("--json", type=Path, help="also write the metrics here")
    evaluate.add_argument(
        "--keep-bone-lengths",
        action="store_true",
        help="measure the futures after restoring the history's bone lengths (default: the model as published)",
    )
    evaluate.set_defaults(run=run_motion_eval)

    predict = add_command(
        actions,
        "predict",
        "K futures for a motion history, as an animated GIF or MP4",
        "Start from a procedural motion (--motion) or a clip of a motion file (--data, --sequence, "
        "--start); predict freely, keep a body part on its recorded trajectory (--mode control "
        "--part), or steer the ending toward another motion (--mode switch --switch-to).",
    )
    predict.add_argument(
        "model",
        type=Path,
        nargs="?",
        help="pipeline folder from `facechain motion train` (default: FACECHAIN_MOTION_MODEL, else "
        "the shipped procedural model)",
    )
    predict.add_argument(
        "--out",
        required=True,
        type=Path,
        help="animation to write: .gif, or .mp4 (needs the video extra: pip install 'facechain[video]')",
    )
    predict.add_argument("--motion", choices=START_MOTIONS, default="walk", help="procedural motion to start from")
    predict.add_argument("--data", type=Path, help="motion file to start from instead (either layout, see train)")
    predict.add_argument("--trusted-file", action="store_true", help=TRUSTED_HELP)
    predict.add_argument("--sequence", help="'subject/action' in --data (default: the first)")
    predict.add_argument("--start", type=int, default=0, help="first history frame in the sequence")
    predict.add_argument(
        "--mode",
        choices=MODES,
        default="predict",
        help="predict freely, keep a body part on its path (control) or steer the ending (switch)",
    )
    predict.add_argument(
        "--part", help="control mode: body part to keep (e.g. right_leg, left_arm, torso, lower, upper)"
    )
    predict.add_argument("--switch-to", choices=START_MOTIONS, default="run", help="switch mode: motion to end in")
    predict.add_argument("--samples", type=int, default=3, help="K futures (1-6 in the GIF)")
    predict.add_argument(
        "--scheduler",
        choices=tuple(MOTION_SOLVERS),
        default=DEFAULT_MOTION_SOLVER,
        help="sampling solver, on the model's noise schedule",
    )
    predict.add_argument("--steps", type=int, default=DEFAULT_MOTION_STEPS, help=f"{STEPS_HELP} (paper: 100)")
    predict.add_argument(
        "--precision",
        choices=MOTION_PRECISIONS,
        default=DEFAULT_MOTION_PRECISION,
        help="the denoiser's precision; auto: bf16 on a GPU or a CPU with native bfloat16, else fp32",
    )
    predict.add_argument("--seed", type=int, default=0, help="chooses the procedural motion and the sampling noise")
    predict.add_argument(
        "--keep-bone-lengths",
        action=argparse.BooleanOptionalAction,
        default=True,
        help="give every predicted bone the history's length along its predicted direction (default: on)",
    )
    predict.set_defaults(run=run_motion_predict)


def run_motion_train(args: argparse.Namespace) -> int:
    import numpy as np
    import torch

    from models.humanmac import HumanMACDenoiser
    from pipelines.humanmac import HumanMACPipeline, default_scheduler

    from ..atomic import staged_folder
    from ..errors import BadArguments
    from ..motion.data import load_positions, split_sequences
    from ..motion.skeleton import SKELETONS
    from ..motion.training import RandomWindows, procedural_windows, train_denoiser

    check_numbers(
        args,
        steps=(1, 10**6),
        batch_size=(1, 4096),
        learning_rate=(1e-8, 1.0),
        windows=(1, 10**6),
        width=(8, 4096),
        layers=(2, 64),
        checkpoint_every=(0, 10**6),
    )
    if args.layers % 2:
        raise BadArguments(
            f"--layers must be even (the long skips pair the first half with the second), not {args.layers}"
        )
    skeleton = SKELETONS[args.dataset]
    if args.data:
        sequences = split_sequences(load_positions(args.data, args.trusted_file), skeleton, "train")
    else:
        require_h36m(skeleton)
        sequences = list(procedural_windows(args.windows, skeleton, np.random.default_rng(args.seed)))
    windows = RandomWindows(sequences, skeleton.t_his + skeleton.t_pred)
    torch.manual_seed(args.seed)
    denoiser = HumanMACDenoiser(
        joints=skeleton.count - 1,
        coefficients=skeleton.dct_coefficients,
        width=args.width,
        layers=args.layers,
        heads=8 if args.width % 8 == 0 else 4,
        feed_forward=2 * args.width,
    )
    scheduler = default_scheduler()
    config = config_from_args(MotionTrainConfig, args)
    checkpoints = args.checkpoints or args.out.with_name(f"{args.out.name}.checkpoints")
    with TqdmProgress("motion train", "step") as bar:
        try:
            ema, losses = train_denoiser(denoiser, scheduler, windows, config, skeleton, bar, checkpoints, args.resume)
        except KeyboardInterrupt:
            print(
                f"\ninterrupted: run the same command with --resume to continue from the newest checkpoint in "
                f"{checkpoints}",
                file=sys.stderr,
            )
            return 130
    with staged_folder(args.out) as staging:
        HumanMACPipeline(ema, scheduler).save_pretrained(staging)
    print(f"loss {np.mean(losses[:20]):.4f} -> {np.mean(losses[-20:]):.4f}; pipeline: {args.out}")
    return 0


def check_numbers(args: argparse.Namespace, **bounds: tuple[float, float]) -> None:
    """Each named option within its (low, high), and the seed a 32-bit one, before anything loads."""
    from ..validation import check_between, check_seed

    for name, (low, high) in bounds.items():
        check_between("--" + name.replace("_", "-"), getattr(args, name), low, high)
    check_seed("--seed", args.seed)


def require_h36m(skeleton) -> None:
    from ..errors import BadArguments

    if skeleton.name != "h36m":
        raise BadArguments(f"procedural motion is H36M-only: pass --data with a {skeleton.name} file")


def load_pipeline(args: argparse.Namespace):
    from ..config import Settings
    from ..motion.scenario import load_motion_pipeline

    args.model = args.model or Settings.from_env().motion_model
    return load_motion_pipeline(args.model)


def run_motion_eval(args: argparse.Namespace) -> int:
    import numpy as np

    from ..motion.data import load_positions, split_sequences, windows
    from ..motion.evaluation import ZeroVelocity, evaluate, recorded, table
    from ..motion.scenario import skeleton_of
    from ..motion.training import procedural_windows

    check_numbers(args, windows=(0, 10**6), samples=(1, 1000), steps=(1, MAX_MOTION_STEPS))
    pipe = load_pipeline(args)
    if args.scheduler:
        pipe.scheduler = MOTION_SOLVERS[args.scheduler].build(pipe.scheduler.config)
    skeleton = skeleton_of(pipe)
    rng = np.random.default_rng(args.seed)
    if args.data:
        test = windows(
            split_sequences(load_positions(args.data, args.trusted_file), skeleton, "test"),
            skeleton.t_his + skeleton.t_pred,
            stride=skeleton.t_his,
        )
        chosen = np.sort(rng.choice(len(test), args.windows, replace=False)) if 0 < args.windows < len(test) else None
    else:
        require_h36m(skeleton)
        test, chosen = procedural_windows(args.windows, skeleton, rng), None
    count = len(test) if chosen is None else len(chosen)
    with TqdmProgress("motion eval", "window") as bar:
        ours = evaluate(
            pipe,
            test,
            skeleton,
            args.samples,
            args.steps,
            chosen=chosen,
            progress=bar,
            restore_bones=args.keep_bone_lengths,
            precision=args.precision,
        )
    baseline = evaluate(ZeroVelocity(), test, skeleton, samples=1, steps=1, chosen=chosen)
    truth = recorded(test, skeleton, chosen)
    print(table({"HumanMAC (this model)": ours, "zero velocity": baseline, "recorded futures": truth}))
    if args.json:
        from ..atomic import staged_file

        with staged_file(args.json) as staging:
            staging.write_text(
                json.dumps(
                    {
                        "model": str(args.model),
                        "data": str(args.data or "procedural"),
                        "windows": count,
                        "samples": args.samples,
                        "steps": args.steps,
                        "precision": args.precision,
                        "keep_bone_lengths": args.keep_bone_lengths,
                        "metrics": {"humanmac": ours, "zero_velocity": baseline, "recorded": truth},
                    },
                    indent=2,
                )
            )
    return 0


def run_motion_predict(args: argparse.Namespace) -> int:
    from ..errors import BadArguments
    from ..motion.data import load_positions
    from ..motion.render import animate
    from ..motion.scenario import MotionRequest, file_window, predict, procedural_window, skeleton_of

    check_numbers(args, samples=(1, 6), steps=(1, MAX_MOTION_STEPS), start=(0, 10**9))
    if args.out.suffix.lower() not in (".gif", ".mp4"):
        raise BadArguments(f"--out {args.out}: name a .gif or .mp4 file")
    pipe = load_pipeline(args)
    skeleton = skeleton_of(pipe)
    if args.data:
        window, name = file_window(load_positions(args.data, args.trusted_file), skeleton, args.sequence, args.start)
    else:
        window, name = procedural_window(args.motion, args.seed, skeleton), f"procedural {args.motion}"
    request = MotionRequest(
        mode=args.mode,
        part=args.part,
        switch_to=args.switch_to,
        samples=args.samples,
        steps=args.steps,
        seed=args.seed,
        keep_bone_lengths=args.keep_bone_lengths,
        solver=args.scheduler,
        precision=args.precision,
    )
    run = predict(pipe, window, request)
    animate(
        run.history,
        run.futures,
        skeleton,
        args.out,
        recorded=window[skeleton.t_his :] if len(window) > skeleton.t_his else None,
    )
    print(f"wrote {args.out}: {name}, {args.mode}, the history and {args.samples} futures")
    print(figures_line(request, run))
    return 0


def figures_line(request, run) -> str:
    """One line to compare runs by: the solver, steps and sampling time, and the plausibility figures
    of the futures written, each with the model's raw figure beside it when the bone lengths were restored."""

    def figure(name: str, unit: str = "") -> str:
        raw = f" (raw {run.raw_figures[name]:.3f}{unit})" if run.raw_figures else ""
        return f"{name} {run.figures[name]:.3f}{unit}{raw}"

    return (
        f"{request.solver}, {request.steps} steps, {run.precision}, sampled in {run.seconds:.2f} s: "
        f"{figure('BoneErr%')}, {figure('Skate', ' m/s')}, {figure('Cross%')}"
    )
