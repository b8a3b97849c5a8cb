"""HumanMAC sampling: solver x steps x precision against the official code, on the same weights, windows and K.

The official arm is the paper's sampler: ``Diffusion.sample_ddim`` of github LinghaoChan/HumanMAC, 100 DDIM
steps in float32, with the shipped model's weights copied into its ``MotionTransformer`` (the layers are the
same; the copy is checked by comparing both models' noise predictions on one input). Our arm is
``HumanMACPipeline`` with each solver of ``pipelines.schedulers.MOTION_SOLVERS``, each step count, in float32
and with the denoiser under bfloat16 autocast (the DCT and the mask completion stay in float32), starting at
t = MOTION_FIRST_TIMESTEP; a second, smaller grid shows why it starts there: the first timestep (the
solver's own leading spacing, 970 or 995) at 10 and 20 steps, and the paper's 100 DDIM steps with leading spacing.

Every configuration predicts K futures for the same held-out procedural windows (drawn as ``facechain motion
eval`` draws them: seed 12345) and is scored with the same code as ``motion eval``: APD, ADE, FDE, MMADE,
MMFDE and the plausibility figures. Throughput is windows x K per second of sampling alone (scoring not
timed), 16 windows per call, the median of ``--repeats`` timings taken configuration after configuration;
the arms run one after another in one process, so compare ratios only within one run.

    python benchmarks/motion_solvers.py --official /path/to/HumanMAC [--windows 100] [--samples 10]
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import time
from pathlib import Path

import numpy as np
import torch

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from motion_bench import load_official, official_sampler  # noqa: E402

from facechain.atomic import staged_file  # noqa: E402
from facechain.config import Settings  # noqa: E402
from facechain.motion.evaluation import mean_scores  # noqa: E402
from facechain.motion.scenario import load_motion_pipeline, skeleton_of  # noqa: E402
from facechain.motion.training import procedural_windows  # noqa: E402
from models.dct import to_dct  # noqa: E402
from pipelines.humanmac import PRECISIONS, HumanMACPipeline  # noqa: E402
from pipelines.schedulers import MOTION_FIRST_TIMESTEP, MOTION_SOLVERS  # noqa: E402

BATCH = 16  # windows per sampling call
STEPS = (10, 15, 20, 25)
SHOWN = ("ADE", "FDE", "APD", "MMADE", "MMFDE", "BoneErr%", "Skate", "Cross%")


def official_state(ours: dict[str, torch.Tensor]) -> dict[str, torch.Tensor]:
    """Our denoiser's state dict under the official MotionTransformer's names (one qkv map -> three)."""
    state = {
        "sequence_embedding": ours["positions"][0],
        "joint_embed.weight": ours["tokens.weight"],
        "joint_embed.bias": ours["tokens.bias"],
        "cond_embed.weight": ours["condition.weight"],
        "cond_embed.bias": ours["condition.bias"],
        "out.weight": ours["out.weight"],
        "out.bias": ours["out.bias"],
    }
    for index in (0, 2):
        for kind in ("weight", "bias"):
            state[f"time_embed.{index}.{kind}"] = ours[f"time.{index}.{kind}"]
    layers = {int(name.split(".")[1]) for name in ours if name.startswith("blocks.")}
    for layer in layers:
        ours_prefix, theirs = f"blocks.{layer}.", f"temporal_decoder_blocks.{layer}."
        query, key, value = ours[ours_prefix + "attention.qkv.weight"].chunk(3)
        state |= {theirs + "sa_block.query.weight": query, theirs + "sa_block.key.weight": key}
        state[theirs + "sa_block.value.weight"] = value
        pairs = {
            "attention_norm": "sa_block.norm",
            "attention_style.modulation.1": "sa_block.proj_out.emb_layers.1",
            "attention_style.norm": "sa_block.proj_out.norm",
            "attention_style.out.2": "sa_block.proj_out.out_layers.2",
            "feed_forward.0": "ffn.linear1",
            "feed_forward.3": "ffn.linear2",
            "feed_forward_style.modulation.1": "ffn.proj_out.emb_layers.1",
            "feed_forward_style.norm": "ffn.proj_out.norm",
            "feed_forward_style.out.2": "ffn.proj_out.out_layers.2",
        }
        for mine, official in pairs.items():
            for kind in ("weight", "bias"):
                state[f"{theirs}{official}.{kind}"] = ours[f"{ours_prefix}{mine}.{kind}"]
    return state


def run(predict, windows: np.ndarray, samples: int) -> tuple[np.ndarray, float]:
    """All windows' futures (N, K, T, F) and the sampling seconds, BATCH windows per call."""
    futures, seconds = [], 0.0
    for start in range(0, len(windows), BATCH):
        started = time.perf_counter()
        futures.append(predict(windows[start : start + BATCH]))
        seconds += time.perf_counter() - started
    return np.concatenate(futures), seconds


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--official", required=True, type=Path, help="a checkout of github LinghaoChan/HumanMAC")
    parser.add_argument("--model", type=Path, help="motion pipeline folder (default: the shipped model)")
    parser.add_argument("--windows", type=int, default=100, help="held-out procedural windows")
    parser.add_argument("--samples", type=int, default=10, help="K futures per window")
    parser.add_argument("--steps", type=int, nargs="+", default=list(STEPS), help="step counts of the grid")
    parser.add_argument("--solvers", nargs="+", default=["ddim", "dpm++", "unipc"], choices=list(MOTION_SOLVERS))
    parser.add_argument(
        "--start-grid",
        action=argparse.BooleanOptionalAction,
        default=True,
        help="also the grid of first timesteps at 10 and 20 steps",
    )
    parser.add_argument("--repeats", type=int, default=1, help="times each configuration is timed (median)")
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--out", default=str(Path(__file__).parent / "results" / "motion_solvers.json"))
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    transformer, diffusion_module, get_dct_matrix = load_official(args.official.resolve())

    model = args.model or Settings.from_env().motion_model
    pipe = load_motion_pipeline(model)
    pipe.denoiser.eval()
    config, skeleton = pipe.denoiser.config, skeleton_of(pipe)
    frames, features = skeleton.t_his + skeleton.t_pred, 3 * config.joints
    official = transformer.MotionTransformer(
        input_feats=features,
        num_frames=config.coefficients,
        latent_dim=config.width,
        ff_size=config.feed_forward,
        num_layers=config.layers,
        num_heads=config.heads,
        dropout=config.dropout,
    ).eval()
    official.load_state_dict(official_state(pipe.denoiser.state_dict()))
    probe = torch.randn(4, config.coefficients, features, generator=torch.Generator().manual_seed(1))
    steps_probe = torch.tensor([5, 300, 600, 950])
    with torch.no_grad():
        mismatch = float(
            (official(probe, steps_probe, mod=probe) - pipe.denoiser(probe, steps_probe, probe)).abs().max()
        )
    if mismatch > 1e-4:
        raise SystemExit(f"the official model with our weights predicts other noise (max difference {mismatch:.2e})")

    windows = procedural_windows(args.windows, skeleton, np.random.default_rng(12345))
    diffusion, _, idct_m = official_sampler(
        diffusion_module, get_dct_matrix, frames, features, config.coefficients, 100
    )
    mask = torch.zeros(frames, features)
    mask[: skeleton.t_his] = 1

    def official_predict(batch: np.ndarray) -> np.ndarray:
        history = torch.from_numpy(batch[:, : skeleton.t_his])
        padded = HumanMACPipeline.padded(history, frames).repeat_interleave(args.samples, dim=0)
        padded_dct = to_dct(padded, config.coefficients)
        mode = {"mode": "pred", "mask": mask, "sample_num": len(padded)}
        out = diffusion.sample_ddim(official, padded_dct, padded_dct, mode)
        clips = idct_m[:, : config.coefficients] @ out
        return clips.reshape(len(batch), args.samples, frames, features)[:, :, skeleton.t_his :].numpy()

    schedule = pipe.scheduler.config  # the model's noise schedule, each solver built on it

    def ours_predict(steps: int, precision: str, first: int | None, scheduler):
        generator = torch.Generator().manual_seed(0)

        def predict(batch: np.ndarray) -> np.ndarray:
            history = torch.from_numpy(batch[:, : skeleton.t_his])
            options = {"num_inference_steps": steps, "precision": precision, "first_timestep": first}
            options["scheduler"] = scheduler
            return pipe(
                history, skeleton.t_pred, num_samples=args.samples, generator=generator, **options
            ).futures.numpy()

        return predict

    first = MOTION_FIRST_TIMESTEP
    configurations = [("official", "ddim", 100, "fp32", 991), ("ours", "ddim", 100, "fp32", first)]
    configurations += [
        ("ours", solver, steps, precision, first)
        for solver in args.solvers
        for steps in args.steps
        for precision in PRECISIONS
    ]
    if args.start_grid:
        configurations += [("ours", "ddim", 100, "fp32", None)]  # the paper's sampler: leading spacing, from 990
        configurations += [
            ("ours", solver, steps, "fp32", start)
            for solver in ("ddim", "dpm++")
            for steps in (10, 20)
            for start in (None, 970, 995)
        ]

    def sample(code: str, solver: str, steps: int, precision: str, start: int | None):
        if code == "official":
            torch.manual_seed(0)
            return run(official_predict, windows, args.samples)
        solver_scheduler = MOTION_SOLVERS[solver].build(schedule)
        return run(ours_predict(steps, precision, start, solver_scheduler), windows, args.samples)

    timings = {configuration: [] for configuration in configurations}
    rows = []
    for repeat in range(args.repeats):  # configuration after configuration, so machine noise falls on all
        for configuration in configurations:
            futures, seconds = sample(*configuration)
            timings[configuration].append(seconds)
            print(f"{configuration}: {seconds:.1f} s", file=sys.stderr)
            if repeat == 0:  # every repeat draws the same futures (same seeds): score them once
                scores = mean_scores(lambda indices, f=futures: f[indices], windows, skeleton)
                code, solver, steps, precision, start = configuration
                rows.append(
                    {
                        "code": code,
                        "solver": solver,
                        "steps": steps,
                        "precision": precision,
                        "first_timestep": start,
                        **scores,
                    }
                )
    for row, configuration in zip(rows, configurations):
        row["seconds"] = timings[configuration]
        row["per_s"] = len(windows) * args.samples / statistics.median(timings[configuration])
    reference = rows[0]
    print(
        f"{'code':<9}{'solver':<7}{'steps':>6}{'prec':>6}{'first':>6}"
        + "".join(f"{n:>9}" for n in SHOWN)
        + f"{'win*K/s':>9}{'speed':>8}"
    )
    for row in rows:
        row["speed_over_official"] = row["per_s"] / reference["per_s"]
        print(
            f"{row['code']:<9}{row['solver']:<7}{row['steps']:>6}{row['precision']:>6}{str(row['first_timestep']):>6}"
            + "".join(f"{row[n]:>9.3f}" for n in SHOWN)
            + f"{row['per_s']:>9.1f}{row['speed_over_official']:>7.2f}x"
        )
    result = {
        "model": str(model),
        "windows": args.windows,
        "samples": args.samples,
        "threads": args.threads,
        "batch_windows": BATCH,
        "repeats": args.repeats,
        "official_weights_max_abs_difference": mismatch,
        "rows": rows,
    }
    with staged_file(Path(args.out)) as staging:
        staging.write_text(json.dumps(result, indent=2))


if __name__ == "__main__":
    main()
