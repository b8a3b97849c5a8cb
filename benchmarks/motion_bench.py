"""HumanMAC speed on this CPU, ours against the official code, at the paper's H36M configuration.

Both arms get the same input and configuration: width 512, 8 layers, 8 heads, feed-forward 1024,
dropout 0.2, 20 DCT coefficients of 125-frame windows (25 observed), 48 features, the cosine
schedule over 1000 steps, DDIM with ``--steps`` steps, the same procedural history windows and K
futures per window, batch 64 for training, in one process, alternating arm by arm so machine noise
falls on both:

- sampling: ours ``HumanMACPipeline(...)(history, 100, num_samples=K, num_inference_steps=steps)``
  (mask completion after every step); official ``Diffusion.sample_ddim`` (its mask completion in
  ``inpaint_complete``) on the DCT of the padded histories repeated K times, mode "pred", always
  conditioned (the H36M config's mod_test = 1);
- training step: ours ``train_denoiser`` (random window draw, augmentation, DCT, noise, loss,
  backward, Adam, EMA), the time per step after the first; official: DCT of window and padded
  window, ``Diffusion.noise_motion``, ``MotionTransformer`` forward, MSE, backward, Adam, its EMA
  (set past its 2000-step warm-up, the state of almost all of the 782k training steps; before that
  it reloads the whole state dict each step). The official data loader (window draw, augmentation)
  is not timed, so this side favours the official code.

The official code (github LinghaoChan/HumanMAC) is imported from the folder given by ``--official``
(never copied here). Its package is named ``models`` like ours, so its two modules are loaded under
other names by file path, with its root on ``sys.path`` for its ``from utils import *``. It hard-codes
CUDA only through default arguments (``Diffusion(device="cuda")``; the config's ``device``): passing
``device="cpu"`` runs it unchanged on the CPU.

    python benchmarks/motion_bench.py --official /path/to/HumanMAC [--windows 2] [--samples 10] [--steps 100]
"""

from __future__ import annotations

import argparse
import copy
import importlib.util
import json
import statistics
import sys
import time
from pathlib import Path

import numpy as np
import torch

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from facechain.atomic import staged_file  # noqa: E402
from facechain.motion.config import MotionTrainConfig  # noqa: E402
from facechain.motion.skeleton import H36M  # noqa: E402
from facechain.motion.training import RandomWindows, procedural_windows, train_denoiser  # noqa: E402
from models.dct import to_dct  # noqa: E402
from models.humanmac import HumanMACDenoiser  # noqa: E402
from pipelines.humanmac import HumanMACPipeline, default_scheduler  # noqa: E402

FRAMES = H36M.t_his + H36M.t_pred
FEATURES = 3 * (H36M.count - 1)


def load_official(root: Path):
    """(transformer module, diffusion module, get_dct_matrix) of the official code at ``root``."""
    sys.path.insert(0, str(root))  # its modules do `from utils import *`

    def load(name: str, relative: str):
        spec = importlib.util.spec_from_file_location(name, root / relative)
        module = importlib.util.module_from_spec(spec)
        spec.loader.exec_module(module)
        return module

    transformer = load("humanmac_official_transformer", "models/transformer.py")
    diffusion = load("humanmac_official_diffusion", "models/diffusion.py")
    from utils.util import get_dct_matrix

    return transformer, diffusion, get_dct_matrix


def official_sampler(diffusion_module, get_dct_matrix, frames: int, features: int, coefficients: int, steps: int):
    """(Diffusion, DCT matrix, inverse DCT matrix) of the official code, configured as its H36M sampler
    (cosine schedule over 1000 steps, DDIM with ``steps`` steps, mask completion on, history padded with
    its last frame, always conditioned) on the CPU."""
    dct_m, idct_m = (m.float() for m in get_dct_matrix(frames))
    diffusion = diffusion_module.Diffusion(
        noise_steps=1000,
        motion_size=(coefficients, features),
        device="cpu",
        padding="LastFrame",
        EnableComplete=True,
        ddim_timesteps=steps,
        scheduler="Cosine",
        mod_test=1.0,
        dct=dct_m,
        idct=idct_m,
        n_pre=coefficients,
    )
    return diffusion, dct_m, idct_m


def parameters(model: torch.nn.Module) -> int:
    return sum(p.numel() for p in model.parameters())


def timed(action) -> float:
    started = time.perf_counter()
    action()
    return time.perf_counter() - started


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--official", required=True, type=Path, help="a checkout of github LinghaoChan/HumanMAC")
    parser.add_argument("--windows", type=int, default=2)
    parser.add_argument("--samples", type=int, default=10, help="K futures per window")
    parser.add_argument("--steps", type=int, default=100, help="DDIM steps")
    parser.add_argument("--train-steps", type=int, default=6, help="training steps per repeat (the first is not timed)")
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--out", default=str(Path(__file__).parent / "results" / "motion_bench.json"))
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    transformer, diffusion_module, get_dct_matrix = load_official(args.official.resolve())

    torch.manual_seed(0)
    ours = HumanMACDenoiser(
        joints=H36M.count - 1,
        coefficients=H36M.dct_coefficients,
        width=512,
        layers=8,
        heads=8,
        feed_forward=1024,
        dropout=0.2,
    )
    official = transformer.MotionTransformer(
        input_feats=FEATURES,
        num_frames=H36M.dct_coefficients,
        latent_dim=512,
        ff_size=1024,
        num_layers=8,
        num_heads=8,
        dropout=0.2,
    )
    windows = procedural_windows(max(args.windows, 64), H36M, np.random.default_rng(0))
    history = torch.from_numpy(windows[: args.windows, : H36M.t_his])
    diffusion, dct_m, _ = official_sampler(
        diffusion_module, get_dct_matrix, FRAMES, FEATURES, H36M.dct_coefficients, args.steps
    )
    padded = HumanMACPipeline.padded(history, FRAMES).repeat_interleave(args.samples, dim=0)
    padded_dct = to_dct(padded, H36M.dct_coefficients)
    mask = torch.zeros(FRAMES, FEATURES)
    mask[: H36M.t_his] = 1
    mode = {"mode": "pred", "mask": mask, "sample_num": len(padded)}
    pipe = HumanMACPipeline(ours.eval(), default_scheduler())
    pipe.set_progress_bar_config(disable=True)

    def sample_ours():
        pipe(
            history,
            H36M.t_pred,
            num_samples=args.samples,
            num_inference_steps=args.steps,
            generator=torch.Generator().manual_seed(0),
        )

    def sample_official():
        official.eval()
        diffusion.sample_ddim(official, padded_dct, padded_dct, mode)

    source = RandomWindows(windows, FRAMES)
    train_config = MotionTrainConfig(steps=args.train_steps, batch_size=64, checkpoint_every=0)

    def train_ours() -> float:
        """Seconds per step after the first (setup and the first step are not the steady state)."""
        stamps = []
        train_denoiser(
            ours, pipe.scheduler, source, train_config, progress=lambda *_: stamps.append(time.perf_counter())
        )
        return (stamps[-1] - stamps[0]) / (len(stamps) - 1)

    ema = transformer.EMA(0.995)
    ema.step = 2000  # past the warm-up in which it reloads the state dict every step
    ema_model = copy.deepcopy(official).eval().requires_grad_(False)
    optimizer = torch.optim.Adam(official.parameters(), lr=3e-4)
    batch = torch.from_numpy(windows[:64])

    def train_official() -> float:
        official.train()
        stamps = []
        for _ in range(args.train_steps):
            clean = torch.matmul(dct_m[: H36M.dct_coefficients], batch)
            condition = torch.matmul(
                dct_m[: H36M.dct_coefficients], HumanMACPipeline.padded(batch[:, : H36M.t_his], FRAMES)
            )
            t = diffusion.sample_timesteps(len(batch))
            noisy, noise = diffusion.noise_motion(clean, t)
            loss = torch.nn.functional.mse_loss(official(noisy, t, mod=condition), noise)
            optimizer.zero_grad()
            loss.backward()
            optimizer.step()
            ema.step_ema(ema_model, official)
            stamps.append(time.perf_counter())
        return (stamps[-1] - stamps[0]) / (len(stamps) - 1)

    for action in (sample_ours, sample_official, train_ours, train_official):  # warm-up
        action()
    sampling, steps = ([], []), ([], [])
    for _ in range(args.repeats):  # alternating, so machine noise falls on both arms
        sampling[0].append(timed(sample_ours))
        sampling[1].append(timed(sample_official))
        steps[0].append(train_ours())
        steps[1].append(train_official())
    sampled = args.windows * args.samples
    ours_sampling, official_sampling = (statistics.median(s) for s in sampling)
    ours_step, official_step = (statistics.median(s) for s in steps)
    result = {
        "config": {
            "width": 512,
            "layers": 8,
            "heads": 8,
            "feed_forward": 1024,
            "coefficients": H36M.dct_coefficients,
            "features": FEATURES,
            "frames": FRAMES,
            "ddim_steps": args.steps,
            "windows": args.windows,
            "samples": args.samples,
            "batch": 64,
            "threads": args.threads,
            "repeats": args.repeats,
        },
        "parameters": {"ours": parameters(ours), "official": parameters(official)},
        "sampling_per_s": {
            "ours": sampled / ours_sampling,
            "official": sampled / official_sampling,
            "ratio_ours_over_official": official_sampling / ours_sampling,
        },
        "train_s_per_step": {
            "ours": ours_step,
            "official": official_step,
            "ratio_official_over_ours": official_step / ours_step,
        },
        "official_notes": "imported from --official by file path (package name clash on `models`); "
        "Diffusion(device='cpu'); EMA set past its 2000-step warm-up; official data loading untimed",
    }
    print(f"{'':<34}{'ours':>12}{'official':>12}{'ratio':>10}")
    print(f"{'parameters':<34}{result['parameters']['ours']:>12,}{result['parameters']['official']:>12,}")
    print(
        f"{'sampling (windows x K / s)':<34}{result['sampling_per_s']['ours']:>12.2f}"
        f"{result['sampling_per_s']['official']:>12.2f}{result['sampling_per_s']['ratio_ours_over_official']:>9.2f}x"
    )
    print(
        f"{'training (s / step, batch 64)':<34}{ours_step:>12.3f}{official_step:>12.3f}"
        f"{result['train_s_per_step']['ratio_official_over_ours']:>9.2f}x"
    )
    print("ratio > 1: ours is faster")
    with staged_file(Path(args.out)) as staging:
        staging.write_text(json.dumps(result, indent=2))


if __name__ == "__main__":
    main()
