"""The HumanMAC denoiser (Chen, Zhang, Wang, Ma, Feng, Cui. "HumanMAC: Masked Motion Completion for
Human Motion Prediction", ICCV 2023, arXiv:2302.03665).

It predicts the noise in a clip's first ``coefficients`` DCT coefficients (tokens of dimension
3 x joints). A transformer reads the tokens; every attention and feed-forward sub-block ends in a FiLM
"stylization" block driven by one embedding, the sum of the diffusion timestep's and of the
history's (the DCT of the history padded with its last frame). U-Net-style long skips join the first
half of the layers to the second. The stylization and output layers start at zero, so the untrained
model predicts zero noise. The history embedding can be dropped per sample (``keep_condition``):
training drops it with probability 1 - mod_train so sampling can also run without it.

Layer for layer it is the official MotionTransformer: at the paper's H36M configuration both have
28,401,712 parameters (bias-free query/key/value, no norm before the feed-forward, no norm before the
output). One initialisation differs: the positional embedding starts at std 0.02, not 1; with std 1
a small model (width 64, 2 layers, 2000 steps) no longer beat the zero-velocity baseline.
"""

from __future__ import annotations

import math

import torch
import torch.nn.functional as F
from diffusers import ModelMixin
from diffusers.configuration_utils import ConfigMixin, register_to_config
from torch import nn


def timestep_embedding(timesteps: torch.Tensor, dim: int, max_period: float = 10000.0) -> torch.Tensor:
    """Sinusoidal embedding (B, dim) of integer diffusion timesteps."""
    half = dim // 2
    frequencies = torch.exp(
        -math.log(max_period) * torch.arange(half, dtype=torch.float32, device=timesteps.device) / half
    )
    angles = timesteps.float()[:, None] * frequencies[None]
    return torch.cat([torch.cos(angles), torch.sin(angles)], dim=-1)


def zero(module: nn.Linear) -> nn.Linear:
    nn.init.zeros_(module.weight)
    nn.init.zeros_(module.bias)
    return module


class Stylization(nn.Module):
    """FiLM on a sub-block's output: LN(y)(1 + scale) + shift from the embedding, SiLU, dropout, then a
    zero-initialised projection added to the residual stream."""

    def __init__(self, width: int, embedding: int, dropout: float):
        super().__init__()
        self.modulation = nn.Sequential(nn.SiLU(), nn.Linear(embedding, 2 * width))
        self.norm = nn.LayerNorm(width)
        self.out = nn.Sequential(nn.SiLU(), nn.Dropout(dropout), zero(nn.Linear(width, width)))

    def forward(self, y: torch.Tensor, embedding: torch.Tensor) -> torch.Tensor:
        scale, shift = self.modulation(embedding)[:, None].chunk(2, dim=-1)
        return self.out(self.norm(y) * (1 + scale) + shift)


class SelfAttention(nn.Module):
    """Multi-head self-attention with bias-free query/key/value maps and no output projection: the
    stylization block that follows ends in its own linear layer, which serves as one (as in the
    paper's model)."""

    def __init__(self, width: int, heads: int, dropout: float):
        super().__init__()
        self.heads, self.dropout = heads, dropout
        self.qkv = nn.Linear(width, 3 * width, bias=False)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        batch, tokens, width = x.shape
        q, k, v = self.qkv(x).reshape(batch, tokens, 3, self.heads, width // self.heads).permute(2, 0, 3, 1, 4)
        mixed = F.scaled_dot_product_attention(q, k, v, dropout_p=self.dropout if self.training else 0.0)
        return mixed.transpose(1, 2).reshape(batch, tokens, width)


class DenoiserLayer(nn.Module):
    """Self-attention on the layer-normed tokens, then a feed-forward on the raw residual stream (no
    norm before it; its second layer starts at zero), each followed by its stylization block."""

    def __init__(self, width: int, heads: int, feed_forward: int, embedding: int, dropout: float):
        super().__init__()
        self.attention_norm = nn.LayerNorm(width)
        self.attention = SelfAttention(width, heads, dropout)
        self.attention_style = Stylization(width, embedding, dropout)
        self.feed_forward = nn.Sequential(
            nn.Linear(width, feed_forward), nn.GELU(), nn.Dropout(dropout), zero(nn.Linear(feed_forward, width))
        )
        self.feed_forward_style = Stylization(width, embedding, dropout)

    def forward(self, x: torch.Tensor, embedding: torch.Tensor) -> torch.Tensor:
        x = x + self.attention_style(self.attention(self.attention_norm(x)), embedding)
        return x + self.feed_forward_style(self.feed_forward(x), embedding)


class HumanMACDenoiser(ModelMixin, ConfigMixin):
    """Noise prediction for (B, coefficients, 3 * joints) DCT motion; paper defaults for Human3.6M."""

    @register_to_config
    def __init__(
        self,
        joints: int = 16,
        coefficients: int = 20,
        width: int = 512,
        layers: int = 8,
        heads: int = 8,
        feed_forward: int = 1024,
        dropout: float = 0.2,
    ):
        super().__init__()
        if layers % 2:
            raise ValueError("layers must be even: the long skips pair the first half with the second")
        features = 3 * joints
        self.tokens = nn.Linear(features, width)
        self.positions = nn.Parameter(torch.randn(1, coefficients, width) * 0.02)  # official: std 1 (see docstring)
        self.time = nn.Sequential(nn.Linear(width, width), nn.SiLU(), nn.Linear(width, width))
        self.condition = nn.Linear(coefficients * features, width)
        self.blocks = nn.ModuleList(DenoiserLayer(width, heads, feed_forward, width, dropout) for _ in range(layers))
        self.out = zero(nn.Linear(width, features))

    def forward(
        self,
        sample: torch.Tensor,
        timesteps: torch.Tensor,
        condition: torch.Tensor,
        keep_condition: torch.Tensor | None = None,
    ) -> torch.Tensor:
        """sample, condition: (B, coefficients, 3J); timesteps (B,) or scalar; keep_condition (B,) of 0/1."""
        batch = sample.shape[0]
        timesteps = torch.as_tensor(timesteps, device=sample.device).reshape(-1).expand(batch)
        embedding = self.time(timestep_embedding(timesteps, self.config.width).to(sample.dtype))
        conditioned = self.condition(condition.reshape(batch, -1))
        if keep_condition is not None:
            conditioned = conditioned * keep_condition.to(conditioned.dtype)[:, None]
        embedding = embedding + conditioned
        x = self.tokens(sample) + self.positions
        half = len(self.blocks) // 2
        skipped = []
        for index, layer in enumerate(self.blocks):
            if index < half:
                skipped.append(x)
            x = layer(x, embedding)
            if index >= half:
                x = x + skipped.pop()
        return self.out(x)
