"""Every kind of job, by name: the class of slot it runs in and the function that runs it.

A kind's function is named by its module path and imported only in the job's process, so the app's
server never loads torch or a model for a job, and the product does not import the lab (the lab's kind,
``facechain.lab.job``, is named here, not imported). Each function has the signature
``run(params, workspace, settings, progress) -> dict``: ``params`` name things inside the workspace (never
paths), and the JSON-able result is what the app turns into its view.

Resumption after a worker died (``store.recover``): training resumes from its newest checkpoint (the
trainer's resume ends with the weights of an uninterrupted run); the other kinds are short and write
their outputs whole (``facechain.atomic``), so they simply run again.
"""

from __future__ import annotations

import importlib
from collections.abc import Callable
from dataclasses import dataclass

from ..errors import BadArguments


@dataclass(frozen=True)
class JobKind:
    """slot: the class of slot it runs in ("gpu": training and generation, one per accelerator; "cpu": the
    rest). target: ``"module:function"`` that runs it."""

    name: str
    slot: str
    target: str

    @property
    def run(self) -> Callable:
        module, _, function = self.target.partition(":")
        return getattr(importlib.import_module(module), function)


KINDS: dict[str, JobKind] = {
    kind.name: kind
    for kind in (
        JobKind("prepare", "cpu", "facechain.jobs.portrait:run_prepare"),
        JobKind("train", "gpu", "facechain.jobs.portrait:run_train"),
        JobKind("generate", "gpu", "facechain.jobs.portrait:run_generate"),
        JobKind("face_map", "cpu", "facechain.jobs.face_map:run_face_map"),
        JobKind("motion", "cpu", "facechain.jobs.motion:run_motion"),
        JobKind("lab", "cpu", "facechain.lab.job:run_lab"),
    )
}


def kind(name: str) -> JobKind:
    if name not in KINDS:
        raise BadArguments(f"unknown job kind '{name}'; there are {', '.join(KINDS)}")
    return KINDS[name]


__all__ = ["KINDS", "JobKind", "kind"]
