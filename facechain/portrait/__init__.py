"""Portraits of a person, stage by stage: ``prepare`` photos into a dataset (``dataset``), ``train`` a
LoRA digital twin on it (``training``), ``generate`` styled portraits ranked by likeness
(``generation``). ``model_folder`` owns the layout of a trained model folder, which joins the last two.

    from facechain.portrait import GenerationRequest, TrainConfig, generate, prepare, train

    prepare(["~/photos"], "runs/me/dataset")
    train(TrainConfig(dataset="runs/me/dataset", out="runs/me/model"))
    generate(GenerationRequest(model="runs/me/model", style="headshot", count=4))

``train`` and ``generate`` (and their result types) load torch and diffusers on first use, so
preparing photos, and building a request or a configuration, does not pay for them.
"""

from .dataset.prepare import NoUsablePhotos, PhotoReport, PreparedDataset, prepare
from .generation.request import GenerationError, GenerationRequest
from .model_folder import NotATrainedModel, TrainedModel
from .training.config import TrainConfig, TrainingError

_LAZY = {
    "train": "training.trainer",
    "TrainResult": "training.trainer",
    "generate": "generation.generate",
    "Generation": "generation.generate",
    "Portrait": "generation.generate",
    "write_generation": "generation.generate",
}

__all__ = [
    "GenerationError",
    "GenerationRequest",
    "NoUsablePhotos",
    "NotATrainedModel",
    "PhotoReport",
    "PreparedDataset",
    "TrainConfig",
    "TrainedModel",
    "TrainingError",
    "prepare",
    *_LAZY,
]


def __getattr__(name: str):
    if name in _LAZY:
        import importlib

        return getattr(importlib.import_module(f".{_LAZY[name]}", __name__), name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
