"""diffusers ``DiffusionPipeline`` subclasses, usable on their own (``from pipelines import ...``):
``PortraitPipeline`` (base model + person LoRA + style LoRA as named adapters) and
``HumanMACPipeline`` (K motion futures by masked motion completion)."""

from .humanmac import HumanMACPipeline, MotionOutput
from .portrait import SCHEDULERS, PortraitPipeline

__all__ = ["HumanMACPipeline", "MotionOutput", "PortraitPipeline", "SCHEDULERS"]
