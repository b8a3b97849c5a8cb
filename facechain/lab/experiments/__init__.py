"""The lab's experiments, one module per method, each defining ``EXPERIMENT`` (a
``facechain.lab.harness.experiment.Experiment``). A new module is found without being listed."""

from __future__ import annotations

import importlib
import pkgutil

from ..harness.experiment import Experiment


def all_experiments() -> dict[str, Experiment]:
    """name -> Experiment, sorted by name."""
    found = {}
    for info in pkgutil.iter_modules(__path__):
        experiment = getattr(importlib.import_module(f"{__name__}.{info.name}"), "EXPERIMENT", None)
        if isinstance(experiment, Experiment):
            found[experiment.name] = experiment
    return dict(sorted(found.items()))


__all__ = ["all_experiments"]
