"""What the denoiser is trained to predict, per family: the noising path, the target, the timesteps and
SuDe's reverse step, so the trainer's loop is the same for SD 1.x / SDXL and FLUX.1.

- ``DiffusionObjective`` (SD 1.x, SDXL): DDPM (Ho et al., NeurIPS 2020). Integer timesteps drawn
  uniformly from the scheduler's 1000, x_t = sqrt(abar_t) x_0 + sqrt(1 - abar_t) eps; the target is the
  noise (epsilon) or v (v-prediction models); optional min-SNR weighting; SuDe on q(x_{t-1} | x_t, x_0).
- ``FlowObjective`` (FLUX.1): rectified flow (Esser et al., "Scaling Rectified Flow Transformers for
  High-Resolution Image Synthesis", ICML 2024). x_t = (1 - t) x_0 + t eps with t in (0, 1); the target is
  the velocity eps - x_0 (min-SNR weighting, DDPM's, is refused); t is drawn logit-normal, sigmoid(n) with n ~
  N(0, 1), the sampling that paper found best (its "lognorm(0, 1)"), which puts most draws near the middle of
  the path where the velocity is hardest to predict. SuDe on the flow's own Gaussian posterior
  (``sude.flow``), one step of 1/1000 back (FLUX.1's 1000 training timesteps).

Times are kept per family as the denoiser reads them: the UNet an integer step, FLUX.1's transformer t in
(0, 1) (it scales by 1000 itself). ``at(step)`` maps the evaluation's fixed steps (of 1000) to each.
"""

from __future__ import annotations

import torch

TRAINING_STEPS = 1000
"""Both families' training timesteps: DDPM's schedule length, and FLUX.1's t = step / 1000."""


class DiffusionObjective:
    """DDPM's epsilon / v-prediction objective, from the model's own ``DDPMScheduler``."""

    def __init__(self, scheduler):
        self.scheduler = scheduler

    def draw(self, count: int, generator: torch.Generator) -> torch.Tensor:
        return torch.randint(0, self.scheduler.config.num_train_timesteps, (count,), generator=generator)

    def at(self, step: int, count: int) -> torch.Tensor:
        return torch.full((count,), step)

    def noisy(self, latents: torch.Tensor, noise: torch.Tensor, times: torch.Tensor) -> torch.Tensor:
        return self.scheduler.add_noise(latents, noise, times)

    def target(self, latents: torch.Tensor, noise: torch.Tensor, times: torch.Tensor) -> torch.Tensor:
        if self.scheduler.config.prediction_type == "epsilon":
            return noise
        return self.scheduler.get_velocity(latents, noise, times)

    def snr_weights(self, times: torch.Tensor, gamma: float) -> torch.Tensor:
        """Min-SNR-gamma loss weights (Hang et al., ICCV 2023): min(SNR, gamma) / SNR for epsilon
        prediction, / (SNR + 1) for v-prediction."""
        abar = self.scheduler.alphas_cumprod.to(times.device)[times].float()
        snr = abar / (1.0 - abar)
        clipped = torch.clamp(snr, max=gamma)
        return clipped / (snr + 1.0) if self.scheduler.config.prediction_type == "v_prediction" else clipped / snr

    def sude(self, noisy, times, subject, category, empty):
        from sude import sude_loss

        return sude_loss(noisy, times, self.scheduler, subject, category, empty)


class FlowObjective:
    """Rectified flow's velocity objective with logit-normal times (FLUX.1)."""

    def draw(self, count: int, generator: torch.Generator) -> torch.Tensor:
        return torch.sigmoid(torch.randn((count,), generator=generator))

    def at(self, step: int, count: int) -> torch.Tensor:
        return torch.full((count,), step / TRAINING_STEPS)

    def noisy(self, latents: torch.Tensor, noise: torch.Tensor, times: torch.Tensor) -> torch.Tensor:
        t = times.to(latents.dtype).reshape(-1, *([1] * (latents.ndim - 1)))
        return (1 - t) * latents + t * noise

    def target(self, latents: torch.Tensor, noise: torch.Tensor, times: torch.Tensor) -> torch.Tensor:
        return noise - latents

    def sude(self, noisy, times, subject, category, empty):
        """SuDe one step of 1/1000 back along the path (half the way for the rare t under 2/1000, so the
        earlier time stays positive)."""
        from sude.flow import flow_sude_loss

        earlier = torch.maximum(times - 1 / TRAINING_STEPS, times / 2)
        return flow_sude_loss(noisy, times, earlier, subject, category, empty)


def objective_for(family, scheduler):
    """The training objective of ``family`` (its ``objective`` field), over the model's scheduler."""
    return FlowObjective() if family.objective == "flow" else DiffusionObjective(scheduler)
