"""Write a file or a folder whole or not at all: it is built under a hidden staging name beside its
target and renamed into place only once complete, so an interrupted run (a crash, Ctrl-C, a full
disk) leaves the previous target untouched and no half-written one that a later run would trust."""

from __future__ import annotations

import os
import shutil
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path


def staging_name(target: Path) -> Path:
    """Hidden, per-process, and keeping the suffix (image writers choose the format by it)."""
    return target.with_name(f".{target.stem}.partial-{os.getpid()}{target.suffix}")


@contextmanager
def staged_file(target: Path) -> Iterator[Path]:
    """Yield the path to write; on success it replaces ``target``, on failure it is removed."""
    target.parent.mkdir(parents=True, exist_ok=True)
    staging = staging_name(target)
    try:
        yield staging
        staging.replace(target)
    finally:
        staging.unlink(missing_ok=True)


@contextmanager
def staged_folder(target: Path) -> Iterator[Path]:
    """Yield an empty folder to fill; on success it takes the place of ``target`` (an existing one is
    removed only after the swap), on failure it is removed."""
    target.parent.mkdir(parents=True, exist_ok=True)
    staging = staging_name(target)
    shutil.rmtree(staging, ignore_errors=True)
    staging.mkdir()
    try:
        yield staging
        previous = target.with_name(f".{target.name}.old-{os.getpid()}")
        if target.exists():
            target.rename(previous)
        staging.rename(target)
        shutil.rmtree(previous, ignore_errors=True)
    except BaseException:
        shutil.rmtree(staging, ignore_errors=True)
        raise
