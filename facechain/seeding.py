"""Randomness fixed by position: every random choice a training step makes is drawn from a generator
seeded by the run's seed and the step, so a run resumed from a checkpoint continues exactly as the
uninterrupted run would have, with no RNG state to save."""

from __future__ import annotations

import numpy as np
import torch


def step_generator(seed: int, *position: int) -> torch.Generator:
    """A generator for one position in training (e.g. step, micro-step, process)."""
    mixed = np.random.SeedSequence([seed, *position]).generate_state(1, dtype=np.uint64)[0]
    return torch.Generator().manual_seed(int(mixed))
