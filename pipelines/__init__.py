"""diffusers ``DiffusionPipeline`` subclasses, usable on their own (``from pipelines import ...``):
``PortraitPipeline`` (base model + person LoRA + style LoRA as named adapters) and
``HumanMACPipeline`` (K motion futures by masked motion completion)."""

from .humanmac import MOTION_SCHEDULERS, HumanMACPipeline, MotionOutput
from .portrait import SCHEDULERS, PortraitPipeline

__all__ = ["HumanMACPipeline", "MOTION_SCHEDULERS", "MotionOutput", "PortraitPipeline", "SCHEDULERS"]
