"""The sampling solvers each pipeline offers, by name, with their default settings; importable
without torch or diffusers (the CLI builds its choices and --help from these names).

Portraits: for Stable Diffusion (DDPM-trained: SD 1.x, SDXL), DPM-Solver++ with Karras sigmas by
default, Euler ancestral, and LCM for use with an LCM-LoRA (few steps, low guidance); for FLUX.1
(rectified flow), the flow-matching Euler solver with FLUX.1-dev's defaults in diffusers' FluxPipeline (28
steps, guidance 3.5, which FLUX.1-dev reads through its guidance embedding, not as classifier-free
guidance). A solver samples only models of its training objective.

Motion (HumanMAC's cosine schedule): the cosine schedule's last training step has alpha_bar = 2.4e-9 (its
beta is clipped at 0.999), so a solver that starts sampling there divides its clean-motion estimate by 5e-5
and diverges (measured: DPM-Solver++, UniPC and Euler with their default spacing give errors of ~1500 m).
``HumanMACPipeline`` therefore samples in equal steps from MOTION_FIRST_TIMESTEP down to clean motion
(its ``first_timestep``). Without it (``first_timestep=None``), every solver here uses "leading" spacing,
which also starts below 999 (DDIM: at 950 for 20 steps, 990 for 100).

Either registry is used the diffusers way: ``pipe.scheduler = PORTRAIT_SOLVERS[name].build(pipe.scheduler.config)``.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from functools import cache
from pathlib import Path


@dataclass(frozen=True)
class Solver:
    """A diffusers scheduler class by name, the options it is built with, and the defaults that suit it.

    Args:
        scheduler: the diffusers class name, e.g. ``"DPMSolverMultistepScheduler"``.
        options: keyword arguments for its ``from_config`` (they override the base schedule's config).
        steps: default number of inference steps (None: the caller's default).
        guidance: default classifier-free guidance scale (None: no guidance, as for motion).
        objective: what the models it samples were trained on: "epsilon" (DDPM) or "flow" (rectified flow).
    """

    scheduler: str
    options: dict = field(default_factory=dict)
    steps: int | None = None
    guidance: float | None = None
    objective: str = "epsilon"

    def build(self, config):
        """This solver on the noise schedule ``config`` (a scheduler's ``config``)."""
        import diffusers

        return getattr(diffusers, self.scheduler).from_config(config, **self.options)


PORTRAIT_SOLVERS = {
    "dpm++": Solver(
        "DPMSolverMultistepScheduler",
        {"algorithm_type": "dpmsolver++", "use_karras_sigmas": True},
        steps=30,
        guidance=7.0,
    ),
    "euler-a": Solver("EulerAncestralDiscreteScheduler", steps=30, guidance=7.0),
    "lcm": Solver("LCMScheduler", steps=8, guidance=2.0),
    "flowmatch": Solver("FlowMatchEulerDiscreteScheduler", steps=28, guidance=3.5, objective="flow"),
}
DEFAULT_PORTRAIT_SOLVERS = {"epsilon": "dpm++", "flow": "flowmatch"}
"""The solver ``auto`` picks for a model, by its family's training objective."""

LEADING = {"timestep_spacing": "leading"}
MOTION_SOLVERS = {
    "ddim": Solver("DDIMScheduler", LEADING),
    "dpm++": Solver("DPMSolverMultistepScheduler", {"algorithm_type": "dpmsolver++", **LEADING}),
    "unipc": Solver("UniPCMultistepScheduler", LEADING),
    "ddpm": Solver("DDPMScheduler", LEADING),
}
MOTION_FIRST_TIMESTEP = 985
"""Where motion sampling starts, whatever the solver and step count (``HumanMACPipeline``'s ``first_timestep``)."""
MAX_MOTION_STEPS = MOTION_FIRST_TIMESTEP + 1
"""At most one sampling step per timestep from the first one down."""
DEFAULT_MOTION_SOLVER = "ddim"
DEFAULT_MOTION_STEPS = 20
DEFAULT_MOTION_PRECISION = "auto"
"""What ``motion predict``, the Motion tab and ``MotionRequest`` sample with unless told otherwise
("auto" precision: ``default_motion_precision``). Measured with benchmarks/motion_solvers.py on the shipped
model (100 held-out windows, K = 10, 2 CPU threads): 20 DDIM steps from t = 985 give ADE 0.295 and FDE
0.277 against the official code's 0.301 and 0.276 (100 DDIM steps), no crossed legs (10-15 steps cross
them in 0.2-0.5% of frames), at 5.2x its throughput in float32 and 7.7x in bfloat16 (medians of three
timings; docs/results.md)."""
MOTION_PRECISIONS = ("auto", "fp32", "bf16")


def motion_precision(name: str, device: str = "cpu") -> str:
    """A precision the pipeline takes ("fp32" or "bf16") for one of MOTION_PRECISIONS."""
    return default_motion_precision(device) if name == "auto" else name


@cache  # the hardware does not change while the process runs; predict asks on every call
def default_motion_precision(device: str = "cpu") -> str:
    """ "bf16" where the denoiser has native bfloat16 (a CUDA GPU that supports it; a CPU with the
    AVX512-BF16 or AMX-BF16 instructions, read from /proc/cpuinfo on Linux), else "fp32": elsewhere
    bfloat16 is emulated or refused."""
    import torch

    if device == "cuda":
        return "bf16" if torch.cuda.is_bf16_supported() else "fp32"
    if device != "cpu":
        return "fp32"
    try:
        flags = Path("/proc/cpuinfo").read_text().split()
    except OSError:
        return "fp32"
    return "bf16" if {"avx512_bf16", "amx_bf16"} & set(flags) else "fp32"
