"""Training the HumanMAC denoiser on motion windows (paper: Adam 3e-4, batch 64, cosine schedule,
noise-prediction MSE on the DCT of the whole window, history condition dropped with probability
1 - mod_train, EMA 0.995 after 2000 steps; augmentation with probability 0.5 each: a rotation about
the vertical axis, a mirror in x, a mirror in y)."""

from __future__ import annotations

import copy
from dataclasses import dataclass
from typing import Callable

import numpy as np
import torch
import torch.nn.functional as F

from .dct import to_dct
from .procedural import random_clip, root_relative
from .skeleton import H36M, Skeleton


@dataclass
class MotionTrainConfig:
    steps: int = 1000
    batch_size: int = 64
    learning_rate: float = 3e-4
    mod_train: float = 0.8
    ema_decay: float = 0.995
    ema_start: int = 2000
    seed: int = 0


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


def train_denoiser(denoiser, scheduler, windows: np.ndarray, config: MotionTrainConfig, skeleton: Skeleton = H36M,
                   progress: Callable[[int, int, float], None] | None = None):
    """Train in place; returns the EMA copy (the model to sample with) and the loss per step."""
    generator = torch.Generator().manual_seed(config.seed)
    data = torch.from_numpy(windows)
    ema = copy.deepcopy(denoiser).eval().requires_grad_(False)
    optimizer = torch.optim.Adam(denoiser.parameters(), lr=config.learning_rate)
    coefficients = denoiser.config.coefficients
    losses = []
    denoiser.train()
    for step in range(1, config.steps + 1):
        batch = augment(data[torch.randint(0, len(data), (config.batch_size,), generator=generator)], skeleton, generator)
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
        decay = config.ema_decay if step > config.ema_start else 0.0  # before EMA starts, the copy follows
        with torch.no_grad():
            for average, current in zip(ema.parameters(), denoiser.parameters()):
                average.lerp_(current, 1.0 - decay)
        losses.append(float(loss.detach()))
        if progress:
            progress(step, config.steps, losses[-1])
    denoiser.eval()
    return ema, losses
