"""Checks of the numbers a user passes, shared by the configs of every command so the CLI, the app and
the Python API refuse the same values with the same words (``BadArguments``, exit code 3)."""

from __future__ import annotations

from dataclasses import field

from .errors import BadArguments


def option(default, help: str, **cli):
    """A config field with its ``--help`` text (and argparse extras such as ``choices`` or ``aliases``,
    more option strings) declared beside it: the CLI builds its options from the fields."""
    return field(default=default, metadata={"help": help, **cli})


MAX_SEED = 2**32 - 1
"""Seeds are 32-bit: numpy's and most tools' range, and what a user can copy from one to another.
(torch takes 64 bits; a seed past that failed with "Overflow when unpacking long long".)"""

MIN_RESOLUTION, MAX_RESOLUTION = 64, 2048
"""Image sides in pixels: the VAE works on 8x8 blocks and the UNet halves the latent three times, so a
side must be a multiple of 8; 64 px is the tiny model's native size, 2048 px four times SD 1.5's."""


def check_between(
    name: str, value: float | None, low: float, high: float, hint: str = "", error: type[BadArguments] = BadArguments
) -> None:
    """``value`` (when given) must lie in [low, high]; ``name`` is how the user spells the option,
    ``error`` the caller's own ``BadArguments`` subclass."""
    if value is not None and not low <= value <= high:
        raise error(f"{name} must be between {number(low)} and {number(high)}, not {number(value)}{hint}")


def number(value: float) -> str:
    """An int as written (a 70-bit seed included), a float in its shortest form."""
    return str(value) if isinstance(value, int) else f"{value:g}"


def check_seed(name: str, seed: int | None, error: type[BadArguments] = BadArguments) -> None:
    check_between(name, seed, 0, MAX_SEED, error=error)


def check_resolution(name: str, value: int | None, error: type[BadArguments] = BadArguments) -> None:
    check_between(name, value, MIN_RESOLUTION, MAX_RESOLUTION, error=error)
    if value is not None and value % 8:
        raise error(
            f"{name} must be a multiple of 8 (the VAE works on 8x8 blocks), not {value}: "
            f"try {max(MIN_RESOLUTION, value // 8 * 8)}"
        )
