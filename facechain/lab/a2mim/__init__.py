"""A2MIM: architecture-agnostic masked image modelling, here for a small CNN.

Li, Wu, Wu, Zang, Li, "Architecture-Agnostic Masked Image Modeling -- From ViT back to CNN", ICML 2023.
SimMIM-style pretraining replaces masked input pixels by a (zero or learned) token and regresses the
masked pixels with L1. A2MIM changes three things, which is all this module adds:

1. Input: a random ``MASK_RATIO`` = 0.6 of the square blocks is masked, and masked pixels take the
   image's per-channel mean (``mean_fill``) instead of a token, so the CNN sees no artificial edges.
2. Middle stage: a learnable mask token t and a per-channel scale gamma enter only at masked positions
   of the feature map before a middle stage (the last ResNet stage in the paper's ResNet-50):
   h <- h (1 - m) + gamma h m + t m  (``MaskToken``; gamma starts at 1, so the token is residual).
3. Loss: L = L_spa + lambda L_freq (lambda = 0.5 for CNNs, 0.1 for ViTs).
   L_spa is the masked focal-L1 (Yang et al., ICML 2021): |r| (2 sigmoid(beta |r|) - 1)^gamma_f with
   beta = 0.2, gamma_f = 1, averaged over masked pixels.
   L_freq is the focal frequency loss (Jiang et al., ICCV 2021) of the composite image
   x_pred m + sg(x_pred) (1 - m) against the target: with F the orthonormal 2-D DFT and
   D(u, v) = |F(composite) - F(x)|^2, L_freq = mean_uv w(u, v) D(u, v), where the weight
   w = log(1 + |F(composite) - F(x)|^alpha) / (batch max), alpha = 1, carries no gradient, so the
   frequencies that are hardest to synthesise (usually the high ones) count most. The stop-gradient
   sg(.) on visible pixels makes the whole spectrum matter while only masked pixels learn from it.
   (The reference implementation mixes half the target into the visible part and averages spectra
   over the batch; we keep the paper's per-image equation.)

The decoder is the paper's: a 1x1 convolution to stride^2 x channels, then PixelShuffle(stride).
``MaskedImageModel`` wires an encoder given as a list of stages into either recipe, so a researcher
can pass the stages of their own CNN; ``tiny_resnet`` is a small residual network for 16x16 inputs.
"""

from __future__ import annotations

from collections.abc import Sequence

import torch
import torch.nn.functional as F
from torch import nn

MASK_RATIO = 0.6
FREQUENCY_WEIGHT = 0.5  # lambda for CNNs (0.1 for ViTs)
FOCAL_BETA = 0.2
FOCAL_GAMMA = 1.0
FREQUENCY_ALPHA = 1.0


def block_mask(
    batch: int, side: int, block: int, ratio: float = MASK_RATIO, generator: torch.Generator | None = None
) -> torch.Tensor:
    """(batch, 1, side, side) of 0/1: exactly round(ratio x blocks) of the (side / block)^2 square
    blocks of each image are 1 (masked)."""
    per_side = side // block
    blocks = per_side * per_side
    chosen = torch.rand(batch, blocks, generator=generator).argsort(dim=1) < round(ratio * blocks)
    grid = chosen.float().view(batch, 1, per_side, per_side)
    return grid.repeat_interleave(block, dim=2).repeat_interleave(block, dim=3)


def mean_fill(images: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
    """Masked pixels take the image's per-channel mean: a fill with no edges for convolutions to latch on."""
    return images * (1 - mask) + images.mean(dim=(2, 3), keepdim=True) * mask


def resized_mask(mask: torch.Tensor, size: tuple[int, int]) -> torch.Tensor:
    """The pixel mask at a feature map's resolution: a cell is masked where most of its pixels are."""
    return (F.adaptive_avg_pool2d(mask, size) > 0.5).float()


class MaskToken(nn.Module):
    """h <- h (1 - m) + gamma h m + t m with per-channel gamma and t. ``residual=False`` fixes gamma at 0,
    which is SimMIM's replacement token (used at the input by the baseline)."""

    def __init__(self, channels: int, residual: bool = True):
        super().__init__()
        self.token = nn.Parameter(torch.randn(1, channels, 1, 1) * 0.02)
        self.gamma = nn.Parameter(torch.ones(1, channels, 1, 1)) if residual else None

    def forward(self, h: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
        m = resized_mask(mask, h.shape[-2:])
        kept = h * (1 - m)
        if self.gamma is not None:
            kept = kept + self.gamma * h * m
        return kept + self.token * m


def pixel_shuffle_decoder(channels: int, stride: int, image_channels: int) -> nn.Sequential:
    """The paper's light decoder: 1x1 conv to stride^2 x image channels, then PixelShuffle."""
    return nn.Sequential(nn.Conv2d(channels, stride * stride * image_channels, 1), nn.PixelShuffle(stride))


class MaskedImageModel(nn.Module):
    """Encoder stages -> decoder. The mask enters twice at most: at the input (``fill_mean``) and
    through ``token`` just before stage ``token_stage`` (0: on the image itself)."""

    def __init__(
        self, stages: Sequence[nn.Module], decoder: nn.Module, token: MaskToken, token_stage: int, fill_mean: bool
    ):
        super().__init__()
        self.stages = nn.ModuleList(stages)
        self.decoder = decoder
        self.token = token
        self.token_stage = token_stage
        self.fill_mean = fill_mean

    def forward(self, images: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
        h = mean_fill(images, mask) if self.fill_mean else images
        for index, stage in enumerate(self.stages):
            if index == self.token_stage:
                h = self.token(h, mask)
            h = stage(h)
        return self.decoder(h)

    def feature_map(self, images: torch.Tensor) -> torch.Tensor:
        """The encoder's last map on unmasked images (no token, no fill): what downstream tasks use."""
        h = images
        for stage in self.stages:
            h = stage(h)
        return h

    def features(self, images: torch.Tensor) -> torch.Tensor:
        return self.feature_map(images).mean(dim=(2, 3))


def simmim_model(stages: Sequence[nn.Module], channels: int, stride: int, image_channels: int = 1) -> MaskedImageModel:
    """The baseline: a learned token replaces masked input pixels; no token inside the network."""
    return MaskedImageModel(
        stages,
        pixel_shuffle_decoder(channels, stride, image_channels),
        MaskToken(image_channels, residual=False),
        token_stage=0,
        fill_mean=False,
    )


def a2mim_model(
    stages: Sequence[nn.Module],
    channels: int,
    stride: int,
    token_stage: int,
    token_channels: int,
    image_channels: int = 1,
) -> MaskedImageModel:
    """A2MIM: mean-filled input and a residual mask token before stage ``token_stage``."""
    return MaskedImageModel(
        stages,
        pixel_shuffle_decoder(channels, stride, image_channels),
        MaskToken(token_channels, residual=True),
        token_stage=token_stage,
        fill_mean=True,
    )


def focal_l1(
    prediction: torch.Tensor, target: torch.Tensor, beta: float = FOCAL_BETA, gamma: float = FOCAL_GAMMA
) -> torch.Tensor:
    """Elementwise |r| (2 sigmoid(beta |r|) - 1)^gamma: large residuals weigh more than under L1."""
    residual = (prediction - target).abs()
    return residual * (2 * torch.sigmoid(beta * residual) - 1) ** gamma


def masked_mean(values: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
    """Mean of ``values`` over masked positions (mask broadcast over channels)."""
    mask = mask.expand_as(values)
    return (values * mask).sum() / mask.sum().clamp_min(1.0)


def focal_frequency_loss(
    prediction: torch.Tensor, target: torch.Tensor, alpha: float = FREQUENCY_ALPHA
) -> torch.Tensor:
    """mean_uv w(u, v) |F(pred) - F(target)|^2, w = log(1 + |difference|^alpha) / batch max (no gradient)."""
    difference = torch.fft.fft2(prediction, norm="ortho") - torch.fft.fft2(target, norm="ortho")
    distance = difference.real**2 + difference.imag**2
    weight = torch.log1p(distance.detach().sqrt() ** alpha)
    weight = weight / weight.max().clamp_min(1e-12)
    return (weight * distance).mean()


def simmim_loss(prediction: torch.Tensor, target: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
    """SimMIM: plain L1 on masked pixels."""
    return masked_mean((prediction - target).abs(), mask)


def a2mim_loss(
    prediction: torch.Tensor, target: torch.Tensor, mask: torch.Tensor, frequency_weight: float = FREQUENCY_WEIGHT
) -> torch.Tensor:
    """Masked focal-L1 + lambda x focal frequency loss of x_pred m + sg(x_pred) (1 - m)."""
    composite = prediction * mask + prediction.detach() * (1 - mask)
    return masked_mean(focal_l1(prediction, target), mask) + frequency_weight * focal_frequency_loss(composite, target)


class ResidualBlock(nn.Module):
    """Two 3x3 convolutions with batch norm and an identity (or 1x1 projected) shortcut."""

    def __init__(self, inputs: int, outputs: int, stride: int = 1):
        super().__init__()
        self.body = nn.Sequential(
            nn.Conv2d(inputs, outputs, 3, stride, 1, bias=False),
            nn.BatchNorm2d(outputs),
            nn.ReLU(),
            nn.Conv2d(outputs, outputs, 3, 1, 1, bias=False),
            nn.BatchNorm2d(outputs),
        )
        self.shortcut = (
            nn.Identity()
            if stride == 1 and inputs == outputs
            else nn.Sequential(nn.Conv2d(inputs, outputs, 1, stride, bias=False), nn.BatchNorm2d(outputs))
        )

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return F.relu(self.body(x) + self.shortcut(x))


def tiny_resnet(image_channels: int = 1, widths: Sequence[int] = (16, 32, 64)) -> list[nn.Module]:
    """Stages [stem, stage 1, stage 2, stage 3] of a small ResNet for 16x16 images: stride 1, 1, 2, 2,
    so the last map is 4x4 with widths[-1] channels (overall stride 4)."""
    stem = nn.Sequential(
        nn.Conv2d(image_channels, widths[0], 3, 1, 1, bias=False), nn.BatchNorm2d(widths[0]), nn.ReLU()
    )
    stages = [ResidualBlock(widths[0], widths[0])]
    stages += [ResidualBlock(widths[i - 1], widths[i], stride=2) for i in range(1, len(widths))]
    return [stem, *stages]


__all__ = [
    "FOCAL_BETA",
    "FOCAL_GAMMA",
    "FREQUENCY_ALPHA",
    "FREQUENCY_WEIGHT",
    "MASK_RATIO",
    "MaskToken",
    "MaskedImageModel",
    "ResidualBlock",
    "a2mim_loss",
    "a2mim_model",
    "block_mask",
    "focal_frequency_loss",
    "focal_l1",
    "masked_mean",
    "mean_fill",
    "pixel_shuffle_decoder",
    "resized_mask",
    "simmim_loss",
    "simmim_model",
    "tiny_resnet",
]
