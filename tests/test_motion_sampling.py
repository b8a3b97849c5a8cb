"""Faster HumanMAC sampling: every solver goes in equal steps from MOTION_FIRST_TIMESTEP whatever its step
count, a stochastic solver reproduces from its seed, the denoiser may run in bfloat16, and the default
(solver, steps, precision) reproduces and stays within the 100-step DDIM baseline's ADE on held-out
windows, with the shipped model."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from facechain.config import Settings
from facechain.motion.evaluation import evaluate
from facechain.motion.scenario import load_motion_pipeline
from facechain.motion.skeleton import H36M
from facechain.motion.training import procedural_windows
from pipelines.humanmac import default_scheduler, starting_at
from pipelines.schedulers import (
    DEFAULT_MOTION_SOLVER,
    DEFAULT_MOTION_STEPS,
    MOTION_FIRST_TIMESTEP,
    MOTION_SOLVERS,
    default_motion_precision,
)


@pytest.mark.parametrize("name", list(MOTION_SOLVERS))
@pytest.mark.parametrize("steps", [5, 10, 20, 50, 100])
def test_every_solver_goes_in_equal_steps_from_the_first_timestep(name, steps):
    own = MOTION_SOLVERS[name].build(default_scheduler().config)
    before = dict(own.config)
    scheduler = starting_at(own, MOTION_FIRST_TIMESTEP)
    scheduler.set_timesteps(steps)
    timesteps = scheduler.timesteps.tolist()
    gaps = -np.diff([*timesteps, -1])  # the last step ends at the clean motion
    assert timesteps[0] == MOTION_FIRST_TIMESTEP and len(timesteps) == steps
    assert gaps.min() > 0 and gaps.max() - gaps.min() <= 1  # equal steps, to the nearest timestep
    assert torch.equal(scheduler.alphas_cumprod, own.alphas_cumprod[: MOTION_FIRST_TIMESTEP + 1])  # the same levels
    assert dict(own.config) == before and own.num_inference_steps is None  # the caller's scheduler is untouched


def test_without_a_first_timestep_each_solver_keeps_its_own_spacing(shipped):
    ddim = MOTION_SOLVERS["ddim"].build(default_scheduler().config)
    assert starting_at(ddim, None) is ddim
    ddim.set_timesteps(100)
    assert ddim.timesteps.tolist() == list(range(990, -1, -10))  # leading spacing, as the paper's sampler
    history = torch.zeros(1, H36M.t_his, 48)
    too_many = MOTION_FIRST_TIMESTEP + 2
    with pytest.raises(ValueError, match=f"{too_many} steps: at most {too_many - 1}, one per timestep"):
        shipped(history, H36M.t_pred, num_inference_steps=too_many)


@pytest.fixture(scope="module")
def shipped():
    torch.set_num_threads(1)
    return load_motion_pipeline(Settings().motion_model)


@pytest.fixture(scope="module")
def held_out() -> np.ndarray:
    return procedural_windows(12, H36M, np.random.default_rng(4321))


def test_a_stochastic_solver_reproduces_from_its_seed(shipped, held_out):
    history = torch.from_numpy(held_out[:1, : H36M.t_his])
    ddpm = MOTION_SOLVERS["ddpm"].build(shipped.scheduler.config)

    def futures(seed: int) -> torch.Tensor:
        generator = torch.Generator().manual_seed(seed)
        return shipped(history, H36M.t_pred, num_inference_steps=5, generator=generator, scheduler=ddpm).futures

    torch.manual_seed(1)
    first = futures(0)
    torch.manual_seed(2)  # the global random state plays no part
    assert torch.equal(first, futures(0)) and not torch.equal(first, futures(1))


def test_bfloat16_denoising_stays_close_to_float32(shipped, held_out):
    history = torch.from_numpy(held_out[:2, : H36M.t_his])
    runs = {
        precision: shipped(
            history,
            H36M.t_pred,
            num_samples=2,
            num_inference_steps=5,
            generator=torch.Generator().manual_seed(0),
            precision=precision,
        ).futures
        for precision in ("fp32", "bf16")
    }
    difference = (runs["bf16"] - runs["fp32"]).abs().mean() / runs["fp32"].abs().mean()
    assert 0 < difference < 0.05  # bfloat16 did run, and changed the futures by a few percent at most
    with pytest.raises(ValueError, match="precision 'fp16': choose from fp32, bf16"):
        shipped(history, H36M.t_pred, num_inference_steps=1, precision="fp16")


def test_the_default_reproduces_and_keeps_the_baselines_ade(shipped, held_out):
    """The default solver, steps and precision against the paper's 100 DDIM steps on windows no test
    or training run saw; the tolerance is the spread measured in docs/results.md."""
    baseline = evaluate(shipped, held_out, H36M, samples=10, steps=100)
    own = shipped.scheduler
    shipped.scheduler = MOTION_SOLVERS[DEFAULT_MOTION_SOLVER].build(own.config)
    precision = default_motion_precision()
    try:
        fast = [
            evaluate(shipped, held_out, H36M, samples=10, steps=DEFAULT_MOTION_STEPS, precision=precision)
            for _ in range(2)
        ]
    finally:
        shipped.scheduler = own
    assert fast[0] == fast[1]  # the same seed gives the same futures
    assert fast[0]["ADE"] <= 1.03 * baseline["ADE"] and fast[0]["FDE"] <= 1.03 * baseline["FDE"]
