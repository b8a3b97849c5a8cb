"""One progress protocol for every long job: ``progress(step, total, message)``.

``step`` of ``total`` units are done (photos, optimizer steps, images, windows, seeds); ``message``
says what the last one was (a photo's name, the loss), or is empty. prepare, train, generate, the face
map, motion training and evaluation, and the lab all call it the same way, so a front end needs one
adapter: ``TqdmProgress`` for the terminal here; in the app, a job's runner writes it into the job's row
(``facechain.jobs.runner.Reporter``) and the tab's progress bar follows the row.
A callback may raise to stop the job (the app's Cancel does): the job stops at that point, and what it
has written whole (checkpoints) stays.
"""

from __future__ import annotations

import sys
from typing import Protocol


class Progress(Protocol):
    def __call__(self, step: int, total: int, message: str = "") -> None: ...


class TqdmProgress:
    """A tqdm bar as a ``Progress``; it appears on its first call, so nothing is drawn before an
    argument error or for a run with nothing to do. The message is shown after the count."""

    def __init__(self, desc: str, unit: str, disable: bool = False):
        self.desc, self.unit, self.disable = desc, unit, disable
        self.bar = None

    def __call__(self, step: int, total: int, message: str = "") -> None:
        if self.bar is None:
            from tqdm import tqdm

            self.bar = tqdm(total=total, unit=self.unit, desc=self.desc, file=sys.stderr, disable=self.disable)
        self.bar.total = total
        if message:
            self.bar.set_postfix_str(message, refresh=False)
        self.bar.update(step - self.bar.n)

    def close(self) -> None:
        if self.bar is not None:
            self.bar.close()

    def __enter__(self) -> TqdmProgress:
        return self

    def __exit__(self, *exc) -> None:
        self.close()
