"""Random views of 8x8 digits as torch tensors (n, 64), for methods that compare two augmentations of
the same item (semi-supervised consistency, contrastive losses). Randomness comes from torch's global
generator, which the harness seeds."""

from __future__ import annotations

import torch

from .data import SIDE


def shifted(x: torch.Tensor) -> torch.Tensor:
    """Each 8x8 image moved by a random offset in {-1, 0, 1}^2, zero-filled (the weak view)."""
    grid = torch.nn.functional.pad(x.view(-1, 1, SIDE, SIDE), (1, 1, 1, 1))
    dy, dx = torch.randint(0, 3, (2, len(x)))
    rows = (torch.arange(SIDE)[None, :] + dy[:, None])[:, :, None]
    cols = (torch.arange(SIDE)[None, :] + dx[:, None])[:, None, :]
    return grid[torch.arange(len(x))[:, None, None], 0, rows, cols].reshape(len(x), -1)


def strongly_augmented(x: torch.Tensor) -> torch.Tensor:
    """The weak view plus noise (sd 0.15) and a random 3x3 block set to zero."""
    view = (shifted(x) + 0.15 * torch.randn_like(x)).clamp(0, 1).view(-1, SIDE, SIDE).clone()
    top, left = torch.randint(0, SIDE - 2, (2, len(x)))
    rows = top[:, None] + torch.arange(3)
    cols = left[:, None] + torch.arange(3)
    view[torch.arange(len(x))[:, None, None], rows[:, :, None], cols[:, None, :]] = 0
    return view.reshape(len(x), -1)
