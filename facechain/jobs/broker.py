"""Jobs on other machines, through Celery with a Redis broker.

Why Celery: it is what services of this kind run their GPU workers on, and it brings what a home-made
dispatcher would have to reinvent: named queues per slot class, workers that take only what they can run
(prefetch 1), and late acknowledgement (``acks_late`` + ``reject_on_worker_lost``): a message is removed
from the broker only when its task has ended, so a worker that dies mid-job leaves it to another.

The job's row stays in the queue database under the runs folder, which the app and every worker share
(a shared folder mounted at the same place, or each worker's ``--runs``); the broker carries only
(job id, dispatch id). Roles:

- The app's ``BrokerDispatcher`` keeps the fairness rule of the local queue: per slot class it sends one
  job at a time, the next by ``JobStore.claim``, and sends another only when a worker has taken it (a
  message waiting in the broker means every worker of that class is busy). It also requeues taken jobs
  whose heartbeat stopped (``JobStore.recover``), under a new dispatch id.
- A worker (``facechain worker --broker``) runs one Celery worker per slot class (queue
  ``facechain-<class>``, ``--slots`` threads), each task starting the job's runner process.
- ``JobStore.take`` decides whether a delivered message may run: only its own dispatch, and only when no
  live worker holds the job. So a late redelivery of a message whose job was already requeued or is still
  running is dropped, and a job never runs twice at once or twice to completion.
"""

from __future__ import annotations

import logging
import os
import signal
import subprocess
import sys
import uuid
from pathlib import Path

from ..config import Settings
from ..errors import EnvironmentProblem
from ..workspace import WorkspaceStore
from .store import DISPATCHED, worker_name
from .supervisor import QueueLoop, spawn_runner

log = logging.getLogger(__name__)
TASK = "facechain.run_job"
SLOT_CLASSES = ("gpu", "cpu")
VISIBILITY_SECONDS = 3600
"""Redis redelivers an unacknowledged message after this long (Celery's default): the dispatcher's own
heartbeat check requeues a dead worker's job much sooner, under a new dispatch that the old message cannot take."""


def queue_name(slot: str) -> str:
    return f"facechain-{slot}"


def celery_app(broker: str):
    """The Celery application of the broker's URL (``redis://HOST:PORT/DB``)."""
    try:
        from celery import Celery
    except ImportError:
        raise EnvironmentProblem(
            "a broker needs Celery: pip install -c constraints.txt -e '.[workers]' (celery with redis)"
        ) from None
    app = Celery("facechain", broker=broker)
    app.conf.update(
        task_acks_late=True,
        task_reject_on_worker_lost=True,
        worker_prefetch_multiplier=1,
        task_ignore_result=True,
        broker_connection_retry_on_startup=True,
        broker_transport_options={"visibility_timeout": VISIBILITY_SECONDS},
        worker_hijack_root_logger=False,
    )
    return app


class BrokerDispatcher(QueueLoop):
    """The app's side when a broker is configured (instead of ``EmbeddedWorkers``)."""

    def __init__(self, root: Path, broker: str, poll: float = 0.5, workspaces: WorkspaceStore | None = None):
        super().__init__(root, poll, workspaces)
        self.broker = broker
        self.celery = celery_app(broker)

    def round(self) -> None:
        for job in self.store.recover():  # workers are elsewhere: only the heartbeat tells
            log.warning("job %s: its worker stopped beating; now %s", job.id, job.status)
        for slot in SLOT_CLASSES:
            if self.store.waiting_dispatch(slot):
                continue
            dispatch = uuid.uuid4().hex
            job = self.store.claim(slot, DISPATCHED, dispatch)
            if job is not None:
                self.celery.send_task(TASK, args=[job.id, dispatch], queue=queue_name(slot))
                log.info("job %s sent to the broker's %s queue", job.id, slot)


def run_celery_worker(broker: str, runs: Path, slot: str, threads: int) -> None:
    """One Celery worker for one slot class: ``threads`` jobs at once, each in its runner process."""
    from ..jobs.store import JobStore

    app = celery_app(broker)
    settings = Settings.from_env()

    @app.task(name=TASK)
    def run_job(job_id: str, dispatch: str) -> str:
        store = JobStore(runs / "jobs.sqlite3")
        if not store.take(job_id, dispatch, worker_name()):
            log.info(
                "job %s: dispatch %s is no longer this job's (requeued, or held by a live worker)", job_id, dispatch
            )
            return "dropped"
        process = spawn_runner(runs, job_id, settings, own_session=False)  # dies with this worker's group
        store.started(job_id, process.pid)
        return f"exit {process.wait()}"

    app.worker_main(
        [
            "worker",
            "--queues",
            queue_name(slot),
            "--concurrency",
            str(threads),
            "--pool",
            "threads",
            "--hostname",
            f"{slot}-{os.getpid()}@%h",
            "--without-gossip",
            "--without-mingle",
            "--loglevel",
            "INFO",
        ]
    )


def serve_workers(broker: str, runs: Path, slots: dict[str, int]) -> int:
    """``facechain worker --broker``: one Celery worker process per slot class with slots, each in a
    process group of its own (with its jobs' processes); all stopped together on Ctrl-C or SIGTERM.
    Their jobs are then interrupted and run again elsewhere (training from its newest checkpoint)."""
    celery_app(broker)  # a missing Celery is said here, once
    children = [
        subprocess.Popen(
            [sys.executable, "-m", "facechain.jobs.broker", broker, str(runs), slot, str(count)],
            start_new_session=True,
        )
        for slot, count in slots.items()
        if count > 0
    ]

    def stop(*_):
        for child in children:
            try:
                os.killpg(child.pid, signal.SIGTERM)
            except ProcessLookupError:
                pass

    signal.signal(signal.SIGTERM, stop)
    try:
        return max((child.wait() for child in children), default=0)
    finally:
        stop()


if __name__ == "__main__":
    broker_url, runs_root, slot_class, thread_count = sys.argv[1:]
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    run_celery_worker(broker_url, Path(runs_root), slot_class, int(thread_count))
