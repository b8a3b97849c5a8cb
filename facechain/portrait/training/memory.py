"""An up-front estimate of a training run's accelerator memory, so a run that cannot fit is refused before
any weight loads, with the flags that would make it fit.

The estimate adds, in bytes:
- weights on the accelerator: the denoiser's base weights (2 bytes each under mixed precision on CUDA,
  where they are cast, else 4), the text encoders' unless ``--cache-text`` parks them, the VAE's unless
  ``--cache-latents`` does, counted from the safetensors headers of the model folder (no weight read);
- the LoRA: weights and gradients in float32 (8 bytes) and AdamW's two moments (8 bytes; 2 with 8-bit
  AdamW);
- activations: what autograd keeps for the backward pass, found by running the denoiser with its LoRA on
  the meta device (no memory, no arithmetic) at the run's batch, resolution, precision and gradient
  checkpointing, and adding up the tensors it saves, the base weights left out (they are counted above).
  Attention is modelled as the memory-efficient kernels CUDA runs (PyTorch's flash / efficient
  scaled-dot-product attention), which keep queries, keys, values and output, not the N x N
  probabilities that the plain formula on the meta device would keep. Prior preservation doubles it;
- ``OVERHEAD``: the CUDA context and the allocator's slack.

It is a model, not a measurement: ``benchmarks/gpu_check.py`` records it beside the measured peak.
"""

from __future__ import annotations

import json
from contextlib import contextmanager
from dataclasses import replace
from pathlib import Path

import torch

from ...diffusion.architectures import build_on_meta
from ...diffusion.families import Family, safetensors_header
from .config import TrainConfig
from .lora_state import lora_config

GIB = 2**30
OVERHEAD = 1 * GIB
"""The CUDA context (some 300-500 MB with PyTorch's kernels loaded) and allocator fragmentation: an
assumption, not a measurement."""
TEXT_ENCODERS = ("text_encoder", "text_encoder_2")


def parameter_count(folder: Path) -> int:
    """Parameters in the safetensors files of a model-folder component, from their headers."""
    total = 0
    for file in sorted(Path(folder).glob("*.safetensors")):
        for entry in safetensors_header(file).values():
            count = 1
            for side in entry["shape"]:
                count *= side
            total += count
    return total


class FlashAttentionSaves(torch.autograd.Function):
    """Scaled-dot-product attention as the memory-efficient CUDA kernels keep it for backward: queries,
    keys, values and the output (their per-row log-sum-exp is negligible); meta tensors only."""

    @staticmethod
    def forward(ctx, query, key, value):
        out = query.new_empty(*query.shape[:-1], value.shape[-1])
        ctx.save_for_backward(query, key, value, out)
        return out

    @staticmethod
    def backward(ctx, grad):  # never run: the estimate makes no backward pass
        raise NotImplementedError


@contextmanager
def flash_attention():
    """``F.scaled_dot_product_attention`` as ``FlashAttentionSaves`` while the estimate runs."""
    import torch.nn.functional as functional

    plain = functional.scaled_dot_product_attention

    def attention(query, key, value, *args, **kwargs):
        return FlashAttentionSaves.apply(query, key, value)

    functional.scaled_dot_product_attention = attention
    try:
        yield
    finally:
        functional.scaled_dot_product_attention = plain


def meta_denoiser(model_dir: Path, family: Family, config: TrainConfig, dtype: torch.dtype):
    """The model's denoiser, from its config, with this run's LoRA, on the meta device."""
    from accelerate import init_empty_weights

    model = family.architecture.denoiser
    settings = json.loads((Path(model_dir) / family.architecture.denoiser_name / "config.json").read_text())
    denoiser = build_on_meta(replace(model, config=settings))
    with init_empty_weights():
        denoiser.add_adapter(lora_config(config, model.lora_targets))
    denoiser.to(dtype)
    if config.gradient_checkpointing:
        denoiser.enable_gradient_checkpointing()
    return denoiser.train()


def activation_bytes(denoiser, family: Family, config: TrainConfig, resolution: int, dtype: torch.dtype) -> int:
    """Bytes autograd keeps for backward in one forward pass of ``denoiser`` (meta) over a batch."""
    from .conditioning import Conditioning, flux_velocity

    base = {parameter for name, parameter in denoiser.named_parameters() if "lora_" not in name}
    saved = 0

    def keep(tensor):
        nonlocal saved
        if tensor not in base and (tensor._base is None or tensor._base not in base):
            saved += tensor.numel() * tensor.element_size()
        return tensor

    def meta(*shape):
        return torch.zeros(*shape, device="meta", dtype=dtype)

    batch, side = config.batch_size, resolution // 8
    settings = denoiser.config
    tokens = family.text_tokens
    with torch.autograd.graph.saved_tensors_hooks(keep, lambda tensor: tensor), flash_attention():
        if family.objective == "flow":
            conditioning = Conditioning(
                meta(batch, tokens, settings.joint_attention_dim), meta(batch, settings.pooled_projection_dim)
            )
            latents = meta(batch, settings.in_channels // 4, side, side)
            flux_velocity(denoiser, latents, meta(batch), conditioning, 1.0 if settings.guidance_embeds else None)
        else:
            pooled = None
            if settings.addition_embed_type:  # SDXL: the pooled projection beside six embedded size numbers
                width = settings.projection_class_embeddings_input_dim - 6 * settings.addition_time_embed_dim
                pooled = meta(batch, width)
            conditioning = Conditioning(meta(batch, tokens, settings.cross_attention_dim), pooled)
            arguments = conditioning.unet_arguments(resolution, batch)
            denoiser(meta(batch, settings.in_channels, side, side), meta(batch), **arguments)
    return saved * (2 if config.prior_preservation else 1)


def estimate(model_dir: Path, family: Family, config: TrainConfig, resolution: int, cuda: bool = True) -> int:
    """Accelerator bytes the run needs (module docstring); ``cuda``: whether mixed precision casts the base
    weights (it does where there is autocast: CUDA)."""
    model_dir = Path(model_dir)
    half = config.mixed_precision != "no"
    frozen = 2 if half else 4
    dtype = {"no": torch.float32, "fp16": torch.float16, "bf16": torch.bfloat16}[config.mixed_precision]
    denoiser = meta_denoiser(model_dir, family, config, dtype)
    lora = sum(p.numel() for name, p in denoiser.named_parameters() if "lora_" in name)
    weights = parameter_count(model_dir / family.architecture.denoiser_name) * (2 if half and cuda else 4)
    if not config.cache_text:
        weights += sum(parameter_count(model_dir / name) for name in TEXT_ENCODERS) * frozen
    if not config.cache_latents:
        weights += parameter_count(model_dir / "vae") * frozen
    state = lora * (8 + (2 if config.optimizer == "adamw8bit" else 8))
    return weights + state + activation_bytes(denoiser, family, config, resolution, dtype) + OVERHEAD


def remedies(config: TrainConfig):
    """(flags, changes) that bring a run's memory down, in the order to try (``--low-vram`` is all of them)."""
    yield "--gradient-checkpointing", {"gradient_checkpointing": True}
    if config.train_text_encoder:
        yield "--cache-latents", {"cache_latents": True}
    else:
        yield "--cache-latents --cache-text", {"cache_latents": True, "cache_text": True}
    yield "--mixed-precision bf16", {"mixed_precision": "bf16"}
    yield "--optimizer adamw8bit", {"optimizer": "adamw8bit"}


def fit_problem(model_dir: Path, family: Family, config: TrainConfig, resolution: int, available: int) -> str | None:
    """Why the run cannot fit in ``available`` bytes and which flags would make it fit; None when it fits."""
    needed = estimate(model_dir, family, config, resolution)
    if needed <= available:
        return None
    message = (
        f"this run needs about {needed / GIB:.1f} GiB of accelerator memory and {available / GIB:.1f} GiB are "
        f"there ({family.title} at {resolution} px, batch {config.batch_size})"
    )
    flags, changed = [], config
    for flag, change in remedies(config):
        if all(getattr(changed, key) == value for key, value in change.items()):
            continue
        changed, flags = replace(changed, **change), [*flags, flag]
        after = estimate(model_dir, family, changed, resolution)
        if after <= available:
            return f"{message}: add {' '.join(flags)} (about {after / GIB:.1f} GiB)"
    return f"{message}, even with {' '.join(flags) or 'these settings'}: use a smaller --resolution or a larger card"
