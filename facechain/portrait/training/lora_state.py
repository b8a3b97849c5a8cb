"""The trainable LoRA tensors of a run: gathered for checkpoints, restored on resume, and saved as
``pytorch_lora_weights.safetensors`` in the layout plain diffusers loads."""

from __future__ import annotations

from pathlib import Path

import torch

from ...atomic import staged_file
from ..model_folder import LORA_FILE
from .config import TrainingError


def lora_config(config, targets):
    """The run's LoRA (``TrainConfig``'s rank and alpha, Gaussian initialisation) on the modules named
    ``targets``: for training, and for the memory estimate's meta-device model."""
    from peft import LoraConfig

    return LoraConfig(
        r=config.rank,
        lora_alpha=config.alpha or config.rank,
        init_lora_weights="gaussian",
        target_modules=list(targets),
    )


def trainable_tensors(accelerator, wrapped: dict) -> dict[str, torch.Tensor]:
    """``{"unet.<key>": tensor, "text_encoder.<key>": ...}`` for every LoRA tensor."""
    return {
        f"{name}.{key}": value
        for name, module in wrapped.items()
        for key, value in accelerator.unwrap_model(module).state_dict().items()
        if "lora_" in key
    }


def load_trainable(modules: dict, tensors: dict[str, torch.Tensor]) -> None:
    """Put checkpointed LoRA tensors back into the (unwrapped) modules."""
    for name, module in modules.items():
        prefix = f"{name}."
        own = {key[len(prefix) :]: value for key, value in tensors.items() if key.startswith(prefix)}
        missing = [key for key in module.state_dict() if "lora_" in key and key not in own]
        if missing:
            raise TrainingError(
                f"checkpoint does not match this configuration (missing {missing[0]}): "
                f"same --rank and --train-text-encoder as the interrupted run?"
            )
        module.load_state_dict(own, strict=False)


def save_lora(accelerator, wrapped: dict, out: Path, pipeline: str = "StableDiffusionPipeline") -> Path:
    """``out/pytorch_lora_weights.safetensors`` with each adapter's config as metadata (rank, alpha), written
    by the family's diffusers ``pipeline`` class (its key layout is what that pipeline loads)."""
    import diffusers
    from diffusers.utils import convert_state_dict_to_diffusers
    from peft.utils import get_peft_model_state_dict

    modules = {name: accelerator.unwrap_model(module) for name, module in wrapped.items()}
    layers = {
        f"{name}_lora_layers": convert_state_dict_to_diffusers(get_peft_model_state_dict(module))
        for name, module in modules.items()
    }
    metadata = {
        f"{name}_lora_adapter_metadata": module.peft_config["default"].to_dict() for name, module in modules.items()
    }
    with staged_file(out / LORA_FILE) as staging:
        getattr(diffusers, pipeline).save_lora_weights(
            staging.parent, weight_name=staging.name, **layers, **metadata, safe_serialization=True
        )
    return out / LORA_FILE
