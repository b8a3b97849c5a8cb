"""The real architectures of the three model families, from their published configs, buildable without weights.

Each family's denoiser (and the text encoders a LoRA may adapt) is written here as its published
``config.json`` (bookkeeping keys such as ``_class_name`` and ``torch_dtype`` left out, JSON arrays as
tuples):

- sd15:  ``stable-diffusion-v1-5/stable-diffusion-v1-5`` unet/, vae/, text_encoder/ (CLIP ViT-L/14's text
         tower, also the text_encoder of SDXL and FLUX.1)
- sdxl:  ``stabilityai/stable-diffusion-xl-base-1.0`` unet/, text_encoder_2/ (OpenCLIP ViT-bigG/14's text tower)
- flux1: ``black-forest-labs/FLUX.1-dev`` transformer/ (its T5-XXL text_encoder_2 is left out: neither
         diffusers' nor kohya's default LoRA training adapts it)

``build_on_meta`` builds one on the meta device (``accelerate.init_empty_weights``): shapes and module
names without memory, in about a second for FLUX.1. Built so, the parameter counts are the published
ones: SD 1.5 UNet 859,520,964, SDXL base UNet 2,567,463,684, FLUX.1-dev transformer 11,901,408,320 (also
SD 1.5's VAE 83,653,863, CLIP-L text 123,060,480, bigG text with projection 694,659,840).

LoRA targets are what a LoRA of the family adapts: for SD 1.5 and SDXL the UNet's attention projections
(facechain's trainer; 128 modules in SD 1.5, 560 in SDXL); for FLUX.1 the default of diffusers'
train_dreambooth_lora_flux.py: the joint blocks' image and text attention and both feed-forwards, and
the single blocks' q, k, v (342 modules); for the CLIP text encoders q, k, v and out projections (48 in
CLIP-L, 128 in bigG). Matching is PEFT's: a module whose name is a target or ends with "." + target.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

SD15_UNET = {
    "act_fn": "silu",
    "attention_head_dim": 8,
    "block_out_channels": (320, 640, 1280, 1280),
    "center_input_sample": False,
    "cross_attention_dim": 768,
    "down_block_types": ("CrossAttnDownBlock2D", "CrossAttnDownBlock2D", "CrossAttnDownBlock2D", "DownBlock2D"),
    "downsample_padding": 1,
    "flip_sin_to_cos": True,
    "freq_shift": 0,
    "in_channels": 4,
    "layers_per_block": 2,
    "mid_block_scale_factor": 1,
    "norm_eps": 1e-05,
    "norm_num_groups": 32,
    "out_channels": 4,
    "sample_size": 64,
    "up_block_types": ("UpBlock2D", "CrossAttnUpBlock2D", "CrossAttnUpBlock2D", "CrossAttnUpBlock2D"),
}
SD15_VAE = {
    "act_fn": "silu",
    "block_out_channels": (128, 256, 512, 512),
    "down_block_types": ("DownEncoderBlock2D",) * 4,
    "in_channels": 3,
    "latent_channels": 4,
    "layers_per_block": 2,
    "norm_num_groups": 32,
    "out_channels": 3,
    "sample_size": 512,
    "up_block_types": ("UpDecoderBlock2D",) * 4,
}
CLIP_L_TEXT = {
    "attention_dropout": 0.0,
    "bos_token_id": 0,
    "dropout": 0.0,
    "eos_token_id": 2,
    "hidden_act": "quick_gelu",
    "hidden_size": 768,
    "initializer_factor": 1.0,
    "initializer_range": 0.02,
    "intermediate_size": 3072,
    "layer_norm_eps": 1e-05,
    "max_position_embeddings": 77,
    "num_attention_heads": 12,
    "num_hidden_layers": 12,
    "pad_token_id": 1,
    "projection_dim": 768,
    "vocab_size": 49408,
}
SDXL_UNET = {
    "act_fn": "silu",
    "addition_embed_type": "text_time",
    "addition_embed_type_num_heads": 64,
    "addition_time_embed_dim": 256,
    "attention_head_dim": (5, 10, 20),
    "block_out_channels": (320, 640, 1280),
    "center_input_sample": False,
    "class_embed_type": None,
    "class_embeddings_concat": False,
    "conv_in_kernel": 3,
    "conv_out_kernel": 3,
    "cross_attention_dim": 2048,
    "cross_attention_norm": None,
    "down_block_types": ("DownBlock2D", "CrossAttnDownBlock2D", "CrossAttnDownBlock2D"),
    "downsample_padding": 1,
    "dual_cross_attention": False,
    "encoder_hid_dim": None,
    "encoder_hid_dim_type": None,
    "flip_sin_to_cos": True,
    "freq_shift": 0,
    "in_channels": 4,
    "layers_per_block": 2,
    "mid_block_only_cross_attention": None,
    "mid_block_scale_factor": 1,
    "mid_block_type": "UNetMidBlock2DCrossAttn",
    "norm_eps": 1e-05,
    "norm_num_groups": 32,
    "num_attention_heads": None,
    "num_class_embeds": None,
    "only_cross_attention": False,
    "out_channels": 4,
    "projection_class_embeddings_input_dim": 2816,
    "resnet_out_scale_factor": 1.0,
    "resnet_skip_time_act": False,
    "resnet_time_scale_shift": "default",
    "sample_size": 128,
    "time_cond_proj_dim": None,
    "time_embedding_act_fn": None,
    "time_embedding_dim": None,
    "time_embedding_type": "positional",
    "timestep_post_act": None,
    "transformer_layers_per_block": (1, 2, 10),
    "up_block_types": ("CrossAttnUpBlock2D", "CrossAttnUpBlock2D", "UpBlock2D"),
    "upcast_attention": None,
    "use_linear_projection": True,
}
BIG_G_TEXT = {
    "attention_dropout": 0.0,
    "bos_token_id": 0,
    "dropout": 0.0,
    "eos_token_id": 2,
    "hidden_act": "gelu",
    "hidden_size": 1280,
    "initializer_factor": 1.0,
    "initializer_range": 0.02,
    "intermediate_size": 5120,
    "layer_norm_eps": 1e-05,
    "max_position_embeddings": 77,
    "num_attention_heads": 20,
    "num_hidden_layers": 32,
    "pad_token_id": 1,
    "projection_dim": 1280,
    "vocab_size": 49408,
}
FLUX1_TRANSFORMER = {
    "attention_head_dim": 128,
    "guidance_embeds": True,
    "in_channels": 64,
    "joint_attention_dim": 4096,
    "num_attention_heads": 24,
    "num_layers": 19,
    "num_single_layers": 38,
    "patch_size": 1,
    "pooled_projection_dim": 768,
}

UNET_LORA_TARGETS = ("to_q", "to_k", "to_v", "to_out.0")
TEXT_LORA_TARGETS = ("q_proj", "k_proj", "v_proj", "out_proj")
FLUX1_LORA_TARGETS = (
    "attn.to_k",
    "attn.to_q",
    "attn.to_v",
    "attn.to_out.0",
    "attn.add_k_proj",
    "attn.add_q_proj",
    "attn.add_v_proj",
    "attn.to_add_out",
    "ff.net.0.proj",
    "ff.net.2",
    "ff_context.net.0.proj",
    "ff_context.net.2",
)


@dataclass(frozen=True)
class Model:
    """One network of a pipeline: its class (``library.class_name``), published config and LoRA targets."""

    library: str
    class_name: str
    config: Mapping[str, object]
    lora_targets: tuple[str, ...]


@dataclass(frozen=True)
class Architecture:
    """A family's denoiser (under its pipeline attribute, "unet" or "transformer", which also prefixes its
    LoRA keys), its published parameter count, and the text encoders a LoRA may adapt, by attribute."""

    family: str
    denoiser_name: str
    denoiser: Model
    denoiser_parameters: int
    text_encoders: Mapping[str, Model]

    def lora_models(self) -> dict[str, Model]:
        """Every model a LoRA of this family may adapt, by pipeline attribute, denoiser first."""
        return {self.denoiser_name: self.denoiser, **self.text_encoders}


CLIP_L = Model("transformers", "CLIPTextModel", CLIP_L_TEXT, TEXT_LORA_TARGETS)
ARCHITECTURES = {
    "sd15": Architecture(
        "sd15",
        "unet",
        Model("diffusers", "UNet2DConditionModel", SD15_UNET, UNET_LORA_TARGETS),
        859_520_964,
        {"text_encoder": CLIP_L},
    ),
    "sdxl": Architecture(
        "sdxl",
        "unet",
        Model("diffusers", "UNet2DConditionModel", SDXL_UNET, UNET_LORA_TARGETS),
        2_567_463_684,
        {
            "text_encoder": CLIP_L,
            "text_encoder_2": Model("transformers", "CLIPTextModelWithProjection", BIG_G_TEXT, TEXT_LORA_TARGETS),
        },
    ),
    "flux1": Architecture(
        "flux1",
        "transformer",
        Model("diffusers", "FluxTransformer2DModel", FLUX1_TRANSFORMER, FLUX1_LORA_TARGETS),
        11_901_408_320,
        {"text_encoder": CLIP_L},
    ),
}


def architecture(family: str) -> Architecture:
    """The family's architecture, or a ValueError naming the families there are."""
    if family not in ARCHITECTURES:
        raise ValueError(f"unknown model family {family!r}: choose one of {', '.join(ARCHITECTURES)}")
    return ARCHITECTURES[family]


def build_on_meta(model: Model):
    """``model`` with every parameter on the meta device: module names and shapes, no memory. A diffusers
    model's config may also be one read from a model folder (``from_config`` skips its "_" entries)."""
    import importlib

    from accelerate import init_empty_weights

    cls = getattr(importlib.import_module(model.library), model.class_name)
    with init_empty_weights():
        if model.library == "transformers":
            return cls(cls.config_class(**model.config))
        return cls.from_config(dict(model.config))
