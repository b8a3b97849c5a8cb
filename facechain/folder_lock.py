"""An output folder used by one run at a time.

Two ``facechain train`` runs into the same ``--out`` used to both exit 0, the second silently
overwriting the first and their logs interleaved. A run now holds an exclusive ``flock`` on
``<folder>/.facechain.lock`` while it lasts; the kernel releases it when the process ends, however it
ends, so a crash never leaves a stale lock. The file records who holds it (process, host, command,
start time), so the second run can say by whom the folder is in use.
"""

from __future__ import annotations

import fcntl
import json
import os
import socket
import sys
import time
from contextlib import contextmanager
from pathlib import Path

from .errors import BadArguments

LOCK_FILE = ".facechain.lock"


class FolderInUse(BadArguments):
    """Another run holds the output folder."""


@contextmanager
def locked_folder(folder: Path, what: str):
    """Hold ``folder`` (created if missing) for this process until the block ends, or raise
    ``FolderInUse`` naming the run that holds it. ``what`` is how the holder is described."""
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / LOCK_FILE
    stream = open(path, "a+", encoding="utf-8")
    try:
        try:
            fcntl.flock(stream, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            stream.seek(0)
            raise FolderInUse(
                f"{folder} is in use by {holder(stream.read())}: wait for that run to end, or choose another --out"
            ) from None
        stream.seek(0)
        stream.truncate()
        stream.write(
            json.dumps(
                {
                    "pid": os.getpid(),
                    "host": socket.gethostname(),
                    "what": what,
                    "command": " ".join(sys.argv),
                    "since": time.strftime("%Y-%m-%d %H:%M:%S"),
                }
            )
        )
        stream.flush()
        yield folder
    finally:
        stream.close()  # closing the file releases the lock


def holder(record: str) -> str:
    """The holder as words, from the lock file's record (any damage to it is shown as unknown)."""
    try:
        info = json.loads(record)
        return f"{info['what']} (process {info['pid']} on {info['host']}, since {info['since']}: {info['command']})"
    except (ValueError, KeyError, TypeError):
        return "another run"
