"""The app's embedded workers: a thread of the server that starts each queued job in its own process
(``runner``), as many at once as the slots allow, and looks after them.

Each round (every ``poll`` seconds) it:
1. requeues running jobs whose process is gone (``JobStore.recover``: a killed worker, a server killed
   with kill -9 together with its children); training then resumes from its newest checkpoint;
2. reaps its finished processes;
3. kills a process whose job was cancelled but has not stopped within ``cancel_grace`` seconds (a model
   load does not pass through a progress call), and records it cancelled;
4. fills free slots by the queue's fairness rule;
5. now and then removes abandoned anonymous workspaces (``QueueLoop``).

The processes are not tied to the server: a job survives the server's restart if its process does.
"""

from __future__ import annotations

import logging
import os
import subprocess
import sys
import threading
import time
from pathlib import Path

from ..config import Settings
from ..errors import BadArguments
from ..workspace import WorkspaceStore
from .store import JobStore, worker_name

log = logging.getLogger(__name__)
DEFAULT_SLOTS = {"gpu": 1, "cpu": 1}
CLEANUP_SECONDS = 3600.0


def parse_slots(text: str | None) -> dict[str, int]:
    """``"gpu=1,cpu=2"`` -> {"gpu": 1, "cpu": 2}; classes not named keep their defaults."""
    slots = dict(DEFAULT_SLOTS)
    for part in filter(None, (p.strip() for p in (text or "").split(","))):
        name, _, count = part.partition("=")
        if name not in DEFAULT_SLOTS or not count.isdigit():
            raise BadArguments(
                f"slots '{text}': write classes and counts like gpu=1,cpu=2 (classes: {', '.join(DEFAULT_SLOTS)})"
            )
        slots[name] = int(count)
    return slots


def process_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def spawn_runner(root: Path, job_id: str, settings: Settings, own_session: bool) -> subprocess.Popen:
    """Start ``python -m facechain.jobs.runner ROOT JOB_ID``, its output appended to the job's log
    (``<root>/jobs/logs/<id>.log``). ``own_session``: a Ctrl-C in the starter's terminal does not reach it
    (the app's workers stop their jobs themselves); otherwise it dies with the starter's process group
    (a Celery worker's)."""
    logs = Path(root) / "jobs" / "logs"
    logs.mkdir(parents=True, exist_ok=True)
    with open(logs / f"{job_id}.log", "ab") as output:
        return subprocess.Popen(
            [sys.executable, "-m", "facechain.jobs.runner", str(root), job_id],
            stdout=output,
            stderr=subprocess.STDOUT,
            stdin=subprocess.DEVNULL,
            env={**os.environ, **settings.to_env()},
            start_new_session=own_session,
        )


class QueueLoop:
    """A thread that runs ``round()`` every ``poll`` seconds until stopped; one failed round is logged and
    the next one runs (a locked database or a full disk must not end the workers). Now and then it removes
    abandoned anonymous workspaces (``WorkspaceStore.cleanup``), never one with jobs."""

    def __init__(self, root: Path, poll: float, workspaces: WorkspaceStore | None):
        self.root = Path(root)
        self.store = JobStore(self.root / "jobs.sqlite3")
        self.workspaces = workspaces or WorkspaceStore(self.root)
        self.poll = poll
        self.stopping = threading.Event()
        self.thread: threading.Thread | None = None
        self.last_cleanup = 0.0

    def start(self):
        self.thread = threading.Thread(target=self._loop, name=type(self).__name__, daemon=True)
        self.thread.start()
        return self

    def stop(self) -> None:
        self.stopping.set()
        if self.thread is not None:
            self.thread.join()

    def _loop(self) -> None:
        while not self.stopping.is_set():
            try:
                self.round()
                if time.time() - self.last_cleanup > CLEANUP_SECONDS:
                    self.last_cleanup = time.time()
                    removed = self.workspaces.cleanup(busy=self.store.unfinished_owners())
                    if removed:
                        log.info("removed %d abandoned workspaces", len(removed))
            except Exception:
                log.exception("%s: round failed", type(self).__name__)
            self.stopping.wait(self.poll)

    def round(self) -> None:
        raise NotImplementedError


class EmbeddedWorkers(QueueLoop):
    def __init__(
        self,
        root: Path,
        settings: Settings,
        slots: dict[str, int] | None = None,
        poll: float = 0.5,
        cancel_grace: float = 60.0,
        workspaces: WorkspaceStore | None = None,
    ):
        super().__init__(root, poll, workspaces)
        self.settings = settings
        self.slots = slots or dict(DEFAULT_SLOTS)
        self.cancel_grace = cancel_grace
        self.name = worker_name()
        self.children: dict[str, tuple[str, subprocess.Popen]] = {}  # job id -> (slot, process)
        self.cancel_seen: dict[str, float] = {}

    def stop(self, terminate: bool = True) -> None:
        """Stop taking jobs; with ``terminate``, end the running job processes too (their jobs are then
        interrupted and run again, training from its checkpoint, when workers start next)."""
        super().stop()
        if terminate:
            for _, process in self.children.values():
                process.terminate()
            for _, process in self.children.values():
                process.wait()

    def round(self) -> None:
        for job in self.store.recover(alive=process_alive):
            log.warning("job %s: its process died; now %s", job.id, job.status)
        self.reap()
        self.enforce_cancels()
        for slot, capacity in self.slots.items():
            while sum(1 for s, _ in self.children.values() if s == slot) < capacity:
                job = self.store.claim(slot, self.name)
                if job is None:
                    break
                self.spawn(job.id, slot)

    def spawn(self, job_id: str, slot: str) -> None:
        process = spawn_runner(self.root, job_id, self.settings, own_session=True)
        self.store.started(job_id, process.pid)
        self.children[job_id] = (slot, process)
        log.info("job %s started in process %d", job_id, process.pid)

    def reap(self) -> None:
        for job_id, (_, process) in list(self.children.items()):
            if process.poll() is not None:
                del self.children[job_id]
                self.cancel_seen.pop(job_id, None)

    def enforce_cancels(self) -> None:
        now = time.monotonic()
        for job_id, (_, process) in list(self.children.items()):
            if not self.store.get(job_id).cancel_requested:
                continue
            first = self.cancel_seen.setdefault(job_id, now)
            if now - first > self.cancel_grace:
                log.warning("job %s did not stop within %.0f s of its cancel: killed", job_id, self.cancel_grace)
                process.kill()
                process.wait()
                self.store.finish(job_id, "cancelled", error="cancelled (stopped by force)")


__all__ = ["DEFAULT_SLOTS", "EmbeddedWorkers", "QueueLoop", "parse_slots", "process_alive", "spawn_runner"]
