"""Export a trained LoRA in the kohya (sd-scripts) layout that A1111 and ComfyUI load.

kohya names each LoRA after the module it patches, dots turned to underscores, under ``lora_unet_``
or ``lora_te_``, with ``lora_down``/``lora_up`` for diffusers' ``lora.down``/``lora.up`` (PEFT's
``lora_A``/``lora_B``) and a scalar ``alpha`` per module, since kohya scales by alpha / rank.
"""

from __future__ import annotations

import json
from pathlib import Path

import torch
from safetensors import safe_open
from safetensors.torch import save_file

from ...atomic import staged_file
from ..model_folder import KOHYA_FILE

PREFIXES = {"unet.": "lora_unet_", "text_encoder.": "lora_te_"}
ENDINGS = {
    ".lora.down.weight": ".lora_down.weight",
    ".lora.up.weight": ".lora_up.weight",
    ".lora_linear_layer.down.weight": ".lora_down.weight",
    ".lora_linear_layer.up.weight": ".lora_up.weight",
}


def kohya_state_dict(diffusers_state: dict[str, torch.Tensor], alphas: dict[str, float]) -> dict[str, torch.Tensor]:
    """diffusers-format LoRA tensors -> kohya tensors; ``alphas`` maps "unet"/"text_encoder" to alpha."""
    converted: dict[str, torch.Tensor] = {}
    for key, tensor in diffusers_state.items():
        prefix = next((p for p in PREFIXES if key.startswith(p)), None)
        ending = next((e for e in ENDINGS if key.endswith(e)), None)
        if prefix is None or ending is None:
            raise ValueError(f"not a diffusers LoRA key: {key}")
        module = key[len(prefix) : -len(ending)]
        if prefix == "text_encoder." and not module.startswith("text_model."):
            module = "text_model." + module  # kohya names CLIP layers from the text_model root
        module = module.replace(".", "_")
        name = PREFIXES[prefix] + module
        converted[name + ENDINGS[ending]] = tensor.contiguous()
        converted[name + ".alpha"] = torch.tensor(float(alphas[prefix[:-1]]))
    return converted


def read_alphas(lora_file: Path) -> dict[str, float]:
    """LoRA alpha per component from the adapter metadata diffusers stores in the file (alpha = rank
    when absent, PEFT's default)."""
    with safe_open(str(lora_file), "pt") as handle:
        metadata = handle.metadata() or {}
        ranks = {
            key.split(".")[0]: handle.get_slice(key).get_shape()[0]
            for key in handle.keys()
            if key.endswith((".lora.down.weight", ".lora_linear_layer.down.weight"))
        }
    config = json.loads(metadata.get("lora_adapter_metadata") or "{}")  # "<component>.<LoraConfig field>"
    return {component: float(config.get(f"{component}.lora_alpha", rank)) for component, rank in ranks.items()}


def export_kohya(lora_file: str | Path, out: str | Path | None = None) -> Path:
    """Write the kohya version of a diffusers LoRA file (``pytorch_lora_weights.safetensors``)."""
    lora_file = Path(lora_file)
    out = Path(out) if out else lora_file.with_name(KOHYA_FILE)
    from safetensors.torch import load_file

    alphas = read_alphas(lora_file)
    state = kohya_state_dict(load_file(str(lora_file)), alphas)
    rank = next(t.shape[0] for k, t in state.items() if k.endswith(".lora_down.weight"))
    with staged_file(out) as staging:
        save_file(
            state,
            str(staging),
            metadata={
                "ss_network_module": "networks.lora",
                "ss_network_dim": str(rank),
                "ss_network_alpha": str(alphas.get("unet", rank)),
            },
        )
    return out
