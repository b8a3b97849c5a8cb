"""SuDe on a rectified-flow path (FLUX.1): the same Bayes argument, with the flow's Gaussian posterior.

SuDe (``sude.loss``) compares posterior means mu(c) of one reverse step under the subject, category and
empty prompts. For DDPM that step is q(x_{t-1} | x_t, x_0). FLUX.1 is trained on the rectified-flow path

    x_t = a_t x_0 + s_t eps,   a_t = 1 - t,   s_t = t,   t in (0, 1],

and predicts the velocity v = eps - x_0, so x0_hat = x_t - t v. A path has a posterior as soon as it is
read as the marginals of a Markov chain: for s < t let q(x_t | x_s) = N(a_ts x_s, v_ts I) with

    a_ts = a_t / a_s,   v_ts = s_t^2 - a_ts^2 s_s^2,

which reproduces every marginal (Var x_t = a_ts^2 s_s^2 + v_ts = s_t^2) and is a valid Gaussian exactly
when v_ts >= 0, i.e. s_t / a_t >= s_s / a_s: t / (1 - t) grows with t, so it holds for every s < t.
Bayes' rule for two Gaussians then gives (Kingma, Salimans, Poole, Ho, "Variational Diffusion Models",
NeurIPS 2021, for any a_t, s_t)

    q(x_s | x_t, x_0) = N(coef1 x_0 + coef2 x_t, var I),
    coef1 = a_s v_ts / s_t^2,   coef2 = a_ts s_s^2 / s_t^2,   var = v_ts s_s^2 / s_t^2.

DDPM's coefficients are the special case a = sqrt(abar), s = sqrt(1 - abar), s = t - 1 (tested). With
them the SuDe loss carries over unchanged: L = (|mu_sub - mu_cat|^2 - |mu_sub - mu_0|^2) / (2 var),
truncated where the subject is already as category-like as the category prompt, scaled by 1 / coef1.
The reverse step's size is the caller's: s = t - 1 / 1000 matches FLUX.1's 1000 training timesteps.
"""

from __future__ import annotations

import torch

from .loss import SuDeOutput, truncated_sude


def gaussian_posterior(a_t, s_t, a_s, s_s):
    """(coef1, coef2, var) of q(x_s | x_t, x_0) for the path x_r = a_r x_0 + s_r eps at times s < t."""
    a_ts = a_t / a_s
    v_ts = s_t**2 - a_ts**2 * s_s**2
    return a_s * v_ts / s_t**2, a_ts * s_s**2 / s_t**2, v_ts * s_s**2 / s_t**2


def flow_posterior_terms(t: torch.Tensor, s: torch.Tensor, like: torch.Tensor):
    """(coef1, coef2, var) of the rectified-flow posterior for each sample's times ``s < t`` in (0, 1],
    shaped to broadcast against ``like``."""
    t, s = (value.to(like.device, torch.float32).reshape(-1, *([1] * (like.ndim - 1))) for value in (t, s))
    if torch.any(s >= t) or torch.any(s <= 0) or torch.any(t > 1):
        raise ValueError("the flow posterior needs 0 < s < t <= 1 for every sample")
    return gaussian_posterior(1 - t, t, 1 - s, s)


def flow_sude_loss(
    noisy: torch.Tensor,
    t: torch.Tensor,
    s: torch.Tensor,
    subject: torch.Tensor,
    category: torch.Tensor,
    empty: torch.Tensor,
) -> SuDeOutput:
    """The SuDe loss on the rectified-flow path for velocity predictions (v = eps - x_0); ``subject``
    carries gradient, ``category`` and ``empty`` are constants."""
    noisy, subject = noisy.float(), subject.float()
    category, empty = category.detach().float(), empty.detach().float()
    coef1, coef2, var = flow_posterior_terms(t, s, noisy)
    times = t.to(noisy.device, torch.float32).reshape(coef1.shape)

    def mean(velocity):
        return coef1 * (noisy - times * velocity) + coef2 * noisy

    return truncated_sude(mean(subject), mean(category), mean(empty), var, coef1)
