"""HumanMACPipeline: K possible futures for a motion history by masked motion completion (HumanMAC,
Chen et al., ICCV 2023, arXiv:2302.03665).

The whole clip (history + future) is denoised in the DCT domain. After every scheduler step the
known part is written back in the time domain: the history (and, for control, a body part's given
trajectory; for a switch, a target's final frames) noised to the next step's level replaces those
frames of the current estimate, which then returns to the DCT domain. So the model only ever
completes a masked clip, and any diffusers scheduler with ``step`` and ``add_noise`` can drive it
(DDIM with the cosine schedule by default, as in the paper; ``pipelines.schedulers.MOTION_SOLVERS``
names the others, all with "leading" spacing).

With ``first_timestep``, any solver samples in equal steps from that timestep down to clean motion
(``starting_at``). Where sampling starts matters more than the solver at few steps. The first step
divides the noise estimate's error by sqrt(alpha_bar) to estimate the clean motion: x71 at t = 990,
x22 at t = 970, x13 at t = 950 (where 20 "leading" steps start). But the DCT coefficients of motion are
not of unit size (up to ~10), so pure noise at t = 950 lacks a signal of 0.076 x 10 that the level
should hold, and at t = 970 still 0.045 x 10. Few large steps want a lower start, many small ones a
higher start; ``pipelines.schedulers.MOTION_FIRST_TIMESTEP`` is the start measured best at the default
step count (docs/results.md, "Faster sampling"). The denoiser may run in bfloat16
(``precision="bf16"``) while the solver and the mask completion stay in float32.

    pipe = HumanMACPipeline.from_pretrained("path/to/motion-model")
    solver = MOTION_SOLVERS["dpm++"].build(pipe.scheduler.config)
    futures = pipe(history, future_frames=100, num_samples=10, num_inference_steps=20, scheduler=solver).futures
"""

from __future__ import annotations

import contextlib
import inspect
from dataclasses import dataclass

import torch
from diffusers import DDIMScheduler, DiffusionPipeline, DPMSolverMultistepScheduler
from diffusers.utils import BaseOutput

from models.dct import from_dct, to_dct
from models.humanmac import HumanMACDenoiser
from pipelines.schedulers import MOTION_FIRST_TIMESTEP

SWITCH_RELEASE = 0.2  # the target constraint is released for the last 20% of steps (20 of the paper's 100)
PRECISIONS = {"fp32": None, "bf16": torch.bfloat16}


def default_scheduler() -> DDIMScheduler:
    """1000-step cosine schedule, predicting noise, no clipping (DCT coefficients are not bounded)."""
    return DDIMScheduler(
        num_train_timesteps=1000,
        beta_schedule="squaredcos_cap_v2",
        clip_sample=False,
        set_alpha_to_one=True,
        prediction_type="epsilon",
    )


def starting_at(scheduler, first_timestep: int | None):
    """A copy of ``scheduler`` that samples in equal steps from ``first_timestep`` down to clean motion:
    its noise schedule cut after ``first_timestep`` (the betas up to it, so every alpha_bar on the way is
    the full schedule's) with "trailing" spacing, which starts at the schedule's last timestep and whose
    last step ends at the clean sample. The scheduler itself when ``first_timestep`` is None.

    DDIM runs as DPM-Solver++ of order 1, the same update (Lu et al. 2022, arXiv:2211.01095), because
    diffusers' DDIMScheduler steps to t - schedule length // steps rather than to the next timestep of
    its list, which misses equal steps that do not divide the cut schedule (measured: 100 steps from 970,
    ADE 0.39 m against 0.35 m)."""
    if first_timestep is None:
        return scheduler
    if isinstance(scheduler, DDIMScheduler):
        dpm = {"algorithm_type": "dpmsolver++", "solver_order": 1}
        scheduler = DPMSolverMultistepScheduler.from_config(scheduler.config, **dpm)
    return type(scheduler).from_config(
        scheduler.config,
        trained_betas=scheduler.betas[: first_timestep + 1].tolist(),
        num_train_timesteps=first_timestep + 1,
        timestep_spacing="trailing",
    )


@dataclass
class MotionOutput(BaseOutput):
    """futures: (B, K, t_pred, F); clips: (B, K, t_his + t_pred, F), history frames included."""

    futures: torch.Tensor
    clips: torch.Tensor


class HumanMACPipeline(DiffusionPipeline):
    """The HumanMAC denoiser and a scheduler on its cosine noise schedule."""

    def __init__(self, denoiser: HumanMACDenoiser, scheduler):
        super().__init__()
        self.register_modules(denoiser=denoiser, scheduler=scheduler)

    @staticmethod
    def padded(history: torch.Tensor, frames: int) -> torch.Tensor:
        """The history followed by its last frame repeated up to ``frames``: the condition's clip."""
        repeat = history[:, -1:].expand(-1, frames - history.shape[1], -1)
        return torch.cat([history, repeat], dim=1)

    @torch.no_grad()
    def __call__(
        self,
        history: torch.Tensor,
        future_frames: int,
        num_samples: int = 10,
        num_inference_steps: int = 100,
        generator: torch.Generator | None = None,
        control_features: list[int] | None = None,
        control_motion: torch.Tensor | None = None,
        target: torch.Tensor | None = None,
        use_condition: bool = True,
        first_timestep: int | None = MOTION_FIRST_TIMESTEP,
        precision: str = "fp32",
        scheduler=None,
    ) -> MotionOutput:
        """K futures for each history.

        Args:
            history: (B, t_his, F) root-relative poses, F = joints x 3.
            future_frames: how many frames to predict after the history.
            num_samples: K, the futures drawn per history.
            num_inference_steps: solver steps (the paper: 100 DDIM steps).
            generator: the source of the initial and the re-noising noise, for reproducible futures.
            control_features: features (a body part's joints x 3) kept on ``control_motion`` over the whole clip.
            control_motion: (B, t_his + future_frames, F) the trajectory those features follow.
            target: (B, n, F) poses the last n frames are steered to (a motion switch), released for the final
                20% of the steps so the ending stays natural.
            use_condition: False samples without the history condition (classifier-free dropout's empty input).
            first_timestep: the timestep sampling starts at, in equal steps down to clean motion, whatever the
                solver and step count (None: the scheduler's own spacing, where DDIM's "leading" starts 20 steps
                at 950, 100 at 990, as the paper's sampler).
            precision: "fp32", or "bf16" to run the denoiser under bfloat16 autocast (on a CPU, only one with
                native bfloat16 is faster; ``pipelines.schedulers.default_motion_precision`` says which).
            scheduler: a solver to sample with instead of the pipeline's own (which is left as it is), e.g.
                ``MOTION_SOLVERS["dpm++"].build(pipe.scheduler.config)``.

        Returns:
            ``MotionOutput`` with ``futures`` (B, K, future_frames, F) and ``clips`` (history included).
        """
        if precision not in PRECISIONS:
            raise ValueError(f"precision {precision!r}: choose from {', '.join(PRECISIONS)}")
        scheduler = starting_at(scheduler or self.scheduler, first_timestep)
        if num_inference_steps > scheduler.config.num_train_timesteps:
            raise ValueError(
                f"{num_inference_steps} steps: at most {scheduler.config.num_train_timesteps}, one per timestep"
            )
        batch, t_his, features = history.shape
        frames = t_his + future_frames
        coefficients = self.denoiser.config.coefficients
        device, dtype = self.denoiser.device, self.denoiser.dtype
        history = history.to(device, dtype)
        known_clip = self.padded(history, frames)
        mask = torch.zeros(frames, features, device=device, dtype=dtype)
        mask[:t_his] = 1
        if control_features:
            if control_motion is None:
                raise ValueError("control_features need control_motion: the trajectory to keep")
            known_clip = known_clip.clone()
            known_clip[:, :, control_features] = control_motion.to(device, dtype)[:, :, control_features]
            mask[:, control_features] = 1
        switch_mask = mask.clone()
        if target is not None:
            known_clip = known_clip.clone()
            known_clip[:, -target.shape[1] :] = target.to(device, dtype)
            switch_mask[-target.shape[1] :] = 1
        condition = to_dct(self.padded(history, frames), coefficients).repeat_interleave(num_samples, dim=0)
        known = to_dct(known_clip, coefficients).repeat_interleave(num_samples, dim=0)
        keep = torch.full((batch * num_samples,), float(use_condition), device=device)

        x = torch.randn((batch * num_samples, coefficients, features), generator=generator, dtype=dtype).to(device)
        scheduler.set_timesteps(num_inference_steps, device=device)
        timesteps = scheduler.timesteps
        autocast = (
            torch.autocast(device.type, PRECISIONS[precision]) if PRECISIONS[precision] else contextlib.nullcontext()
        )
        # a stochastic solver (DDPM) draws its step noise from the generator too, so a seed reproduces it
        step_options = {"generator": generator} if "generator" in inspect.signature(scheduler.step).parameters else {}
        for index, t in enumerate(self.progress_bar(timesteps)):
            with autocast:
                noise = self.denoiser(scheduler.scale_model_input(x, t), t, condition, keep).to(dtype)
            x = scheduler.step(noise, t, x, **step_options).prev_sample
            step_mask = switch_mask if index < (1 - SWITCH_RELEASE) * len(timesteps) else mask
            if index + 1 < len(timesteps):
                following = timesteps[index + 1].reshape(1).expand(len(x))
                level = scheduler.add_noise(
                    known, torch.randn(known.shape, generator=generator, dtype=dtype).to(device), following
                )
            else:
                level = known
            completed = step_mask * from_dct(level, frames) + (1 - step_mask) * from_dct(x, frames)
            x = to_dct(completed, coefficients)
        clips = from_dct(x, frames).reshape(batch, num_samples, frames, features)
        return MotionOutput(futures=clips[:, :, t_his:], clips=clips)
