"""The tiny offline Stable Diffusion: same architecture family, built from configs, ~1.6M parameters.

It exists so the whole workflow (train a LoRA, generate, rank) runs here and in tests with no model
hub. Its weights are random (seeded), so its images show the workflow, not quality; it is only ever
used when chosen explicitly (``--tiny``), and everything made with it says so. The tokenizer is the
real CLIP BPE (see tokenizer.py), so prompts tokenize exactly as for Stable Diffusion 1.x.
"""

from __future__ import annotations

import json
from pathlib import Path

import torch

from ..atomic import staged_folder
from ..model_loading import model_loading
from .tokenizer import clip_tokenizer, tiny_t5_tokenizer

TINY_MARKER = "facechain_tiny.json"
TINY_NOTICE = "TINY OFFLINE MODEL (random weights): a demo of the workflow, not of image quality"
TINY_RESOLUTION = 64
TINY_WIDTH = 32
"""The tiny text encoder's width, and so the tiny UNet's cross-attention width."""


def tiny_text_encoder(tokenizer, max_positions: int = 77, projection: bool = False):
    """A CLIP text encoder 32 wide and 2 layers deep over ``tokenizer``'s vocabulary, randomly initialised
    from torch's current seed: the text side of the tiny model and of the SuDe toy model (which reads 12
    tokens); with ``projection``, SDXL's second encoder's kind (a pooled projection 32 wide)."""
    from transformers import CLIPTextConfig, CLIPTextModel, CLIPTextModelWithProjection

    config = CLIPTextConfig(
        vocab_size=len(tokenizer),
        hidden_size=TINY_WIDTH,
        intermediate_size=64,
        num_hidden_layers=2,
        num_attention_heads=4,
        max_position_embeddings=max_positions,
        bos_token_id=tokenizer.bos_token_id,
        eos_token_id=tokenizer.eos_token_id,
        pad_token_id=tokenizer.pad_token_id,
        **({"projection_dim": TINY_WIDTH} if projection else {}),
    )
    return CLIPTextModelWithProjection(config) if projection else CLIPTextModel(config)


TINY_UNET = {
    "sample_size": TINY_RESOLUTION // 8,
    "in_channels": 4,
    "out_channels": 4,
    "layers_per_block": 1,
    "block_out_channels": (32, 64),
    "down_block_types": ("CrossAttnDownBlock2D", "DownBlock2D"),
    "up_block_types": ("UpBlock2D", "CrossAttnUpBlock2D"),
    "attention_head_dim": 8,
}
"""The tiny UNet's layout, SD 1.5's at 1/10 the width and half the depth; SDXL's adds size conditioning."""


def tiny_vae(**changes):
    """The tiny models' VAE (SD's layout at 32 wide); ``changes`` set other config values (FLUX.1's)."""
    from diffusers import AutoencoderKL

    return AutoencoderKL(
        in_channels=3,
        out_channels=3,
        latent_channels=4,
        block_out_channels=(32, 32, 32, 32),
        down_block_types=("DownEncoderBlock2D",) * 4,
        up_block_types=("UpDecoderBlock2D",) * 4,
        layers_per_block=1,
        norm_num_groups=8,
        sample_size=TINY_RESOLUTION,
        **changes,
    )


def tiny_scheduler():
    from diffusers import DDPMScheduler

    return DDPMScheduler(
        num_train_timesteps=1000,
        beta_start=0.00085,
        beta_end=0.012,
        beta_schedule="scaled_linear",
        clip_sample=False,
        steps_offset=1,
    )


def seeded(seed: int, build):
    """``build()`` under torch's global seed ``seed``, the caller's random state left as it was."""
    generator_state = torch.random.get_rng_state()
    torch.manual_seed(seed)
    try:
        return build()
    finally:
        torch.random.set_rng_state(generator_state)


def build_tiny_pipeline(seed: int = 0):
    """A StableDiffusionPipeline of tiny, seeded random components at 64x64 pixels (8x8 latents)."""
    from diffusers import StableDiffusionPipeline, UNet2DConditionModel

    def components():
        unet = UNet2DConditionModel(**TINY_UNET, cross_attention_dim=TINY_WIDTH)
        vae = tiny_vae()
        tokenizer = clip_tokenizer()
        return unet, vae, tokenizer, tiny_text_encoder(tokenizer)

    unet, vae, tokenizer, text_encoder = seeded(seed, components)
    return StableDiffusionPipeline(
        vae=vae,
        text_encoder=text_encoder,
        tokenizer=tokenizer,
        unet=unet,
        scheduler=tiny_scheduler(),
        safety_checker=None,
        feature_extractor=None,
        requires_safety_checker=False,
    )


TINY_TIME_EMBEDDING = 8
"""Width of each of SDXL's six size/crop numbers' embedding in the tiny SDXL UNet (256 in SDXL)."""


def build_tiny_sdxl_pipeline(seed: int = 0):
    """A StableDiffusionXLPipeline of tiny, seeded random components at 64x64 pixels: SDXL's layout (two
    text encoders whose penultimate states are concatenated, the second's pooled projection and the six
    size/crop numbers as added conditioning), so SDXL code paths run offline. Workflow only, like the
    SD 1.5 tiny model."""
    from diffusers import StableDiffusionXLPipeline, UNet2DConditionModel

    def components():
        unet = UNet2DConditionModel(
            **TINY_UNET,
            cross_attention_dim=2 * TINY_WIDTH,
            addition_embed_type="text_time",
            addition_time_embed_dim=TINY_TIME_EMBEDDING,
            projection_class_embeddings_input_dim=6 * TINY_TIME_EMBEDDING + TINY_WIDTH,
        )
        tokenizer = clip_tokenizer()
        vae, encoder = tiny_vae(), tiny_text_encoder(tokenizer)
        return unet, vae, tokenizer, encoder, tiny_text_encoder(tokenizer, projection=True)

    unet, vae, tokenizer, text_encoder, text_encoder_2 = seeded(seed, components)
    return StableDiffusionXLPipeline(
        vae=vae,
        text_encoder=text_encoder,
        text_encoder_2=text_encoder_2,
        tokenizer=tokenizer,
        tokenizer_2=tokenizer,
        unet=unet,
        scheduler=tiny_scheduler(),
    )


TINY_FLUX_TRANSFORMER = {
    "patch_size": 1,
    "in_channels": 16,
    "num_layers": 1,
    "num_single_layers": 1,
    "attention_head_dim": 16,
    "num_attention_heads": 2,
    "joint_attention_dim": TINY_WIDTH,
    "pooled_projection_dim": TINY_WIDTH,
    "guidance_embeds": True,
    "axes_dims_rope": (4, 6, 6),
}
"""FLUX.1-dev's transformer at toy size: one joint and one single block, guidance embedding on (dev's
kind), a 4-channel latent packed 2x2 into 16 channels (FLUX.1's: 16 into 64), rotary axes summing to the
head width as in FLUX.1 (16 + 56 + 56 = 128)."""


def build_tiny_flux_pipeline(seed: int = 0):
    """A FluxPipeline of tiny, seeded random components at 64x64 pixels: FLUX.1's layout (CLIP's pooled
    embedding and T5's hidden states, a transformer on packed latents with rotary positions, guidance
    embedding, flow-matching scheduler, a VAE without quant convs and with a latent shift), so FLUX.1 code
    paths run offline. The T5 tokenizer's pieces are made from CLIP's merges (``tokenizer.t5_vocabulary``).
    Workflow only, like the other tiny models."""
    from diffusers import FlowMatchEulerDiscreteScheduler, FluxPipeline, FluxTransformer2DModel
    from transformers import T5Config, T5EncoderModel

    def components():
        transformer = FluxTransformer2DModel(**TINY_FLUX_TRANSFORMER)
        vae = tiny_vae(use_quant_conv=False, use_post_quant_conv=False, shift_factor=0.1159, scaling_factor=0.3611)
        tokenizer, tokenizer_2 = clip_tokenizer(), tiny_t5_tokenizer()
        t5 = T5Config(
            vocab_size=len(tokenizer_2),
            d_model=TINY_WIDTH,
            d_kv=8,
            d_ff=64,
            num_layers=2,
            num_heads=4,
            feed_forward_proj="gated-gelu",
            pad_token_id=tokenizer_2.pad_token_id,
            eos_token_id=tokenizer_2.eos_token_id,
        )
        t5_encoder = T5EncoderModel(t5).eval()  # as from_pretrained gives it: T5 has dropout
        return transformer, vae, tokenizer, tiny_text_encoder(tokenizer), tokenizer_2, t5_encoder

    transformer, vae, tokenizer, text_encoder, tokenizer_2, text_encoder_2 = seeded(seed, components)
    return FluxPipeline(
        scheduler=FlowMatchEulerDiscreteScheduler(shift=3.0),
        vae=vae,
        text_encoder=text_encoder,
        tokenizer=tokenizer,
        text_encoder_2=text_encoder_2,
        tokenizer_2=tokenizer_2,
        transformer=transformer,
    )


TINY_BUILDERS = {"sd15": build_tiny_pipeline, "sdxl": build_tiny_sdxl_pipeline, "flux1": build_tiny_flux_pipeline}
"""The families with a tiny offline model."""


def tiny_folder(home: Path, family: str = "sd15") -> Path:
    """Where the tiny model of ``family`` is kept under facechain's home (SD 1.5's keeps its old name)."""
    return Path(home) / ("tiny-sd" if family == "sd15" else f"tiny-{family}")


def ensure_tiny_model(folder: str | Path, family: str = "sd15") -> Path:
    """The tiny model of ``family`` saved in diffusers' folder layout at ``folder`` (built once), so it
    loads through the same ``from_pretrained`` path as a real base model."""
    folder = Path(folder)
    with model_loading():
        if not (folder / TINY_MARKER).exists():  # checked under the lock: another thread may have built it
            with staged_folder(folder) as staging:
                TINY_BUILDERS[family]().save_pretrained(staging, safe_serialization=True)
                (staging / TINY_MARKER).write_text(json.dumps({"notice": TINY_NOTICE, "resolution": TINY_RESOLUTION}))
    return folder


def tiny_model_problem() -> str | None:
    """Why the tiny model cannot be built here, or None: checked by the app at start-up before it offers
    the tiny model as the offline choice (its tokenizer's vocabulary is package data; a damaged or
    trimmed installation may lack it)."""
    try:
        clip_tokenizer()
    except Exception as error:  # a missing/corrupt vocabulary file or a broken transformers: say which
        return f"its CLIP tokenizer cannot be built ({type(error).__name__}: {error}); reinstall facechain"
    return None


def is_tiny(model_dir: str | Path) -> bool:
    return (Path(model_dir) / TINY_MARKER).exists()
