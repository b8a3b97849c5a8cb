"""A LoRA file is checked before anything loads it: only safetensors pass, because a pickled
``.bin``/``.pt``/``.ckpt`` can run code when it is opened; such a file is refused by name, never opened."""

from __future__ import annotations

import re
from pathlib import Path

HUB_ID = re.compile(r"^[A-Za-z0-9][\w.-]*/[\w.-]+$")
"""A Hugging Face repo id, "owner/name"."""

LORA_WEIGHTS = "pytorch_lora_weights.safetensors"
"""The file diffusers saves a LoRA as, and looks for in a folder."""


class LoraFileError(ValueError):
    """A LoRA file that cannot be used; the message names the file and what to do."""


def check_lora_file(path: Path) -> None:
    """Raise ``LoraFileError`` unless ``path`` is a readable safetensors file holding LoRA tensors.

    Args:
        path: the file to check; it is opened only if its name ends in ``.safetensors``.
    """
    from safetensors import safe_open

    path = Path(path)
    if not path.is_file():
        raise LoraFileError(f"{path}: no such LoRA file")
    if path.suffix != ".safetensors":
        raise LoraFileError(
            f"{path}: only .safetensors LoRA files are loaded (pickled {path.suffix or 'files'} can "
            f"run code when opened); convert it with safetensors first"
        )
    try:
        with safe_open(str(path), framework="pt") as weights:
            keys = list(weights.keys())
    except Exception as error:  # safetensors raises several types for a damaged header
        raise LoraFileError(f"{path}: not a readable safetensors file ({error})") from None
    if not any("lora" in key for key in keys):
        raise LoraFileError(f"{path}: holds no LoRA tensors (no lora_A/lora_B or lora_down/lora_up keys)")
