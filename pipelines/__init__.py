"""diffusers ``DiffusionPipeline`` subclasses, usable on their own (``from pipelines import ...``):
``PortraitPipeline`` (base model + person LoRA + style LoRA as named adapters). HumanMAC motion
sampling arrives with the motion work."""

from .portrait import SCHEDULERS, PortraitPipeline

__all__ = ["SCHEDULERS", "PortraitPipeline"]
