"""Recognition and robustness methods, one package each, each citing its paper: ``<method>/__init__.py``
is the reusable piece (a loss, a head, a sampler, a step), ``<method>/experiment.py`` beside it defines
``EXPERIMENT``, the test of the paper's claim against its baseline (found by ``all_experiments``
without being listed). ``harness`` is what the experiments share.

The pieces the product uses are product modules that the lab imports (``portrait.dataset.diversity``,
``facechain.mapping``, ``faces.quality_score``), never the reverse. ``digit_world`` is the small world
(digits with measurable attributes, and a judge) in which SuDe's claim is tested.
"""

from __future__ import annotations

import importlib
import importlib.util
import pkgutil


def all_experiments() -> dict:
    """name -> ``harness.experiment.Experiment`` of every method package with an ``experiment`` module,
    sorted by name (each experiment module is imported; the harness loads torch)."""
    from .harness.experiment import Experiment

    found = {}
    for info in pkgutil.iter_modules(__path__):
        if not info.ispkg or importlib.util.find_spec(f"{__name__}.{info.name}.experiment") is None:
            continue
        experiment = getattr(importlib.import_module(f"{__name__}.{info.name}.experiment"), "EXPERIMENT", None)
        if isinstance(experiment, Experiment):
            found[experiment.name] = experiment
    return dict(sorted(found.items()))


__all__ = ["all_experiments"]
