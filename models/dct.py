"""Orthonormal DCT-II over time, as HumanMAC uses it: a clip of T frames becomes T coefficients, of
which the first few (20 for Human3.6M) keep the smooth motion. Orthonormal, so the inverse is the
transpose and energy is preserved."""

from __future__ import annotations

import math
from functools import lru_cache

import torch


@lru_cache(maxsize=32)
def _matrix(frames: int) -> torch.Tensor:
    k = torch.arange(frames, dtype=torch.float64)[:, None]
    i = torch.arange(frames, dtype=torch.float64)[None, :]
    basis = torch.cos(math.pi * (i + 0.5) * k / frames) * math.sqrt(2.0 / frames)
    basis[0] /= math.sqrt(2.0)
    return basis


def dct_matrix(frames: int, dtype=torch.float32, device=None) -> torch.Tensor:
    """(frames, frames) orthonormal DCT-II matrix: row k is the k-th cosine basis over time."""
    return _matrix(frames).to(dtype=dtype, device=device)


def to_dct(motion: torch.Tensor, coefficients: int | None = None) -> torch.Tensor:
    """(..., T, F) motion -> (..., n, F) first ``coefficients`` DCT coefficients (all T by default)."""
    frames = motion.shape[-2]
    basis = dct_matrix(frames, motion.dtype, motion.device)[: coefficients or frames]
    return basis @ motion


def from_dct(coefficients: torch.Tensor, frames: int) -> torch.Tensor:
    """(..., n, F) coefficients -> (..., T, F) motion (missing high frequencies taken as zero)."""
    basis = dct_matrix(frames, coefficients.dtype, coefficients.device)[: coefficients.shape[-2]]
    return basis.transpose(0, 1) @ coefficients
