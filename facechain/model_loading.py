"""One model load at a time in a process.

diffusers' and transformers' ``from_pretrained`` build a model under an empty-weights context that
replaces parts of torch (``nn.Module.register_parameter``, tensor constructors) for the whole process,
then puts back what it found. Two loads in parallel threads interleave: the second one saves the first
one's replacement as "the original" and restores that at its end, so every ``nn.Linear`` created later,
by anyone, lands on the meta device. Seen in the app: a training and a generation started together
broke training for the whole server until a restart; 4 threads loading the tiny model did it in 3 of 3
runs here. The app's jobs now run in processes of their own (``facechain.jobs``); within a process, every
load (and every build of a model from a config) still holds ``model_loading()``, for the Python API used
from threads; it is re-entrant, so a load inside a load (the tiny model built on first use) is fine.
"""

from __future__ import annotations

import threading
from contextlib import contextmanager

from .quiet import quiet_loading_bars

MODEL_LOADING = threading.RLock()


@contextmanager
def model_loading(libraries: tuple[str, ...] = ("transformers", "diffusers")):
    """Hold the process's model-loading lock (and drop the nested loading bars of ``libraries``, the
    ones this load uses, where the CLI or the app asked for a quiet console)."""
    with MODEL_LOADING:
        quiet_loading_bars(libraries)
        yield
