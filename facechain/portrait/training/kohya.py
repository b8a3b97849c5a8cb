"""Export a trained LoRA in the kohya (sd-scripts) layout that A1111 and ComfyUI load.

kohya names each LoRA after the module it patches in the network sd-scripts trains, for each model
family (``facechain.diffusion.kohya_names``: diffusers' paths for SD 1.5, the SGM UNet's for SDXL,
Black Forest Labs' fused layers for FLUX.1), with ``lora_down``/``lora_up`` for diffusers'
``lora.down``/``lora.up`` (PEFT's ``lora_A``/``lora_B``) and a scalar ``alpha`` per layer, since kohya
scales by alpha / rank. A fused FLUX.1 layer of n parts has rank n * r and alpha n * alpha, so each part
keeps its alpha / r; a part the LoRA did not adapt (a single block's MLP input, beside the adapted q, k,
v) is zero. diffusers' kohya loaders map every key back onto the module it came from
(tests/test_real_architectures.py, on the real architectures).
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path

import torch
from safetensors import safe_open
from safetensors.torch import save_file

from ...atomic import staged_file
from ...diffusion.architectures import architecture
from ...diffusion.kohya_names import BASE_MODEL_VERSIONS, kohya_module
from ..model_folder import KOHYA_FILE

SIDES = {
    ".lora.down.weight": "down",
    ".lora.up.weight": "up",
    ".lora_linear_layer.down.weight": "down",
    ".lora_linear_layer.up.weight": "up",
    ".lora_A.weight": "down",
    ".lora_B.weight": "up",
}
"""diffusers' LoRA key endings (its own two spellings and PEFT's) -> which matrix of the pair."""
DOWNS = tuple(ending for ending, side in SIDES.items() if side == "down")


def kohya_state_dict(
    diffusers_state: dict[str, torch.Tensor], alphas: dict[str, float], family: str = "sd15"
) -> dict[str, torch.Tensor]:
    """diffusers-format LoRA tensors of a ``family`` model -> kohya tensors; ``alphas`` maps each
    component ("unet", "text_encoder", ...) to its alpha. The default family, sd15, also names the tiny
    model, whose UNet has SD 1.5's layout."""
    layers: dict[str, Layer] = {}
    for key, tensor in diffusers_state.items():
        component, _, rest = key.partition(".")
        ending = next((e for e in SIDES if rest.endswith(e)), None)
        if ending is None:
            raise ValueError(f"not a diffusers LoRA key: {key}")
        target = kohya_module(family, component, rest[: -len(ending)])
        layer = layers.setdefault(target.name, Layer(target.name, alphas[component], target.widths))
        layer.parts.setdefault(target.part, {})[SIDES[ending]] = tensor
    converted: dict[str, torch.Tensor] = {}
    for name, layer in layers.items():
        down, up = layer.matrices()
        converted[name + ".lora_down.weight"] = down.contiguous()
        converted[name + ".lora_up.weight"] = up.contiguous()
        converted[name + ".alpha"] = torch.tensor(float(layer.alpha * max(1, len(layer.widths))))
    return converted


@dataclass
class Layer:
    """One kohya layer as it is gathered: its alpha, the output widths of its parts if it is fused, and
    each part's "down" and "up" matrices."""

    name: str
    alpha: float
    widths: tuple[int, ...]
    parts: dict[int, dict[str, torch.Tensor]] = field(default_factory=dict)

    def matrices(self) -> tuple[torch.Tensor, torch.Tensor]:
        """(down, up): a plain layer's own; a fused layer's stacked downs and its ups on the diagonal
        (zeros for a part the LoRA did not adapt), so up @ down holds each part's up @ down in its rows."""
        for part, pair in self.parts.items():
            if len(pair) != 2:
                raise ValueError(f"the LoRA of {self.name} (part {part}) has only its {next(iter(pair))} matrix")
        if not self.widths:
            return self.parts[0]["down"], self.parts[0]["up"]
        down = next(iter(self.parts.values()))["down"]
        rank, count = down.shape[0], len(self.widths)
        fused_down = down.new_zeros(rank * count, down.shape[1])
        fused_up = down.new_zeros(sum(self.widths), rank * count)
        for part, pair in self.parts.items():
            if pair["down"].shape != down.shape or pair["up"].shape != (self.widths[part], rank):
                raise ValueError(
                    f"the LoRA of {self.name} (part {part}) is {tuple(pair['down'].shape)} -> "
                    f"{tuple(pair['up'].shape)}, not rank {rank} with {self.widths[part]} outputs: "
                    "is it a LoRA of this model family?"
                )
            start = sum(self.widths[:part])
            fused_down[rank * part : rank * (part + 1)] = pair["down"]
            fused_up[start : start + self.widths[part], rank * part : rank * (part + 1)] = pair["up"]
        return fused_down, fused_up


def read_alphas(lora_file: Path) -> dict[str, float]:
    """LoRA alpha per component from the adapter metadata diffusers stores in the file (alpha = rank
    when absent, PEFT's default)."""
    with safe_open(str(lora_file), "pt") as handle:
        metadata = handle.metadata() or {}
        ranks = {
            key.split(".")[0]: handle.get_slice(key).get_shape()[0] for key in handle.keys() if key.endswith(DOWNS)
        }
    config = json.loads(metadata.get("lora_adapter_metadata") or "{}")  # "<component>.<LoraConfig field>"
    return {component: float(config.get(f"{component}.lora_alpha", rank)) for component, rank in ranks.items()}


def export_kohya(lora_file: str | Path, out: str | Path | None = None, family: str = "sd15") -> Path:
    """Write the kohya version of a diffusers LoRA file (``pytorch_lora_weights.safetensors``) of a
    ``family`` model (sd15, the default, also for the tiny model; sdxl; flux1)."""
    lora_file = Path(lora_file)
    out = Path(out) if out else lora_file.with_name(KOHYA_FILE)
    from safetensors.torch import load_file

    alphas = read_alphas(lora_file)
    diffusers_state = load_file(str(lora_file))
    state = kohya_state_dict(diffusers_state, alphas, family)
    rank = next(t.shape[0] for k, t in diffusers_state.items() if k.endswith(DOWNS))
    with staged_file(out) as staging:
        save_file(
            state,
            str(staging),
            metadata={
                "ss_network_module": "networks.lora",
                "ss_network_dim": str(rank),
                "ss_network_alpha": str(alphas.get(architecture(family).denoiser_name, rank)),
                "ss_base_model_version": BASE_MODEL_VERSIONS[family],
            },
        )
    return out
