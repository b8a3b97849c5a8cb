"""Training the HumanMAC denoiser on motion windows (paper: Adam 3e-4, batch 64, cosine schedule,
noise-prediction MSE on the DCT of the whole window, history condition dropped with probability
1 - mod_train, EMA 0.995 after 2000 steps, learning rate x0.9 at 15/30/45/55/70/90% of training;
augmentation with probability 0.5 each: a rotation about the vertical axis, a mirror in x, a mirror
in y).

Every step draws its randomness from (seed, step) and the state is checkpointed whole (model, EMA,
optimizer, learning-rate schedule, loss history), so a resumed run continues exactly where the
interrupted one stopped.
"""

from __future__ import annotations

import copy
from dataclasses import asdict
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F

from models.dct import to_dct

from ..checkpoints import latest_checkpoint, load_checkpoint, save_checkpoint
from ..errors import BadArguments
from ..progress import Progress
from ..seeding import step_generator
from .config import MotionTrainConfig
from .procedural import random_clip, root_relative
from .skeleton import H36M, Skeleton


class MotionTrainingError(BadArguments):
    """A training run that cannot start or resume, saying what to do instead."""


class RandomWindows:
    """Windows of ``length`` frames cut at random from root-relative sequences (frames, F), every
    possible window equally likely, as the paper draws a fresh set of windows each epoch. A set of
    ready-made windows is the special case of sequences exactly ``length`` long."""

    def __init__(self, sequences: list[np.ndarray], length: int):
        usable = [torch.from_numpy(np.ascontiguousarray(s, dtype=np.float32)) for s in sequences if len(s) >= length]
        if not usable:
            raise MotionTrainingError(f"no training sequence is {length} frames long")
        self.sequences, self.length = usable, length
        self.ends = torch.cumsum(torch.tensor([len(s) - length + 1 for s in usable]), 0)

    def draw(self, count: int, generator: torch.Generator) -> torch.Tensor:
        picks = torch.randint(0, int(self.ends[-1]), (count,), generator=generator)
        which = torch.searchsorted(self.ends, picks, right=True)
        starts = picks - torch.cat([torch.zeros(1, dtype=self.ends.dtype), self.ends])[which]
        return torch.stack([self.sequences[i][s : s + self.length] for i, s in zip(which.tolist(), starts.tolist())])


def procedural_windows(count: int, skeleton: Skeleton, rng: np.random.Generator) -> np.ndarray:
    """(count, t_his + t_pred, 3 * (joints - 1)) root-relative windows of procedural motion."""
    frames = skeleton.t_his + skeleton.t_pred
    return np.stack([root_relative(random_clip(frames, rng)) for _ in range(count)]).astype(np.float32)


def augment(windows: torch.Tensor, skeleton: Skeleton, generator: torch.Generator) -> torch.Tensor:
    """Random rotation about z, mirror in x, mirror in y, each with probability 0.5 per window."""
    batch, frames, _ = windows.shape
    joints = windows.reshape(batch, frames, -1, 3).clone()
    angle = torch.rand(batch, generator=generator) * 2 * torch.pi
    rotate = torch.rand(batch, generator=generator) < 0.5
    cos, sin = torch.cos(angle), torch.sin(angle)
    x, y = joints[..., 0].clone(), joints[..., 1].clone()
    joints[rotate, ..., 0] = (cos[:, None, None] * x - sin[:, None, None] * y)[rotate]
    joints[rotate, ..., 1] = (sin[:, None, None] * x + cos[:, None, None] * y)[rotate]
    swap = [index - 1 for index in skeleton.mirrored()[1:]]  # root dropped: joint j is column j - 1
    for axis in (0, 1):
        mirror = torch.rand(batch, generator=generator) < 0.5
        flipped = joints[mirror][:, :, swap]
        flipped[..., axis] = -flipped[..., axis]
        joints[mirror] = flipped
    return joints.reshape(batch, frames, -1)


def train_denoiser(
    denoiser,
    scheduler,
    windows: RandomWindows,
    config: MotionTrainConfig,
    skeleton: Skeleton = H36M,
    progress: Progress | None = None,
    checkpoints: Path | None = None,
    resume: bool = False,
):
    """Train in place; returns the EMA copy (the model to sample with) and the loss per step.

    With ``checkpoints`` (a folder), the state is saved every ``config.checkpoint_every`` steps and at
    the end; ``resume`` continues from the newest one (also to a larger ``config.steps``)."""
    ema = copy.deepcopy(denoiser).eval().requires_grad_(False)
    optimizer = torch.optim.Adam(
        denoiser.parameters(), lr=config.learning_rate, fused=True
    )  # 5x faster on CPU than foreach
    lr_schedule = torch.optim.lr_scheduler.MultiStepLR(
        optimizer, sorted({max(1, round(f * config.steps)) for f in config.lr_milestones}), config.lr_gamma
    )
    losses: list[float] = []
    found = latest_checkpoint(checkpoints) if checkpoints else None
    if found and not resume:
        raise MotionTrainingError(
            f"{checkpoints} holds checkpoints of an earlier run: pass --resume to continue it, or choose another output"
        )
    if resume:
        if not found:
            raise MotionTrainingError(f"--resume: no checkpoint in {checkpoints}")
        losses = restore(found, denoiser, ema, optimizer, lr_schedule)
    coefficients = denoiser.config.coefficients
    denoiser.train()
    for step in range(len(losses) + 1, config.steps + 1):
        generator = step_generator(config.seed, step)
        torch.manual_seed(int(torch.randint(0, 2**62, (1,), generator=generator)))  # dropout draws from the global one
        batch = augment(windows.draw(config.batch_size, generator), skeleton, generator)
        clean = to_dct(batch, coefficients)
        history = batch[:, : skeleton.t_his]
        padded = torch.cat([history, history[:, -1:].expand(-1, batch.shape[1] - skeleton.t_his, -1)], dim=1)
        condition = to_dct(padded, coefficients)
        noise = torch.randn(clean.shape, generator=generator)
        timesteps = torch.randint(0, scheduler.config.num_train_timesteps, (config.batch_size,), generator=generator)
        keep = (torch.rand(config.batch_size, generator=generator) < config.mod_train).float()
        loss = F.mse_loss(denoiser(scheduler.add_noise(clean, noise, timesteps), timesteps, condition, keep), noise)
        loss.backward()
        optimizer.step()
        optimizer.zero_grad()
        lr_schedule.step()
        decay = config.ema_decay if step > config.ema_start else 0.0  # before EMA starts, the copy follows
        with torch.no_grad():
            torch._foreach_lerp_(list(ema.parameters()), list(denoiser.parameters()), 1.0 - decay)
        losses.append(float(loss.detach()))
        if checkpoints and (step == config.steps or config.checkpoint_every and step % config.checkpoint_every == 0):
            tensors = {
                **{f"model.{k}": v for k, v in denoiser.state_dict().items()},
                **{f"ema.{k}": v for k, v in ema.state_dict().items()},
            }
            save_checkpoint(
                checkpoints,
                step,
                tensors,
                optimizer,
                lr_schedule,
                {"losses": losses, "config": asdict(config)},
                config.keep_checkpoints,
            )
        if progress:
            progress(step, config.steps, f"loss={losses[-1]:.4f}")
    denoiser.eval()
    return ema, losses


def restore(found: Path, denoiser, ema, optimizer, lr_schedule) -> list[float]:
    """Load a checkpoint into the models, optimizer and schedule; returns its loss history."""
    step, tensors, state, meta = load_checkpoint(found)
    try:
        for prefix, model in (("model.", denoiser), ("ema.", ema)):
            model.load_state_dict({k[len(prefix) :]: v for k, v in tensors.items() if k.startswith(prefix)})
    except RuntimeError as error:
        raise MotionTrainingError(
            f"{found} was written for another model size: resume with the same "
            f"--width/--layers ({str(error).splitlines()[0]})"
        ) from None
    optimizer.load_state_dict(state["optimizer"])
    lr_schedule.load_state_dict(state["lr_scheduler"])
    return list(meta["losses"])[:step]
