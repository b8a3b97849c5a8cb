"""Trained model -> ranked portraits: the request (``request``, no torch), style presets (``styles``),
the prompt pair (``prompts``), LoRA files (``lora_files``), sampling with the pipeline (``generate``)
and the likeness judgement (``ranking``). Only the torch-free parts are imported here."""

from .request import GenerationError, GenerationRequest
from .styles import DEFAULT_STYLE, Style, StyleError, load_styles

__all__ = ["DEFAULT_STYLE", "GenerationError", "GenerationRequest", "Style", "StyleError", "load_styles"]
