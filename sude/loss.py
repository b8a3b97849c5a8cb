"""The SuDe loss: keep the subject a member of its category, with the diffusion model as the classifier.

Qiao, Liu, Chen, Zhu, Chen, Gong, Zhang, Chen, Gao, Li. "Personalize Anything as a Subject-Derived
Class" (SuDe), CVPR 2024, arXiv:2403.06775.

For one noisy latent x_t at timestep t, each prompt's prediction becomes a DDPM posterior mean

    x0_hat(c) = prediction turned into x_0 (epsilon, v or sample parameterisation)
    mu(c)     = coef1_t * x0_hat(c) + coef2_t * x_t
    coef1_t   = beta_t sqrt(abar_{t-1}) / (1 - abar_t),  coef2_t = (1 - abar_{t-1}) sqrt(alpha_t) / (1 - abar_t)
    sigma_t^2 = beta_t (1 - abar_{t-1}) / (1 - abar_t)

and with Gaussian reverse steps Bayes' rule gives -log p(c_cat | x) up to a constant as

    L_sude = ( |mu_sub - mu_cat|^2 - |mu_sub - mu_0|^2 ) / (2 sigma_t^2)      (means over elements)

where sub = "photo of a sks man" (with gradient), cat = "photo of a man" and 0 = "" (no gradient).
Truncation: the loss applies to a sample only while it exceeds the same expression evaluated at the
category's own posterior mean, L_ref = -|mu_cat - mu_0|^2 / (2 sigma_t^2), i.e. while the subject is
still less category-like than the category prompt itself. The paper's code scales by 1 / coef1_t.

Two deliberate differences from the reference code, which used batch size 1 in pixel-clipped LDM
space: means are per sample (so the mask is per sample), and no x_0 clipping is applied (latents
are not bounded to [-1, 1]); the reference's clipped copy of mu_cat only perturbs L_ref slightly.
sigma_t^2 at t = 0 is zero; as in LDM's clipped posterior log-variance, the t = 1 value is used there.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch


@dataclass
class SuDeOutput:
    """loss: per-sample SuDe loss, truncated and scaled by 1/coef1 (multiply by the weight w_s and
    average). mask: 1.0 where the truncation let the loss through. raw: the scaled loss before the
    mask, for logging."""

    loss: torch.Tensor
    mask: torch.Tensor
    raw: torch.Tensor


def _per_sample(values: torch.Tensor, timesteps: torch.Tensor, like: torch.Tensor) -> torch.Tensor:
    """Gather a per-timestep schedule value for each sample, shaped to broadcast against ``like``."""
    gathered = values.to(device=like.device, dtype=torch.float32)[timesteps.to(like.device).long()]
    return gathered.reshape(-1, *([1] * (like.ndim - 1)))


def posterior_terms(scheduler, timesteps: torch.Tensor, like: torch.Tensor):
    """(coef1, coef2, sigma^2) of q(x_{t-1} | x_t, x_0) for each sample's timestep."""
    alphas_cumprod = scheduler.alphas_cumprod.to(torch.float32)
    previous = torch.cat([torch.ones(1), alphas_cumprod[:-1]])
    betas = 1.0 - alphas_cumprod / previous
    coef1 = betas * previous.sqrt() / (1.0 - alphas_cumprod)
    coef2 = (1.0 - previous) * (1.0 - betas).sqrt() / (1.0 - alphas_cumprod)
    variance = betas * (1.0 - previous) / (1.0 - alphas_cumprod)
    variance[0] = variance[1]
    return tuple(_per_sample(term, timesteps, like) for term in (coef1, coef2, variance))


def predicted_original(
    scheduler, noisy: torch.Tensor, timesteps: torch.Tensor, prediction: torch.Tensor
) -> torch.Tensor:
    """x_0 implied by a model output under the scheduler's parameterisation."""
    abar = _per_sample(scheduler.alphas_cumprod, timesteps, noisy)
    kind = scheduler.config.prediction_type
    if kind == "epsilon":
        return (noisy - (1.0 - abar).sqrt() * prediction) / abar.sqrt()
    if kind == "v_prediction":
        return abar.sqrt() * noisy - (1.0 - abar).sqrt() * prediction
    if kind == "sample":
        return prediction
    raise ValueError(f"SuDe does not know the prediction type {kind!r} (epsilon, v_prediction or sample)")


def sude_loss(
    noisy: torch.Tensor,
    timesteps: torch.Tensor,
    scheduler,
    subject: torch.Tensor,
    category: torch.Tensor,
    empty: torch.Tensor,
) -> SuDeOutput:
    """The SuDe loss for a batch; ``subject`` carries gradient, ``category`` and ``empty`` are treated
    as constants (detached here in any case)."""
    noisy, subject = noisy.float(), subject.float()
    category, empty = category.detach().float(), empty.detach().float()
    coef1, coef2, variance = posterior_terms(scheduler, timesteps, noisy)

    def mean(prediction):
        return coef1 * predicted_original(scheduler, noisy, timesteps, prediction) + coef2 * noisy

    return truncated_sude(mean(subject), mean(category), mean(empty), variance, coef1)


def truncated_sude(
    mu_subject: torch.Tensor,
    mu_category: torch.Tensor,
    mu_empty: torch.Tensor,
    variance: torch.Tensor,
    coef1: torch.Tensor,
) -> SuDeOutput:
    """The SuDe loss from the three posterior means of one reverse step (any Gaussian path: DDPM here,
    rectified flow in ``sude.flow``): per sample, truncated and scaled by 1 / coef1."""
    dims = tuple(range(1, mu_subject.ndim))
    twice_variance = 2.0 * variance.flatten()
    value = ((mu_subject - mu_category).pow(2).mean(dims) - (mu_subject - mu_empty).pow(2).mean(dims)) / twice_variance
    reference = -(mu_category - mu_empty).pow(2).mean(dims) / twice_variance
    mask = (value > reference).float().detach()
    raw = value / coef1.flatten()
    return SuDeOutput(loss=mask * raw, mask=mask, raw=raw.detach())


def category_and_empty_predictions(
    unet,
    noisy: torch.Tensor,
    timesteps: torch.Tensor,
    category_states: torch.Tensor,
    empty_states: torch.Tensor,
    **unet_kwargs,
) -> tuple[torch.Tensor, torch.Tensor]:
    """The two predictions SuDe compares against, from ONE no-grad UNet call of twice the batch
    (same latents and timesteps; category prompt states, then empty prompt states)."""
    batch = noisy.shape[0]
    states = torch.cat([category_states.expand(batch, -1, -1), empty_states.expand(batch, -1, -1)])
    with torch.no_grad():
        output = unet(
            torch.cat([noisy, noisy]), torch.cat([timesteps, timesteps]), encoder_hidden_states=states, **unet_kwargs
        ).sample
    return output.chunk(2)
