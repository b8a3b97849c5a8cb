"""SuDe on FLUX.1's rectified-flow path (sude/flow.py), checked against independent computations: DDPM's
own posterior coefficients as the special case, the conditional of the joint Gaussian of (x_s, x_t), a
Monte Carlo regression of the Markov chain, and the loss by hand."""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch

from sude import flow_posterior_terms, flow_sude_loss, gaussian_posterior, posterior_terms


def test_ddpm_is_the_special_case():
    from diffusers import DDPMScheduler

    scheduler = DDPMScheduler(beta_start=0.00085, beta_end=0.012, beta_schedule="scaled_linear")
    abar = scheduler.alphas_cumprod.double()
    steps = torch.tensor([1, 10, 500, 999])
    like = torch.zeros(4, 1)
    ours = gaussian_posterior(
        abar[steps].sqrt(), (1 - abar[steps]).sqrt(), abar[steps - 1].sqrt(), (1 - abar[steps - 1]).sqrt()
    )
    theirs = posterior_terms(scheduler, steps, like)
    for mine, reference in zip(ours, theirs):
        assert torch.allclose(mine.float(), reference.flatten(), rtol=1e-4, atol=1e-9)


@pytest.mark.parametrize("t, s", [(0.9, 0.8), (0.5, 0.499), (0.05, 0.01)])
def test_the_posterior_is_the_conditional_of_the_joint_gaussian(t, s):
    """Given x_0, (x_s, x_t) is jointly Gaussian with Var x_s = s^2, Var x_t = t^2 and
    Cov = (a_t / a_s) s^2 under the chain; x_s | x_t then has mean E x_s + Cov / Var x_t (x_t - E x_t)
    and variance Var x_s - Cov^2 / Var x_t."""
    x0, xt = 0.7, -0.3
    a_t, a_s = 1 - t, 1 - s
    cov = (a_t / a_s) * s**2
    mean = a_s * x0 + cov / t**2 * (xt - a_t * x0)
    variance = s**2 - cov**2 / t**2
    coef1, coef2, var = flow_posterior_terms(torch.tensor([t]), torch.tensor([s]), torch.zeros(1, 1))
    assert float(coef1) * x0 + float(coef2) * xt == pytest.approx(mean, rel=1e-4)
    assert float(var) == pytest.approx(variance, rel=1e-4, abs=1e-9)


def test_a_monte_carlo_chain_has_the_flow_marginals_and_this_posterior():
    t, s, x0, count = 0.6, 0.4, 1.5, 400_000
    rng = np.random.default_rng(0)
    a_ts = (1 - t) / (1 - s)
    x_s = (1 - s) * x0 + s * rng.standard_normal(count)
    x_t = a_ts * x_s + math.sqrt(t**2 - a_ts**2 * s**2) * rng.standard_normal(count)
    assert x_t.mean() == pytest.approx((1 - t) * x0, abs=0.01) and x_t.std() == pytest.approx(t, rel=0.01)
    slope, intercept = np.polyfit(x_t, x_s, 1)
    residual = x_s - (slope * x_t + intercept)
    coef1, coef2, var = (
        float(v) for v in flow_posterior_terms(torch.tensor([t]), torch.tensor([s]), torch.zeros(1, 1))
    )
    assert slope == pytest.approx(coef2, abs=0.01) and intercept == pytest.approx(coef1 * x0, abs=0.01)
    assert residual.var() == pytest.approx(var, rel=0.02)


def test_the_flow_sude_loss_by_hand():
    t, s = torch.tensor([0.5]), torch.tensor([0.25])
    noisy = torch.tensor([[1.0, -1.0]])
    subject, category, empty = torch.tensor([[0.2, 0.0]]), torch.tensor([[0.0, 0.0]]), torch.tensor([[1.0, 1.0]])
    coef1, coef2, var = (float(v) for v in flow_posterior_terms(t, s, noisy))
    # a_t = 1/2, a_s = 3/4: a_ts = 2/3, v_ts = 1/4 - (4/9)(1/16) = 2/9; coef1 = (3/4)(2/9) / (1/4) = 2/3,
    # coef2 = (2/3)(1/16) / (1/4) = 1/6, var = (2/9)(1/16) / (1/4) = 1/18
    assert coef1 == pytest.approx(2 / 3) and coef2 == pytest.approx(1 / 6) and var == pytest.approx(1 / 18)

    def mu(v):  # x0_hat = x_t - t v
        return coef1 * (noisy - 0.5 * v) + coef2 * noisy

    value = ((mu(subject) - mu(category)) ** 2).mean() - ((mu(subject) - mu(empty)) ** 2).mean()
    out = flow_sude_loss(noisy, t, s, subject, category, empty)
    assert float(out.raw) == pytest.approx(float(value) / (2 * var) / coef1, rel=1e-5)
    assert float(out.mask) == 1.0  # the subject is farther from the category than the category itself
    same = flow_sude_loss(noisy, t, s, category, category, empty)
    assert float(same.mask) == 0.0 and float(same.loss) == 0.0  # as category-like as it gets: truncated
    with pytest.raises(ValueError, match="0 < s < t <= 1"):
        flow_sude_loss(noisy, s, t, subject, category, empty)
