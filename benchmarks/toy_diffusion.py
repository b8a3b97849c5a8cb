"""The toy text-to-image diffusion model of the SuDe experiment: a pixel-space UNet2DConditionModel
(16x16, one channel) conditioned by a small CLIP text encoder trained with it, the real CLIP BPE
tokenizer, and DDIM sampling. Shared by pretraining, checking and personalization in sude_toy.py.
"""

from __future__ import annotations

from pathlib import Path

import torch

from facechain.diffusion.tiny import tiny_text_encoder
from facechain.diffusion.tokenizer import clip_tokenizer
from facechain.lab.digit_world import SIDE

MAX_TOKENS = 12


def build_model(seed: int = 0):
    """(tokenizer, text encoder, UNet, DDPM scheduler), freshly initialised from ``seed``."""
    from diffusers import DDPMScheduler, UNet2DConditionModel

    torch.manual_seed(seed)
    tokenizer = clip_tokenizer()
    unet = UNet2DConditionModel(
        sample_size=SIDE,
        in_channels=1,
        out_channels=1,
        layers_per_block=1,
        block_out_channels=(32, 64),
        # text attends at 8x8 only: attention over all 16x16 positions made a step ~3x slower on the CPU
        down_block_types=("DownBlock2D", "CrossAttnDownBlock2D"),
        up_block_types=("CrossAttnUpBlock2D", "UpBlock2D"),
        cross_attention_dim=32,
        attention_head_dim=8,
        norm_num_groups=8,
    )
    text_encoder = tiny_text_encoder(tokenizer, MAX_TOKENS)
    # Stable Diffusion's schedule: SuDe's gradient grows like 1/sqrt(alphas_cumprod[t]), which stays below ~15
    # here but reaches ~1e4 at the last steps of the cosine schedule (alphas_cumprod[999] ~ 2e-6)
    scheduler = DDPMScheduler(
        num_train_timesteps=1000, beta_schedule="scaled_linear", beta_start=0.00085, beta_end=0.012, clip_sample=True
    )
    return tokenizer, text_encoder, unet, scheduler


def token_ids(tokenizer, prompts: list[str]) -> torch.Tensor:
    """Padded CLIP token ids (n, MAX_TOKENS)."""
    return tokenizer(
        prompts, padding="max_length", max_length=MAX_TOKENS, truncation=True, return_tensors="pt"
    ).input_ids


@torch.no_grad()
def sample(
    tokenizer, text_encoder, unet, scheduler, prompts: list[str], seed: int, steps: int = 40, guidance: float = 1.0
):
    """DDIM samples in [0, 1] (n, 16, 16); classifier-free guidance when ``guidance`` is not 1."""
    from diffusers import DDIMScheduler

    ddim = DDIMScheduler.from_config(scheduler.config)
    ddim.set_timesteps(steps)
    guided = guidance != 1.0
    states = text_encoder(token_ids(tokenizer, prompts + [""] * len(prompts) if guided else prompts))[0]
    x = torch.randn((len(prompts), 1, SIDE, SIDE), generator=torch.Generator().manual_seed(seed))
    for t in ddim.timesteps:
        if guided:
            conditional, unconditional = unet(torch.cat([x, x]), t, encoder_hidden_states=states).sample.chunk(2)
            prediction = unconditional + guidance * (conditional - unconditional)
        else:
            prediction = unet(x, t, encoder_hidden_states=states).sample
        x = ddim.step(prediction, t, x).prev_sample
    return ((x.clamp(-1, 1) + 1) / 2)[:, 0].numpy()


def load_model(folder: Path):
    """The pretrained toy model from its diffusers-layout folder, in float32 for CPU training."""
    from diffusers import DDPMScheduler, UNet2DConditionModel
    from transformers import CLIPTextModel

    return (
        clip_tokenizer(),
        CLIPTextModel.from_pretrained(folder / "text_encoder").float(),
        UNet2DConditionModel.from_pretrained(folder / "unet").float(),
        DDPMScheduler.from_pretrained(folder / "scheduler"),
    )


def tile(image, size: int = 48):
    """A generated or drawn digit (16x16 in [0, 1]) as an enlarged greyscale PIL tile for figures."""
    import numpy as np
    from PIL import Image

    return Image.fromarray((np.clip(image, 0, 1) * 255).astype(np.uint8)).resize((size, size), Image.Resampling.NEAREST)
