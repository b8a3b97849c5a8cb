"""Counts in words, for the CLI and the app alike."""

from __future__ import annotations


def plural(count: int, word: str, many: str | None = None) -> str:
    """'1 PNG', '2 PNGs', '1 photo', '0 photos'; ``many`` for an irregular plural."""
    return f"{count} {word if count == 1 else many or word + 's'}"
