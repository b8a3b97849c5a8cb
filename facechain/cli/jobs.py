"""``facechain jobs list|show|cancel`` and ``facechain worker``: the app's job queue from the terminal.

The queue is the SQLite file under the app's runs folder (``--runs``, as ``facechain serve``): these
commands see every workspace's jobs, so they are for the operator of the machine, not for app users.
"""

from __future__ import annotations

import argparse
import time
from pathlib import Path

from .common import add_command

RUNS_HELP = "the app's runs folder (as `facechain serve --runs`), which holds jobs.sqlite3"


def add_jobs_commands(commands) -> None:
    jobs = add_command(
        commands,
        "jobs",
        "list, show or cancel the app's jobs (prepare, train, generate)",
        "The app's persistent job queue: every job with its owner (a workspace id), kind, status, progress "
        "and result. Statuses: queued, running, succeeded, failed, cancelled, interrupted (its process died; "
        "it runs again, training from its newest checkpoint).",
    )
    actions = jobs.add_subparsers(dest="action", required=True, metavar="ACTION")
    listing = add_command(actions, "list", "the newest jobs, one line each")
    listing.add_argument("--runs", type=Path, default=Path("runs"), help=RUNS_HELP)
    listing.add_argument(
        "--status",
        choices=("queued", "running", "succeeded", "failed", "cancelled", "interrupted"),
        help="only jobs with this status (default: all)",
    )
    listing.add_argument("--limit", type=int, default=30, help="most jobs listed")
    listing.set_defaults(run=run_list)
    show = add_command(actions, "show", "one job: parameters, progress, result or error, and its log's end")
    show.add_argument("job", help="job id (from `facechain jobs list`)")
    show.add_argument("--runs", type=Path, default=Path("runs"), help=RUNS_HELP)
    show.add_argument("--log-lines", type=int, default=20, help="lines of the job's log shown")
    show.set_defaults(run=run_show)
    cancel = add_command(actions, "cancel", "cancel a job: a queued one at once, a running one at its next step")
    cancel.add_argument("job", help="job id (from `facechain jobs list`)")
    cancel.add_argument("--runs", type=Path, default=Path("runs"), help=RUNS_HELP)
    cancel.set_defaults(run=run_cancel)

    worker = add_command(
        commands,
        "worker",
        "run the app's queued jobs on this machine (besides or instead of the app's own workers)",
        "Take jobs from the queue under --runs and run each in its own process, as many at once as --slots "
        "allows, until Ctrl-C (running jobs are then interrupted and run again later, training from its "
        "checkpoint). Without --broker it takes from the queue database directly (the app runs such workers "
        "itself; start this for more slots, or serve the app with FACECHAIN_SLOTS=gpu=0,cpu=0). With --broker "
        "it is a Celery worker, on any machine that mounts the app's runs folder: serve the app with "
        "FACECHAIN_BROKER set to the same URL.",
    )
    worker.add_argument("--runs", type=Path, default=Path("runs"), help=RUNS_HELP)
    worker.add_argument("--slots", default="", help="jobs at once per slot class, e.g. gpu=1,cpu=2 (default: 1 each)")
    worker.add_argument(
        "--broker", help="Redis URL of the app's broker, e.g. redis://HOST:6379/0 (needs the workers extra)"
    )
    worker.set_defaults(run=run_worker)


def store(runs: Path):
    from ..errors import BadArguments
    from ..jobs.store import JobStore

    if not (runs / "jobs.sqlite3").is_file():
        raise BadArguments(f"{runs} holds no job queue (jobs.sqlite3): pass the app's --runs folder")
    return JobStore(runs / "jobs.sqlite3")


def when(stamp: float | None) -> str:
    return time.strftime("%Y-%m-%d %H:%M:%S", time.localtime(stamp)) if stamp else "-"


def job_detail(job, position: int | None) -> str:
    """The list's last column: queue position, progress, error or result, whichever the status makes useful."""
    if position:
        return f"position {position} in its slot's queue"
    if job.status == "running":
        return f"{job.step}/{job.total or '?'} {job.message}".strip()
    if job.error:
        return job.error
    if job.result:
        return ", ".join(f"{key}={value}" for key, value in job.result.items() if not isinstance(value, list | dict))
    return job.message


def run_list(args: argparse.Namespace) -> int:
    from ..jobs.store import STATUSES

    if not (args.runs / "jobs.sqlite3").is_file():
        print(f"(no jobs: {args.runs} holds no job queue yet; the app makes it with its first job)")
        return 0
    queue = store(args.runs)
    jobs = queue.list(statuses=(args.status,) if args.status else STATUSES, limit=args.limit)
    print(f"{'job':16}  {'owner':8}  {'kind':8}  {'status':11}  {'created':19}  progress / result")
    for job in jobs:
        detail = job_detail(job, queue.position(job))
        print(f"{job.id:16}  {job.owner[:8]:8}  {job.kind:8}  {job.status:11}  {when(job.created)}  {detail}")
    if not jobs:
        print("(no jobs)")
    return 0


def run_show(args: argparse.Namespace) -> int:
    import json

    queue = store(args.runs)
    job = queue.get(args.job)
    print(f"job {job.id}: {job.kind}, {job.status} (attempt {job.attempts})")
    print(f"owner     {job.owner}")
    print(f"created   {when(job.created)}   started {when(job.started)}   finished {when(job.finished)}")
    if job.total:
        print(f"progress  {job.step}/{job.total}  {job.message}")
    print(f"params    {json.dumps(job.params)}")
    if job.result is not None:
        print(f"result    {json.dumps(job.result)}")
    if job.error:
        print(f"error     {job.error}")
    log = args.runs / "jobs" / "logs" / f"{job.id}.log"
    if log.is_file() and args.log_lines > 0:
        print(f"--- last {args.log_lines} lines of {log}")
        print("\n".join(log.read_text(encoding="utf-8", errors="replace").splitlines()[-args.log_lines :]))
    return 0


def run_cancel(args: argparse.Namespace) -> int:
    job = store(args.runs).cancel(args.job)
    print(
        f"job {job.id}: {job.status}"
        + (" (cancel asked for: it stops at its next step)" if job.status == "running" else "")
    )
    return 0


def run_worker(args: argparse.Namespace) -> int:
    from ..config import Settings
    from ..jobs.supervisor import EmbeddedWorkers, parse_slots

    slots = parse_slots(args.slots)
    if args.broker:
        from ..jobs.broker import celery_app, serve_workers

        celery_app(args.broker)  # a missing Celery is said before anything starts
        print(f"worker: Celery on {args.broker} for slots {slots}, jobs' files under {args.runs}; Ctrl-C stops")
        return serve_workers(args.broker, args.runs, slots)
    workers = EmbeddedWorkers(args.runs, Settings.from_env(), slots).start()
    print(f"worker {workers.name}: taking jobs from {args.runs / 'jobs.sqlite3'} with slots {slots}; Ctrl-C stops")
    try:
        while True:
            time.sleep(3600)
    finally:
        workers.stop()
