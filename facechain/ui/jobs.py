"""A training run in a background thread that the app can watch and stop.

The Gradio handler polls ``TrainingJob`` for step and total (its progress callback) and for the
losses (the run's log) to draw progress and the loss plot; Cancel sets a flag that the trainer's
progress callback turns into ``TrainingCancelled`` at the end of the current step. Checkpoints
written so far stay, so the run can be resumed.
"""

from __future__ import annotations

import threading
from dataclasses import dataclass, field

from ..config import Settings
from ..errors import ExitCode, FacechainError
from ..portrait.model_folder import logged_losses
from ..portrait.training.config import TrainConfig
from .errors import BUG_MESSAGE, log


class TrainingCancelled(FacechainError):
    """Training stopped at the user's request."""

    exit_code = ExitCode.INTERRUPTED


@dataclass
class TrainingJob:
    config: TrainConfig
    settings: Settings
    step: int = 0
    total: int | None = None
    error: str | None = None
    result: object = None
    stop_requested: threading.Event = field(default_factory=threading.Event)
    thread: threading.Thread | None = None

    def start(self) -> TrainingJob:
        self.thread = threading.Thread(target=self._run, name=f"train-{self.config.out.name}", daemon=True)
        self.thread.start()
        return self

    @property
    def losses(self) -> list[tuple[int, float]]:
        """(step, loss) of the whole run so far, from its log (a resumed run's log starts with the
        interrupted run's steps up to the checkpoint it resumes from). Empty until the run's first step:
        before it, the folder's log may still be an earlier run's."""
        return logged_losses(self.config.out) if self.total is not None else []

    def _progress(self, step: int, total: int, message: str = "") -> None:
        self.step, self.total = step, total
        if self.stop_requested.is_set():
            raise TrainingCancelled(f"cancelled at step {step} of {total}")

    def _run(self) -> None:
        from ..portrait import train

        try:
            self.result = train(self.config, self.settings, progress=self._progress)
        except FacechainError as error:
            self.error = str(error)
        except Exception as error:  # a bug: logged with its traceback and said to be one, not a silent dead thread
            log.error("unexpected error in a training job", exc_info=error)
            self.error = f"{BUG_MESSAGE} ({type(error).__name__}: {error})"

    @property
    def finished(self) -> bool:
        return self.thread is not None and not self.thread.is_alive()

    def stop(self) -> None:
        self.stop_requested.set()
