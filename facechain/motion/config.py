"""HumanMAC training settings, importable without torch: ``facechain motion train`` builds its options
from the fields that declare a help text."""

from __future__ import annotations

from dataclasses import dataclass

from ..validation import option


@dataclass
class MotionTrainConfig:
    """A training run's settings; the defaults are the paper's (the CLI's train a CPU-sized model). Fields
    with a help text are ``facechain motion train`` options."""

    steps: int = option(1000, "optimizer steps")
    batch_size: int = option(64, "windows per step")
    learning_rate: float = option(3e-4, "Adam learning rate (paper: 3e-4)")
    lr_milestones: tuple[float, ...] = (0.15, 0.3, 0.45, 0.55, 0.7, 0.9)  # the paper's epochs 75..450 of 500
    lr_gamma: float = 0.9
    mod_train: float = 0.8
    ema_decay: float = 0.995
    ema_start: int = 2000
    seed: int = option(0, "seed of the procedural windows and the initialisation")
    checkpoint_every: int = option(500, "steps between checkpoints (0: none)")
    keep_checkpoints: int = 2
