"""Training set -> LoRA digital twin: the run's options (``config``, no torch), the loop (``trainer``),
its data (``data``), DreamBooth class images (``prior``), the LoRA tensors (``lora_state``), the kohya
export (``kohya``) and the model card (``model_card``). Only ``config`` is imported here: the rest
loads torch and diffusers."""

from .config import TrainConfig, TrainingError, TrainingOutOfMemory

__all__ = ["TrainConfig", "TrainingError", "TrainingOutOfMemory"]
