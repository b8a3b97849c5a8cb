"""The persistent job queue: one SQLite file (``<runs>/jobs.sqlite3``), no server to run.

Why SQLite: the app, its worker processes and ``facechain jobs`` are separate processes on one machine;
SQLite in WAL mode gives them atomic claims (``BEGIN IMMEDIATE``) and survives kill -9 of any of them.
A job's row is the whole truth about it: owner (a workspace id), kind, parameters, status, progress,
result, timestamps, and who runs it (worker, process id, heartbeat).

Statuses::

    queued -> running -> succeeded | failed | cancelled
                  \\-> interrupted (its process died: heartbeat older than STALE_SECONDS): waits like a
                       queued job and is run again (training resumes from its newest checkpoint; short
                       jobs rerun), at most MAX_ATTEMPTS starts, then failed

Fairness: a free slot takes, among the queued jobs of its class, the one whose owner has the fewest
jobs running in that class, then the owner who started a job of that class least recently, then the
oldest job. So a user who queues many jobs gets one slot in turn with everybody else, never all of them.
(Counting starts of the same class only: a user whose photos were just prepared is not sent to the back
of the training queue. The load test first counted all classes and saw one user start two trainings in a
row while another waited.)
"""

from __future__ import annotations

import json
import os
import socket
import sqlite3
import time
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

from ..errors import BadArguments

STATUSES = ("queued", "running", "succeeded", "failed", "cancelled", "interrupted")
FINAL = ("succeeded", "failed", "cancelled")
WAITING = ("queued", "interrupted")
UNFINISHED = (*WAITING, "running")
STALE_SECONDS = 30.0
"""A running job whose process has not beaten for this long is taken as dead (``FACECHAIN_JOB_STALE_SECONDS``
changes it). Runners beat every HEARTBEAT_SECONDS, from a thread, so a long step (a model load takes ~10 s
on this CPU) never looks dead."""
DISPATCHED = "dispatched"
"""The worker of a job sent to the broker and not yet taken by a Celery worker (``broker``)."""
HEARTBEAT_SECONDS = 3.0
MAX_ATTEMPTS = 3

SCHEMA = """
CREATE TABLE IF NOT EXISTS jobs (
    id TEXT PRIMARY KEY,
    owner TEXT NOT NULL,
    kind TEXT NOT NULL,
    slot TEXT NOT NULL,
    params TEXT NOT NULL,
    status TEXT NOT NULL,
    created REAL NOT NULL,
    started REAL,
    finished REAL,
    step INTEGER NOT NULL DEFAULT 0,
    total INTEGER,
    message TEXT NOT NULL DEFAULT '',
    error TEXT,
    result TEXT,
    cancel_requested INTEGER NOT NULL DEFAULT 0,
    attempts INTEGER NOT NULL DEFAULT 0,
    worker TEXT,
    dispatch TEXT,
    pid INTEGER,
    heartbeat REAL
);
CREATE INDEX IF NOT EXISTS jobs_by_status ON jobs (status, slot);
CREATE INDEX IF NOT EXISTS jobs_by_owner ON jobs (owner, created);
"""


class JobError(BadArguments):
    """A job that cannot be found, queued or cancelled as asked."""


class TooManyJobs(JobError):
    """The owner has as many unfinished jobs as the operator allows."""


@dataclass(frozen=True)
class Job:
    id: str
    owner: str
    kind: str
    slot: str
    params: dict
    status: str
    created: float
    started: float | None
    finished: float | None
    step: int
    total: int | None
    message: str
    error: str | None
    result: dict | None
    cancel_requested: bool
    attempts: int
    worker: str | None
    dispatch: str | None
    pid: int | None
    heartbeat: float | None

    @classmethod
    def from_row(cls, row: sqlite3.Row) -> Job:
        values = dict(row)
        values["params"] = json.loads(values["params"])
        values["result"] = json.loads(values["result"]) if values["result"] else None
        values["cancel_requested"] = bool(values["cancel_requested"])
        return cls(**values)

    @property
    def done(self) -> bool:
        return self.status in FINAL

    @property
    def fraction(self) -> float | None:
        return self.step / self.total if self.total else None

    def describe(self) -> str:
        """One line for people: kind, status, progress, message or error."""
        progress = f" {self.step}/{self.total}" if self.total and self.status == "running" else ""
        detail = self.error or self.message
        return f"{self.kind} {self.status}{progress}" + (f": {detail}" if detail else "")


@dataclass
class Turns:
    """What the fairness rule reads for one slot class: the waiting jobs, and per owner the jobs running
    in that class and the last start of one (``claim`` takes the next; ``queue_order`` plays the turns out)."""

    waiting: list[dict]
    running: dict[str, int]
    last_start: dict[str, float]

    @classmethod
    def read(cls, db: sqlite3.Connection, slot: str) -> Turns:
        waiting = [dict(r) for r in db.execute(f"SELECT * FROM jobs WHERE status IN {WAITING} AND slot = ?", (slot,))]
        running = "SELECT owner, COUNT(*) FROM jobs WHERE status = 'running' AND slot = ? GROUP BY owner"
        started = "SELECT owner, MAX(started) FROM jobs WHERE slot = ? GROUP BY owner"
        return cls(
            waiting, dict(db.execute(running, (slot,)).fetchall()), dict(db.execute(started, (slot,)).fetchall())
        )

    def next(self) -> dict:
        """Fewest running jobs of its owner, then the owner's least recent start, then the oldest job."""
        return min(
            self.waiting,
            key=lambda r: (self.running.get(r["owner"], 0), self.last_start.get(r["owner"]) or 0.0, r["created"]),
        )


def worker_name() -> str:
    return f"{socket.gethostname()}:{os.getpid()}"


class JobStore:
    """The queue in ``path``. Every method opens its own short connection, so one store object may be
    used from several threads and every process sees the others' writes at once."""

    def __init__(self, path: Path | str, max_unfinished_per_owner: int = 4, stale_seconds: float | None = None):
        self.path = Path(path)
        self.max_unfinished_per_owner = max_unfinished_per_owner
        self.stale_seconds = stale_seconds or float(os.environ.get("FACECHAIN_JOB_STALE_SECONDS", STALE_SECONDS))
        self.path.parent.mkdir(parents=True, exist_ok=True)
        db = sqlite3.connect(self.path, timeout=30, isolation_level=None)
        try:
            # a rollback journal, not WAL: WAL needs shared memory, so it fails on a runs folder shared between
            # machines (the broker's workers); the writes here are small and few (progress twice a second per job)
            db.execute("PRAGMA journal_mode=DELETE")
            db.executescript(SCHEMA)
        finally:
            db.close()

    @contextmanager
    def connect(self, immediate: bool = False) -> Iterator[sqlite3.Connection]:
        db = sqlite3.connect(self.path, timeout=30, isolation_level=None)
        db.row_factory = sqlite3.Row
        try:
            db.execute("BEGIN IMMEDIATE" if immediate else "BEGIN")
            yield db
            db.execute("COMMIT")
        except BaseException:
            if db.in_transaction:
                db.execute("ROLLBACK")
            raise
        finally:
            db.close()

    def submit(self, owner: str, kind: str, slot: str, params: dict) -> Job:
        """Queue a job; ``TooManyJobs`` when the owner already has the most unfinished jobs allowed."""
        job_id = uuid.uuid4().hex[:16]
        with self.connect(immediate=True) as db:
            (unfinished,) = db.execute(
                f"SELECT COUNT(*) FROM jobs WHERE owner = ? AND status IN {UNFINISHED}",
                (owner,),
            ).fetchone()
            if unfinished >= self.max_unfinished_per_owner:
                raise TooManyJobs(
                    f"you have {unfinished} unfinished jobs, the most this server allows: wait for one to end "
                    f"or cancel one (Jobs panel, or `facechain jobs cancel ID`)"
                )
            db.execute(
                "INSERT INTO jobs (id, owner, kind, slot, params, status, created) VALUES (?, ?, ?, ?, ?, 'queued', ?)",
                (job_id, owner, kind, slot, json.dumps(params), time.time()),
            )
        return self.get(job_id)

    def get(self, job_id: str) -> Job:
        with self.connect() as db:
            row = db.execute("SELECT * FROM jobs WHERE id = ?", (job_id,)).fetchone()
        if row is None:
            raise JobError(f"no job '{job_id}' (see `facechain jobs list`)")
        return Job.from_row(row)

    def list(self, owner: str | None = None, statuses: tuple[str, ...] = STATUSES, limit: int = 100) -> list[Job]:
        """Jobs, newest first; of one owner if given."""
        marks = ",".join("?" * len(statuses))
        query = f"SELECT * FROM jobs WHERE status IN ({marks})"
        args: list = list(statuses)
        if owner is not None:
            query += " AND owner = ?"
            args.append(owner)
        with self.connect() as db:
            rows = db.execute(f"{query} ORDER BY created DESC LIMIT ?", (*args, limit)).fetchall()
        return [Job.from_row(row) for row in rows]

    def claim(self, slot: str, worker: str | None = None, dispatch: str | None = None) -> Job | None:
        """Take the next queued job of ``slot`` by the fairness rule (module docstring) and mark it running
        (by ``worker``, or sent to the broker as ``dispatch``)."""
        with self.connect(immediate=True) as db:
            turns = Turns.read(db, slot)
            if not turns.waiting:
                return None
            chosen = turns.next()
            now = time.time()
            db.execute(
                "UPDATE jobs SET status = 'running', started = ?, heartbeat = ?, worker = ?, dispatch = ?, pid = NULL, "
                "attempts = attempts + 1 WHERE id = ?",
                (now, now, worker or worker_name(), dispatch, chosen["id"]),
            )
        return self.get(chosen["id"])

    def queue_order(self, slot: str) -> list[str]:
        """The ids of the queued jobs of ``slot`` in the order free slots would take them (for queue positions)."""
        with self.connect() as db:
            turns = Turns.read(db, slot)
        order, clock = [], time.time()
        while turns.waiting:
            chosen = turns.next()
            turns.waiting.remove(chosen)
            order.append(chosen["id"])
            clock += 1e-6  # as if it started now: its owner goes to the back of the turn
            turns.last_start[chosen["owner"]] = clock
        return order

    def position(self, job: Job) -> int | None:
        """1 for the next job its slot takes; None when it is not queued."""
        if job.status not in ("queued", "interrupted"):
            return None
        order = self.queue_order(job.slot)
        return order.index(job.id) + 1 if job.id in order else None

    def _update(self, job_id: str, where: str = "", where_args: tuple = (), **values) -> bool:
        """Set ``values`` on the job's row if it also meets ``where`` (SQL after ``AND``, with ``where_args``)."""
        assignments = ", ".join(f"{name} = ?" for name in values)
        with self.connect(immediate=True) as db:
            cursor = db.execute(
                f"UPDATE jobs SET {assignments} WHERE id = ?{where}", (*values.values(), job_id, *where_args)
            )
        return cursor.rowcount == 1

    def take(self, job_id: str, dispatch: str, worker: str) -> bool:
        """A Celery worker takes a dispatched job: only the dispatch the row expects, and only while no live
        worker holds it (first delivery, or a redelivery after its worker died: heartbeat stale). A message
        of an older dispatch, or a redelivery while the holder still beats, is refused: never two at once."""
        now = time.time()
        return self._update(
            job_id,
            " AND status = 'running' AND dispatch = ? AND (worker = ? OR heartbeat < ?)",
            worker=worker,
            heartbeat=now,
            pid=None,
            where_args=(dispatch, DISPATCHED, now - self.stale_seconds),
        )

    def waiting_dispatch(self, slot: str) -> bool:
        """Whether a job of ``slot`` sits in the broker untaken (then every worker of that class is busy)."""
        with self.connect() as db:
            row = db.execute(
                "SELECT 1 FROM jobs WHERE status = 'running' AND slot = ? AND worker = ?", (slot, DISPATCHED)
            ).fetchone()
        return row is not None

    def started(self, job_id: str, pid: int) -> None:
        self._update(job_id, pid=pid, heartbeat=time.time())

    def beat(self, job_id: str) -> bool:
        """Renew the heartbeat; returns whether a cancel was asked for (False as well if the job is gone)."""
        self._update(job_id, " AND status = 'running'", heartbeat=time.time())
        return self.get(job_id).cancel_requested

    def report(self, job_id: str, step: int, total: int | None, message: str = "") -> None:
        self._update(job_id, " AND status = 'running'", step=step, total=total, message=message, heartbeat=time.time())

    def finish(self, job_id: str, status: str, result: dict | None = None, error: str | None = None) -> bool:
        """Record the end of a running job; False when it is no longer running (e.g. taken as dead and
        requeued meanwhile: the result of the old attempt is then not recorded twice)."""
        if status not in FINAL:
            raise ValueError(f"{status} is not a final status")
        return self._update(
            job_id,
            " AND status = 'running'",
            status=status,
            finished=time.time(),
            result=json.dumps(result) if result is not None else None,
            error=error,
            pid=None,
        )

    def cancel(self, job_id: str, owner: str | None = None) -> Job:
        """Cancel a queued job at once, ask a running one to stop (at its next step); ``owner``, when given,
        must own it (a job of someone else is reported as not found)."""
        job = self.get(job_id)
        if owner is not None and job.owner != owner:
            raise JobError(f"no job '{job_id}' (see `facechain jobs list`)")
        if job.status in ("queued", "interrupted"):
            self._update(job_id, " AND status IN ('queued', 'interrupted')", status="cancelled", finished=time.time())
        elif job.status == "running":
            self._update(job_id, cancel_requested=1)
        return self.get(job_id)

    def recover(self, now: float | None = None, alive=None) -> list[Job]:
        """Requeue running jobs whose process is gone: heartbeat older than ``stale_seconds``, or (``alive``
        given) a process id on this host that ``alive(pid)`` says is dead. A job waiting in the broker for a
        worker is not gone. Jobs past MAX_ATTEMPTS fail. Returns the jobs it touched, as they are now."""
        now = time.time() if now is None else now
        host = socket.gethostname()
        touched = []
        with self.connect(immediate=True) as db:
            for row in db.execute("SELECT * FROM jobs WHERE status = 'running'").fetchall():
                if row["worker"] == DISPATCHED:
                    continue
                here = (row["worker"] or "").split(":")[0] == host
                dead_here = alive is not None and here and row["pid"] is not None and not alive(row["pid"])
                if not (dead_here or now - (row["heartbeat"] or 0) > self.stale_seconds):
                    continue
                if row["cancel_requested"]:
                    status, error = "cancelled", None
                elif row["attempts"] >= MAX_ATTEMPTS:
                    status, error = "failed", f"its process died {row['attempts']} times; not retried again"
                else:
                    status, error = "interrupted", None
                message = (
                    f"interrupted at step {row['step']}; runs again" if status == "interrupted" else row["message"]
                )
                db.execute(
                    "UPDATE jobs SET status = ?, error = ?, message = ?, pid = NULL, worker = NULL, dispatch = NULL, "
                    "finished = CASE WHEN ? = 'interrupted' THEN NULL ELSE ? END WHERE id = ?",
                    (status, error, message, status, now, row["id"]),
                )
                touched.append(row["id"])
        return [self.get(job_id) for job_id in touched]

    def unfinished_owners(self) -> frozenset[str]:
        with self.connect() as db:
            rows = db.execute(f"SELECT DISTINCT owner FROM jobs WHERE status IN {UNFINISHED}").fetchall()
        return frozenset(row[0] for row in rows)


__all__ = [
    "DISPATCHED",
    "FINAL",
    "UNFINISHED",
    "WAITING",
    "Job",
    "JobError",
    "JobStore",
    "STATUSES",
    "TooManyJobs",
    "worker_name",
]
