"""diffusers ``DiffusionPipeline`` subclasses, usable on their own (``from pipelines import ...``):
``PortraitPipeline`` / ``PortraitXLPipeline`` / ``PortraitFluxPipeline`` (SD 1.x / SDXL / FLUX.1 base model
+ person LoRA + style LoRA as named adapters) and
``HumanMACPipeline`` (K motion futures by masked motion completion).

This package and ``models`` import nothing from ``facechain``; ``facechain`` builds on them. The
pipelines load torch and diffusers on first use, so ``pipelines.schedulers`` and
``pipelines.lora_files`` stay cheap to import (the CLI names solvers without loading torch).
"""

from .lora_files import LORA_WEIGHTS, LoraFileError, check_lora_file
from .schedulers import MOTION_SOLVERS, PORTRAIT_SOLVERS, Solver

_PIPELINES = {
    "HumanMACPipeline": "humanmac",
    "MotionOutput": "humanmac",
    "PortraitFluxPipeline": "portrait",
    "PortraitPipeline": "portrait",
    "PortraitXLPipeline": "portrait",
}

__all__ = [
    "HumanMACPipeline",
    "LORA_WEIGHTS",
    "LoraFileError",
    "MOTION_SOLVERS",
    "MotionOutput",
    "PORTRAIT_SOLVERS",
    "PortraitFluxPipeline",
    "PortraitPipeline",
    "PortraitXLPipeline",
    "Solver",
    "check_lora_file",
]


def __getattr__(name: str):
    if name in _PIPELINES:
        import importlib

        return getattr(importlib.import_module(f".{_PIPELINES[name]}", __name__), name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
