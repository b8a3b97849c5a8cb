"""A2MIM's masking, mask token, decoder and losses against hand computations."""

from __future__ import annotations

import math

import pytest
import torch
from torch import nn

from facechain.lab.a2mim import (
    MaskedImageModel,
    MaskToken,
    a2mim_loss,
    block_mask,
    focal_frequency_loss,
    focal_l1,
    mean_fill,
    pixel_shuffle_decoder,
    simmim_loss,
)


def test_block_mask_covers_the_requested_share_of_whole_blocks():
    mask = block_mask(50, 16, 4, 0.6, generator=torch.Generator().manual_seed(0))
    assert mask.shape == (50, 1, 16, 16)
    blocks = mask.view(50, 4, 4, 4, 4)  # (image, block row, pixel row, block column, pixel column)
    per_block = blocks.amax(dim=(2, 4))
    assert torch.equal(per_block, blocks.amin(dim=(2, 4)))  # every block all masked or all visible
    assert torch.all(per_block.sum(dim=(1, 2)) == round(0.6 * 16))
    assert len({tuple(m.flatten().tolist()) for m in per_block}) > 40  # drawn afresh per image


def test_mean_fill_puts_each_channels_image_mean_in_masked_pixels_only():
    images = torch.rand(3, 3, 8, 8)
    mask = block_mask(3, 8, 2, generator=torch.Generator().manual_seed(1))
    filled = mean_fill(images, mask)
    means = images.mean(dim=(2, 3), keepdim=True).expand_as(images)
    masked = mask.bool().expand_as(images)
    assert torch.equal(filled[~masked], images[~masked])
    assert torch.allclose(filled[masked], means[masked])


def test_mask_token_enters_only_masked_positions_as_gamma_h_plus_t():
    token = MaskToken(4)
    with torch.no_grad():
        token.gamma.copy_(torch.tensor([0.5, 1.0, 0.0, 2.0]).view(1, 4, 1, 1))
        token.token.copy_(torch.tensor([1.0, -1.0, 3.0, 0.0]).view(1, 4, 1, 1))
    h = torch.randn(2, 4, 8, 8)
    mask = block_mask(2, 16, 4, generator=torch.Generator().manual_seed(2))  # pixel mask at twice h's size
    cells = mask[:, :, ::2, ::2].bool().expand_as(h)
    out = token(h, mask)
    expected = token.gamma * h + token.token
    assert torch.equal(out[~cells], h[~cells])
    assert torch.allclose(out[cells], expected.expand_as(h)[cells])
    replacing = MaskToken(4, residual=False)  # SimMIM: the token replaces what was there
    assert torch.allclose(replacing(h, mask)[cells], replacing.token.expand_as(h)[cells])


def test_a2mim_model_fills_the_input_then_adds_the_token_before_its_stage():
    seen = []

    class Spy(nn.Module):
        def forward(self, x):
            seen.append(x.clone())
            return x

    token = MaskToken(1)
    with torch.no_grad():
        token.gamma.fill_(0.5)
        token.token.fill_(10.0)
    model = MaskedImageModel([Spy(), Spy()], nn.Identity(), token, token_stage=1, fill_mean=True)
    images = torch.rand(2, 1, 8, 8)
    mask = block_mask(2, 8, 4, generator=torch.Generator().manual_seed(3))
    model(images, mask)
    masked = mask.bool()
    filled = mean_fill(images, mask)
    assert torch.equal(seen[0], filled)  # stage 0 sees the mean-filled image, no token yet
    assert torch.allclose(seen[1][masked], (0.5 * filled + 10.0)[masked])  # the token arrives at stage 1
    assert torch.equal(seen[1][~masked], images[~masked])
    seen.clear()
    model.feature_map(images)
    assert torch.equal(seen[1], images)  # downstream features: no fill, no token


def test_decoder_spreads_each_cells_channels_over_its_pixel_block():
    decoder = pixel_shuffle_decoder(16, 4, 1)
    with torch.no_grad():
        decoder[0].weight.copy_(torch.eye(16).view(16, 16, 1, 1))
        decoder[0].bias.zero_()
    features = torch.randn(1, 16, 2, 2)
    image = decoder(features)
    assert image.shape == (1, 1, 8, 8)
    for k in range(16):
        assert image[0, 0, 4 + k // 4, k % 4] == features[0, k, 1, 0]


def test_focal_l1_follows_its_formula_and_weighs_large_residuals_up():
    prediction, target = torch.tensor([0.0, 0.5, 2.0, -3.0]), torch.zeros(4)
    r = prediction.abs()
    assert torch.allclose(focal_l1(prediction, target), r * (2 * torch.sigmoid(0.2 * r) - 1))
    ratio = focal_l1(prediction[1:], target[1:]) / r[1:]
    assert ratio[0] < ratio[1] < ratio[2]


def wave(frequency: int, side: int = 16) -> torch.Tensor:
    """A unit-energy cosine along x with ``frequency`` cycles per image."""
    x = torch.arange(side, dtype=torch.float32)
    pattern = torch.cos(2 * math.pi * frequency * x / side).expand(side, side)
    return (pattern / pattern.norm()).view(1, 1, side, side)


def test_focal_frequency_loss_is_zero_for_identical_images_and_focuses_on_the_hardest_frequency():
    image = torch.rand(2, 1, 16, 16)
    assert focal_frequency_loss(image, image) == 0
    low, high = wave(1), wave(6)
    # a single-frequency error gets weight 1 wherever it is: equal energy, equal loss (Parseval)
    assert focal_frequency_loss(low, torch.zeros_like(low)) == pytest.approx(
        float(focal_frequency_loss(high, torch.zeros_like(high))), rel=1e-5
    )
    # beside a larger error, a frequency is down-weighted: the mix costs less than its parts alone
    big, small = 3 * low, high
    zero = torch.zeros_like(low)
    mixed = focal_frequency_loss(big + small, zero)
    assert focal_frequency_loss(big, zero) < mixed < focal_frequency_loss(big, zero) + focal_frequency_loss(small, zero)


def test_reconstruction_losses_train_masked_pixels_only():
    target = torch.rand(2, 1, 16, 16)
    mask = block_mask(2, 16, 4, generator=torch.Generator().manual_seed(4))
    for loss in (simmim_loss, a2mim_loss):
        prediction = torch.rand(2, 1, 16, 16, requires_grad=True)
        loss(prediction, target, mask).backward()
        assert torch.all(prediction.grad[mask == 0] == 0)
        assert prediction.grad[mask == 1].abs().sum() > 0
    prediction = target.clone()
    prediction[mask == 0] += 5.0  # errors on visible pixels do not count
    assert simmim_loss(prediction, target, mask) == 0
