"""PortraitPipeline: Stable Diffusion with a person's LoRA "digital twin" and an optional style LoRA,
each a named PEFT adapter with its own weight.

Adapters stay separate from the base weights (no merge), so changing a style or a weight is a call
to ``activate``, not a reload of the base model; the base model is never altered. Schedulers come
from a registry by name: DPM-Solver++ (Karras sigmas) by default, Euler ancestral, and LCM for use
with an LCM-LoRA (few steps, low guidance).

    pipe = PortraitPipeline.from_pretrained("stable-diffusion-v1-5/stable-diffusion-v1-5")
    pipe.load_adapter_file(Path("runs/me/model/pytorch_lora_weights.safetensors"), "person")
    pipe.activate({"person": 0.9})
    image = pipe("sks, a man, natural light portrait", generator=torch.Generator().manual_seed(1)).images[0]
"""

from __future__ import annotations

from pathlib import Path

from diffusers import (DPMSolverMultistepScheduler, EulerAncestralDiscreteScheduler, LCMScheduler,
                       StableDiffusionPipeline)

from facechain.portrait.lora_files import check_lora

SCHEDULERS = {
    "dpm++": lambda config: DPMSolverMultistepScheduler.from_config(config, algorithm_type="dpmsolver++",
                                                                    use_karras_sigmas=True),
    "euler-a": EulerAncestralDiscreteScheduler.from_config,
    "lcm": LCMScheduler.from_config,
}


class PortraitPipeline(StableDiffusionPipeline):
    """``StableDiffusionPipeline`` plus named LoRA adapters loaded only from checked safetensors."""

    def loaded_adapters(self) -> set[str]:
        return {name for names in self.get_list_adapters().values() for name in names}

    def load_adapter_file(self, path: Path, name: str) -> None:
        """Load the LoRA at ``path`` as adapter ``name`` (once; later calls with the name reuse it)."""
        if name in self.loaded_adapters():
            return
        check_lora(path)
        self.load_lora_weights(str(path.parent), weight_name=path.name, adapter_name=name)

    def activate(self, weights: dict[str, float]) -> None:
        """Use exactly these adapters with these weights; every other loaded adapter is off."""
        if weights:
            self.enable_lora()
            self.set_adapters(list(weights), list(weights.values()))
        elif self.loaded_adapters():
            self.disable_lora()

    def use_scheduler(self, kind: str) -> None:
        if kind not in SCHEDULERS:
            raise ValueError(f"unknown scheduler {kind!r}; choose from {', '.join(SCHEDULERS)}")
        self.scheduler = SCHEDULERS[kind](self.scheduler.config)
