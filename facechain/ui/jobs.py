"""How a tab runs its long work: it queues a job in the user's workspace and follows it.

``follow`` polls the job's row and yields it after each change, moving the handler's progress bar
("queued: 2nd in line", then the job's own steps); the tab turns the final row into its view. When the
browser goes away the generator is simply closed: the job goes on, and the tabs show its results when
the page is opened again. Cancel marks the row; the job stops at its next step.
"""

from __future__ import annotations

import time
from collections.abc import Iterator

import gradio as gr

from ..jobs import KINDS, Job
from ..workspace import Workspace

POLL_SECONDS = 0.5


def submit(context, workspace: Workspace, kind: str, params: dict) -> Job:
    return context.jobs.submit(workspace.id, kind, KINDS[kind].slot, params)


def waiting_text(context, job: Job) -> str:
    if job.status in ("queued", "interrupted"):
        position = context.jobs.position(job)
        ahead = f"{position - 1} job{'s' if position != 2 else ''} ahead" if position and position > 1 else "next"
        again = " (resumes after an interruption)" if job.status == "interrupted" else ""
        return f"Queued{again}: {ahead}."
    if job.status == "running" and job.total:
        return f"{job.kind.capitalize()}: {job.step}/{job.total}" + (f" · {job.message}" if job.message else "")
    return f"{job.kind.capitalize()}: {job.status}..."


def follow(context, job: Job, progress=None, unit: str = "step") -> Iterator[Job]:
    """Yield the job each time it changes, until it has ended; the progress bar follows it."""
    seen = None
    while True:
        job = context.jobs.get(job.id)
        state = (job.status, job.step, job.total, job.message)
        if state != seen:
            seen = state
            if progress is not None:
                fraction = job.fraction if job.status == "running" else None
                progress(
                    fraction,
                    desc=waiting_text(context, job)
                    if job.status != "running"
                    else f"{unit} {job.step}/{job.total or '?'}",
                )
            yield job
        if job.done:
            return
        time.sleep(POLL_SECONDS)


def ended(job: Job) -> Job:
    """The finished job, or its failure shown as the tab's error."""
    if job.status == "failed":
        raise gr.Error(job.error or "the job failed", print_exception=False)
    if job.status == "cancelled":
        raise gr.Error("Cancelled. Whatever was finished is kept.", print_exception=False)
    return job


def newest_job(context, workspace: Workspace, kind: str) -> Job | None:
    jobs = [job for job in context.jobs.list(workspace.id, limit=50) if job.kind == kind]
    return jobs[0] if jobs else None


__all__ = ["ended", "follow", "newest_job", "submit", "waiting_text"]
