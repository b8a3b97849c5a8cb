"""SuDe loss against an independent per-sample computation, gradient flow, mask, one batched call."""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch
from diffusers import DDPMScheduler

from sude import category_and_empty_predictions, sude_loss


def hand_computed(scheduler, noisy, timesteps, sub, cat, empty):
    """Loop over samples with Python floats and numpy, straight from the formulas in the paper."""
    abar = scheduler.alphas_cumprod.double().numpy()
    kind = scheduler.config.prediction_type
    losses, masks = [], []
    for i, t in enumerate(timesteps.tolist()):
        a_t, a_prev = abar[t], (abar[t - 1] if t > 0 else 1.0)
        beta = 1 - a_t / a_prev
        c1 = beta * math.sqrt(a_prev) / (1 - a_t)
        c2 = (1 - a_prev) * math.sqrt(1 - beta) / (1 - a_t)
        if t == 0:  # clipped like LDM's posterior log-variance: the t = 1 value
            a1, a0 = abar[1], abar[0]
            var = (1 - a1 / a0) * (1 - a0) / (1 - a1)
        else:
            var = beta * (1 - a_prev) / (1 - a_t)
        x = noisy[i].double().numpy()

        def mu(pred, i=i, x=x, a_t=a_t, c1=c1, c2=c2):
            p = pred[i].double().numpy()
            x0 = (
                (x - math.sqrt(1 - a_t) * p) / math.sqrt(a_t)
                if kind == "epsilon"
                else math.sqrt(a_t) * x - math.sqrt(1 - a_t) * p
            )
            return c1 * x0 + c2 * x

        m_sub, m_cat, m_0 = mu(sub), mu(cat), mu(empty)
        value = (np.mean((m_sub - m_cat) ** 2) - np.mean((m_sub - m_0) ** 2)) / (2 * var)
        reference = -np.mean((m_cat - m_0) ** 2) / (2 * var)
        masks.append(float(value > reference))
        losses.append(masks[-1] * value / c1)
    return np.array(losses), np.array(masks)


@pytest.mark.parametrize("prediction_type", ["epsilon", "v_prediction"])
def test_matches_hand_computation(prediction_type):
    scheduler = DDPMScheduler(num_train_timesteps=1000, beta_schedule="scaled_linear", prediction_type=prediction_type)
    gen = torch.Generator().manual_seed(0)
    noisy = torch.randn(6, 4, 8, 8, generator=gen)
    timesteps = torch.tensor([0, 1, 17, 250, 600, 999])
    sub, cat, empty = (torch.randn(6, 4, 8, 8, generator=gen) for _ in range(3))
    out = sude_loss(noisy, timesteps, scheduler, sub, cat, empty)
    expected_loss, expected_mask = hand_computed(scheduler, noisy, timesteps, sub, cat, empty)
    assert np.allclose(out.loss.numpy(), expected_loss, rtol=1e-4, atol=1e-6)
    assert np.array_equal(out.mask.numpy(), expected_mask)


def test_gradient_reaches_only_the_subject_branch():
    scheduler = DDPMScheduler(num_train_timesteps=1000)
    noisy = torch.randn(3, 4, 8, 8)
    sub, cat, empty = (torch.randn(3, 4, 8, 8, requires_grad=True) for _ in range(3))
    out = sude_loss(noisy, torch.tensor([100, 500, 900]), scheduler, sub, cat, empty)
    assert out.mask.sum() > 0
    out.loss.sum().backward()
    assert sub.grad is not None and sub.grad.abs().sum() > 0
    assert cat.grad is None and empty.grad is None


def test_truncation_mask():
    """Subject already as category-like as the category itself -> masked out; far from it -> on."""
    scheduler = DDPMScheduler(num_train_timesteps=1000)
    noisy = torch.randn(2, 4, 8, 8)
    cat, empty = torch.randn(2, 4, 8, 8), torch.randn(2, 4, 8, 8)
    t = torch.tensor([300, 300])
    at_category = sude_loss(noisy, t, scheduler, cat.clone(), cat, empty)  # value == reference: not strictly greater
    assert at_category.mask.tolist() == [0.0, 0.0] and at_category.loss.abs().sum() == 0
    toward_empty = sude_loss(noisy, t, scheduler, empty + 0.5 * (empty - cat), cat, empty)
    assert toward_empty.mask.tolist() == [1.0, 1.0] and (toward_empty.loss > 0).all()


def test_unknown_prediction_type_is_refused():
    scheduler = DDPMScheduler(num_train_timesteps=10)
    scheduler.register_to_config(prediction_type="flow")
    with pytest.raises(ValueError, match="prediction type"):
        sude_loss(torch.randn(1, 1, 2, 2), torch.tensor([3]), scheduler, *(torch.randn(1, 1, 2, 2) for _ in range(3)))


def test_extra_predictions_are_one_unet_call_of_double_batch():
    calls = []

    class RecordingUNet(torch.nn.Module):
        def forward(self, sample, timestep, encoder_hidden_states):
            calls.append((sample.shape[0], timestep.tolist(), encoder_hidden_states[:, 0, 0].tolist()))
            return type("Out", (), {"sample": sample * encoder_hidden_states[:, :1, :1].unsqueeze(-1)})()

    noisy = torch.randn(2, 4, 8, 8)
    cat_states, empty_states = torch.full((1, 5, 3), 2.0), torch.full((1, 5, 3), 3.0)
    cat, empty = category_and_empty_predictions(RecordingUNet(), noisy, torch.tensor([7, 9]), cat_states, empty_states)
    assert calls == [(4, [7, 9, 7, 9], [2.0, 2.0, 3.0, 3.0])]
    assert torch.allclose(cat, 2 * noisy) and torch.allclose(empty, 3 * noisy)
    assert not cat.requires_grad
