"""One job in its own process: ``python -m facechain.jobs.runner RUNS_ROOT JOB_ID``.

Why a process per job: model loading in diffusers/transformers swaps globals of torch for the whole
process (``facechain.model_loading``), so two loads in threads of one server broke every later training
until a restart; and a job's memory (a base model, its caches) goes back to the system when its process
ends, so the server stays small under load. The process reports progress and beats its heartbeat into
the job's row; a cancel asked for in the row stops the job at its next progress call (a training step,
a sampling step, a photo), and whatever it wrote so far stays consistent (outputs are written whole,
checkpoints atomically).

Exit codes: 0 the job ended (succeeded, failed with a user error, or cancelled, as recorded in its row);
1 a bug (traceback in the job's log, and the row says so).
"""

from __future__ import annotations

import logging
import os
import sys
import threading
import time
from pathlib import Path

from ..config import Settings
from ..errors import ExitCode, FacechainError
from ..workspace import WorkspaceStore
from .kinds import kind
from .store import HEARTBEAT_SECONDS, JobStore

log = logging.getLogger(__name__)
REPORT_SECONDS = 0.5
BUG = "a bug stopped this job (not your input); its traceback is in the job's log: please report it"


class JobCancelled(FacechainError):
    """The job's owner cancelled it."""

    exit_code = ExitCode.INTERRUPTED


class Reporter:
    """The job's progress callback and heartbeat: progress goes to the row at most every REPORT_SECONDS
    (and always for the last step), the heartbeat thread renews the row and picks up a cancel."""

    def __init__(self, store: JobStore, job_id: str):
        self.store, self.job_id = store, job_id
        self.cancelled = threading.Event()
        self.stopped = threading.Event()
        self.last = 0.0
        self.thread = threading.Thread(target=self._beat, name=f"heartbeat-{job_id}", daemon=True)

    def _beat(self) -> None:
        while not self.stopped.wait(HEARTBEAT_SECONDS):
            if self.store.beat(self.job_id):
                self.cancelled.set()

    def __call__(self, step: int, total: int, message: str = "") -> None:
        now = time.monotonic()
        if now - self.last >= REPORT_SECONDS or step >= total:
            self.last = now
            self.store.report(self.job_id, step, total, message)
            if self.store.get(self.job_id).cancel_requested:
                self.cancelled.set()
        if self.cancelled.is_set():
            raise JobCancelled(f"cancelled at {step} of {total}")

    def __enter__(self) -> Reporter:
        self.thread.start()
        return self

    def __exit__(self, *exc) -> None:
        self.stopped.set()
        self.thread.join()


def run_job(root: Path, job_id: str, settings: Settings | None = None) -> int:
    """Run job ``job_id`` of the queue under ``root`` to its end and record how it ended."""
    store = JobStore(root / "jobs.sqlite3")
    job = store.get(job_id)
    store.started(job_id, os.getpid())
    settings = settings or Settings.from_env()
    log.info("job %s (%s, attempt %d) starts: %s", job.id, job.kind, job.attempts, job.params)
    try:
        with Reporter(store, job_id) as reporter:
            workspace = WorkspaceStore(root).by_id(job.owner)
            result = kind(job.kind).run(job.params, workspace, settings, reporter)
    except JobCancelled as error:
        store.finish(job_id, "cancelled", error=str(error))
        log.info("job %s cancelled", job_id)
        return 0
    except FacechainError as error:
        store.finish(job_id, "failed", error=str(error))
        log.info("job %s failed: %s", job_id, error)
        return 0
    except Exception:
        log.exception("job %s: unexpected error", job_id)
        store.finish(job_id, "failed", error=BUG)
        return 1
    store.finish(job_id, "succeeded", result=result)
    log.info("job %s succeeded: %s", job_id, result)
    return 0


def main(argv: list[str] | None = None) -> int:
    from .. import quiet

    root, job_id = argv if argv is not None else sys.argv[1:]
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    quiet.install()
    return run_job(Path(root), job_id)


if __name__ == "__main__":
    sys.exit(main())
