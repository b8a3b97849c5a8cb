"""Portraits of a person: ``prepare`` photos into a dataset, ``train`` a LoRA digital twin on it.

``train`` (and its result and error types) load torch and diffusers on first use, so preparing
photos does not pay for them.
"""

from .prepare import NoUsablePhotos, PhotoReport, PreparedDataset, prepare
from .train_config import TrainConfig

_TRAINER_NAMES = ("train", "TrainResult", "TrainingError")

__all__ = ["NoUsablePhotos", "PhotoReport", "PreparedDataset", "TrainConfig", "prepare", *_TRAINER_NAMES]


def __getattr__(name: str):
    if name in _TRAINER_NAMES:
        from . import trainer

        return getattr(trainer, name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
