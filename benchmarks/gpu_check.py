"""Our LoRA training and generation against diffusers' own, side by side on full-size SD 1.5 and SDXL,
with SuDe's cost and every arm's peak memory: the check to run on a CUDA machine.

Per family (sd15 at 512 px, sdxl at 1024 px), in one process (each training arm of the same steps,
images, batch 1, LoRA rank 4 on the UNet's attention projections, AdamW at a constant 1e-4):

1. Training, seconds per optimizer step:
   - "facechain train": ``facechain.portrait.training.train``, SuDe off;
   - the reference: diffusers' examples/dreambooth/train_dreambooth_lora.py (SDXL:
     train_dreambooth_lora_sdxl.py) run as it is, in a child process, from ``--reference-dir`` (a diffusers
     checkout of the installed version; the scripts import torchvision, so ``--python`` may name an
     interpreter that has it and this project). Without it, the scripts' inner step restated here, and
     labelled so: VAE encode, DDPM noise, the UNet with a PEFT LoRA (``unet.add_adapter``) under autocast,
     MSE to the noise, backward, gradient clipped to 1, AdamW step; the frozen weights in the scripts'
     precision (SDXL's VAE in float32); SD 1.5 encodes the prompt every step as its script does by
     default, SDXL encodes it once with both encoders and passes the pooled embedding and the six size/crop
     numbers. Image decoding is left out of the restated step (the SDXL script, too, prepares the images once).
   Every optimizer step of every arm is timestamped by a global optimizer hook (after a CUDA synchronise),
   in this process or in the child: seconds per step are the time from the end of the warm-up steps to
   the end of the last step over the timed steps, so loading, the first steps' allocation and
   autotuning, and whatever a run does after its last step (outputs, the final evaluation) cancel out.
2. Generation, seconds per image: ``facechain.portrait.generation.generate.generate``, what
   ``facechain generate`` runs (prompts, adapters, solver, sampling, ranking by the face engine; the face
   detail pass off), with the LoRA trained in 1, against the plain diffusers pipeline of the family with
   the same LoRA (``load_lora_weights``), prompt pair, solver, steps, guidance, size, batch and seeds.
   Each arm: a warm-up call of 2 sampling steps, then one timed call of all the images in one batch. The
   product places its pipeline itself (``diffusion.placement``: the GPU in bfloat16, else the CPU in
   float32; the JSON records where it went); the plain pipeline is loaded the same way.
3. SuDe's cost: "facechain train" with ``sude_weight=0.4`` against 0.
4. Peak memory of each arm: ``torch.cuda.max_memory_allocated``, reset before the arm (a training arm's
   peak is read at its last step); on the CPU the process's peak resident set instead (VmHWM, reset before
   each arm through /proc/self/clear_refs), labelled so. Beside our training arms' peak, the trainer's own
   up-front estimate of the accelerator memory the run needs (``training.memory.estimate``, which refuses
   runs that cannot fit): on the GPU a check of that model, on the CPU not comparable to the RSS.

The models have the published architectures (facechain/diffusion/architectures.py; SDXL's VAE is SD 1.5's
architecture, sdxl-vae differs only in its sample size and scaling factor) with seeded random weights,
saved in diffusers' folder layout under the work folder: time and memory do not depend on weight values,
and the GPU machine has no network. Training runs in bf16 mixed precision on the GPU (``mixed_precision``
of each tool, which chooses itself what it keeps in which precision), generation as placed above.

``--cpu`` (automatic without CUDA) runs every arm on the tiny offline models at 64 px for a few steps, in
float32: a check that the benchmark works (CI runs it through tests/test_gpu_check.py), not a measurement.

    python benchmarks/gpu_check.py [--reference-dir DIFFUSERS/examples/dreambooth] [--python PYTHON]
        [--cpu] [--families sd15 sdxl] [--work DIR] [--out benchmarks/results/gpu_check.json]
"""

from __future__ import annotations

import argparse
import gc
import json
import os
import runpy
import shutil
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass, field, replace
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F
from PIL import Image, ImageOps
from torch.optim.optimizer import register_optimizer_step_post_hook

BENCHMARKS = Path(__file__).resolve().parent
sys.path[:0] = [str(BENCHMARKS.parent), str(BENCHMARKS)]
from detail_bench import full_size_pipeline  # noqa: E402
from train_bench import make_dataset  # noqa: E402

from facechain.atomic import staged_folder  # noqa: E402
from facechain.config import Settings  # noqa: E402
from facechain.diffusion.architectures import BIG_G_TEXT, CLIP_L_TEXT, SD15_VAE, SDXL_UNET, UNET_LORA_TARGETS  # noqa: E402
from facechain.diffusion.families import FAMILIES  # noqa: E402
from facechain.diffusion.placement import inference_placement  # noqa: E402
from facechain.diffusion.tiny import TINY_RESOLUTION, ensure_tiny_model, tiny_scheduler  # noqa: E402
from facechain.diffusion.tokenizer import clip_tokenizer  # noqa: E402
from facechain.portrait.training.config import MAX_STEPS, TrainConfig  # noqa: E402

FAMILY_NAMES = ("sd15", "sdxl")
REFERENCE_SCRIPTS = {"sd15": "train_dreambooth_lora.py", "sdxl": "train_dreambooth_lora_sdxl.py"}
OUR_RUN = "facechain-train"
"""The folder (under WORK/FAMILY) of the run without SuDe: the LoRA the generation arms use."""
SUDE_WEIGHT = 0.4
WARMUP_SAMPLING_STEPS = 2
CHILD = "import sys; sys.path.insert(0, {folder!r}); from gpu_check import run_clocked; run_clocked(*sys.argv[1:])"
"""A reference script's child process: the script under a StepClock, its clock written to a file."""


def reset_peak_memory(device: torch.device) -> None:
    if device.type == "cuda":
        torch.cuda.reset_peak_memory_stats()
    else:
        Path("/proc/self/clear_refs").write_text("5")  # Linux: VmHWM starts again from the current RSS


def peak_memory_mb(device: torch.device) -> float:
    if device.type == "cuda":
        return torch.cuda.max_memory_allocated() / 2**20
    status = Path("/proc/self/status").read_text().splitlines()
    return int(next(line for line in status if line.startswith("VmHWM:")).split()[1]) / 1024


def free_memory(device: torch.device) -> None:
    gc.collect()
    if device.type == "cuda":
        torch.cuda.empty_cache()


@dataclass
class StepClock:
    """While entered, the time and the peak memory after every optimizer step in this process (a global
    optimizer hook, after a CUDA synchronise); the peak is reset on entering."""

    device: torch.device
    times: list[float] = field(default_factory=list)
    peaks: list[float] = field(default_factory=list)

    def __enter__(self) -> StepClock:
        reset_peak_memory(self.device)
        self.hook = register_optimizer_step_post_hook(self.tick)
        return self

    def __exit__(self, *exception) -> None:
        self.hook.remove()

    def tick(self, optimizer, args, kwargs) -> None:
        if self.device.type == "cuda":
            torch.cuda.synchronize()
        self.times.append(time.perf_counter())
        self.peaks.append(peak_memory_mb(self.device))

    def summary(self, warmup: int) -> dict:
        """Seconds per step after ``warmup`` steps, and the peak memory at the last step."""
        timed = len(self.times) - warmup
        if warmup < 1 or timed < 1:
            raise RuntimeError(f"{len(self.times)} optimizer steps seen: {warmup} warm-up and 1 timed are needed")
        return {
            "seconds_per_step": (self.times[-1] - self.times[warmup - 1]) / timed,
            "steps": len(self.times),
            "peak_mb": self.peaks[-1],
        }


def run_clocked(report: str, script: str, *arguments: str) -> None:
    """In a child process: ``script`` run as ``__main__`` with ``arguments`` under a StepClock, whose times
    and peaks are written to ``report`` (also when the script fails)."""
    clock = StepClock(torch.device("cuda" if torch.cuda.is_available() else "cpu"))
    sys.argv = [script, *arguments]
    sys.path.insert(0, str(Path(script).parent))
    try:
        with clock:
            runpy.run_path(script, run_name="__main__")
    finally:
        Path(report).write_text(json.dumps({"times": clock.times, "peaks": clock.peaks}))


@dataclass(frozen=True)
class Plan:
    """What one run measures, and where: full-size models on CUDA, the tiny ones on the CPU."""

    device: torch.device
    warmup: int
    timed: int
    sampling_steps: int
    images: int
    work: Path
    settings: Settings
    reference_dir: Path | None
    python: str

    @property
    def full_size(self) -> bool:
        return self.device.type == "cuda"

    @property
    def precision(self) -> str:
        return "bf16" if self.full_size else "no"

    @property
    def weight_dtype(self) -> torch.dtype:
        return torch.bfloat16 if self.full_size else torch.float32

    @property
    def memory(self) -> str:
        return "peak VRAM (torch.cuda.max_memory_allocated)" if self.full_size else "peak RSS (VmHWM)"

    def resolution(self, family: str) -> int:
        return FAMILIES[family].resolution if self.full_size else TINY_RESOLUTION


def full_size_sdxl_pipeline():
    """SDXL base's architecture with seeded random weights and the real CLIP tokenizer."""
    from diffusers import AutoencoderKL, StableDiffusionXLPipeline, UNet2DConditionModel
    from transformers import CLIPTextConfig, CLIPTextModel, CLIPTextModelWithProjection

    torch.manual_seed(0)
    tokenizer = clip_tokenizer()
    return StableDiffusionXLPipeline(
        vae=AutoencoderKL(**{**SD15_VAE, "sample_size": 1024, "scaling_factor": 0.13025}),
        text_encoder=CLIPTextModel(CLIPTextConfig(**CLIP_L_TEXT)),
        text_encoder_2=CLIPTextModelWithProjection(CLIPTextConfig(**BIG_G_TEXT)),
        tokenizer=tokenizer,
        tokenizer_2=tokenizer,
        unet=UNet2DConditionModel(**SDXL_UNET),
        scheduler=tiny_scheduler(),
    )


def base_model(family: str, plan: Plan) -> Path:
    """The family's model folder under the work folder, built (on the device, for speed) when missing; the
    full-size ones with SD's DDPM training schedule, which the tiny models share."""
    folder = plan.work / "models" / family
    if not plan.full_size:
        return ensure_tiny_model(folder, family)
    if not (folder / "model_index.json").is_file():
        from diffusers import StableDiffusionPipeline

        with torch.device(plan.device):
            if family == "sd15":  # a plain StableDiffusionPipeline folder, which diffusers' script reloads
                pipe = StableDiffusionPipeline.from_pipe(full_size_pipeline(), scheduler=tiny_scheduler())
            else:
                pipe = full_size_sdxl_pipeline()
        with staged_folder(folder) as staging:
            pipe.save_pretrained(staging, safe_serialization=True)
        del pipe
        free_memory(plan.device)
    return folder


def facechain_train(family: str, model: Path, dataset: Path, out: Path, plan: Plan, sude_weight: float) -> dict:
    """The measured row, with the trainer's own up-front estimate of its accelerator memory beside the peak."""
    from facechain.portrait.training.memory import estimate
    from facechain.portrait.training.trainer import train

    config = TrainConfig(
        dataset=dataset,
        out=out,
        base_model=str(model),
        resolution=plan.resolution(family),
        steps=plan.warmup + plan.timed,
        lr_scheduler="constant",
        sude_weight=sude_weight,
        mixed_precision=plan.precision,
        checkpoint_every=MAX_STEPS,
        validation_images=0,
    )
    with StepClock(plan.device) as clock:
        train(config, plan.settings)
    estimated = estimate(model, FAMILIES[family], config, plan.resolution(family), cuda=plan.full_size)
    return {**clock.summary(plan.warmup), "estimated_mb": estimated / 2**20}


def reference_script(family: str, model: Path, images: Path, caption: str, out: Path, plan: Plan) -> dict:
    """diffusers' script for the family, run as it is in a child process."""
    script = plan.reference_dir / REFERENCE_SCRIPTS[family]
    report = out.with_name(out.name + "-clock.json")
    arguments = {
        "pretrained_model_name_or_path": model,
        "instance_data_dir": images,
        "instance_prompt": caption,
        "output_dir": out,
        "resolution": plan.resolution(family),
        "train_batch_size": 1,
        "max_train_steps": plan.warmup + plan.timed,
        "learning_rate": 1e-4,
        "lr_scheduler": "constant",
        "lr_warmup_steps": 0,
        "rank": 4,
        "seed": 42,
        "checkpointing_steps": MAX_STEPS,
        "mixed_precision": plan.precision,
    }
    done = subprocess.run(
        [plan.python, "-c", CHILD.format(folder=str(BENCHMARKS)), str(report), str(script)]
        + [text for name, value in arguments.items() for text in (f"--{name}", str(value))],
        cwd=plan.reference_dir,
        env={**os.environ, "HF_HUB_OFFLINE": "1"},
        capture_output=True,
        text=True,
    )
    if done.returncode != 0:
        raise RuntimeError(f"{script} failed:\n{done.stderr[-3000:]}")
    return StepClock(plan.device, **json.loads(report.read_text())).summary(plan.warmup)


def instance_pixels(images: Path, side: int) -> list[torch.Tensor]:
    """The scripts' preprocessing of each instance image: resized and centre-cropped to ``side``, in [-1, 1]."""
    pixels = []
    for path in sorted(images.glob("*.png")):
        image = ImageOps.fit(Image.open(path).convert("RGB"), (side, side), Image.Resampling.BILINEAR)
        pixels.append(torch.from_numpy(np.asarray(image, dtype=np.float32) / 127.5 - 1.0).permute(2, 0, 1))
    return pixels


def restated_reference(family: str, model: Path, images: Path, caption: str, plan: Plan) -> dict:
    """diffusers' DreamBooth LoRA scripts' inner training step, restated (see the module docstring)."""
    from contextlib import nullcontext

    from diffusers import AutoencoderKL, DDPMScheduler, UNet2DConditionModel
    from peft import LoraConfig
    from transformers import CLIPTextModel, CLIPTextModelWithProjection, CLIPTokenizer

    device, dtype, side = plan.device, plan.weight_dtype, plan.resolution(family)
    sdxl = family == "sdxl"

    def token_ids(subfolder: str) -> torch.Tensor:
        tokenizer = CLIPTokenizer.from_pretrained(model, subfolder=subfolder)
        return tokenizer(
            caption, padding="max_length", max_length=tokenizer.model_max_length, truncation=True, return_tensors="pt"
        ).input_ids.to(device)

    with StepClock(device) as clock:
        scheduler = DDPMScheduler.from_pretrained(model, subfolder="scheduler")
        text_encoder = CLIPTextModel.from_pretrained(model, subfolder="text_encoder", torch_dtype=dtype).to(device)
        vae_dtype = torch.float32 if sdxl else dtype
        vae = AutoencoderKL.from_pretrained(model, subfolder="vae", torch_dtype=vae_dtype).to(device)
        unet = UNet2DConditionModel.from_pretrained(model, subfolder="unet", torch_dtype=dtype).to(device)
        for module in (text_encoder, vae, unet):
            module.requires_grad_(False)
        torch.manual_seed(42)
        unet.add_adapter(
            LoraConfig(r=4, lora_alpha=4, init_lora_weights="gaussian", target_modules=list(UNET_LORA_TARGETS))
        )
        parameters = [p for p in unet.parameters() if p.requires_grad]
        optimizer = torch.optim.AdamW(parameters, lr=1e-4)
        ids = token_ids("tokenizer")
        if sdxl:  # the prompt encoded once: both encoders' penultimate states side by side, the pooled projection
            text_encoder_2 = CLIPTextModelWithProjection.from_pretrained(
                model, subfolder="text_encoder_2", torch_dtype=dtype
            ).to(device)
            text_encoder_2.requires_grad_(False)
            with torch.no_grad():
                first = text_encoder(ids, output_hidden_states=True)
                second = text_encoder_2(token_ids("tokenizer_2"), output_hidden_states=True)
            states = torch.cat([first.hidden_states[-2], second.hidden_states[-2]], dim=-1)
            pooled = second.text_embeds
        pixels, original_size = instance_pixels(images, side), images_size(images)
        autocast = torch.autocast(device.type, dtype=dtype) if dtype != torch.float32 else nullcontext()
        unet.train()
        for step in range(plan.warmup + plan.timed):
            latents = vae.encode(pixels[step % len(pixels)][None].to(device, vae.dtype)).latent_dist.sample()
            latents = (latents * vae.config.scaling_factor).to(dtype)
            noise = torch.randn_like(latents)
            timesteps = torch.randint(0, scheduler.config.num_train_timesteps, (1,), device=device)
            noisy = scheduler.add_noise(latents, noise, timesteps)
            if sdxl:
                time_ids = torch.tensor([[*original_size, 0, 0, side, side]], device=device, dtype=dtype)
                conditioning = {
                    "encoder_hidden_states": states,
                    "added_cond_kwargs": {"text_embeds": pooled, "time_ids": time_ids},
                }
            else:
                conditioning = {"encoder_hidden_states": text_encoder(ids)[0]}
            with autocast:
                prediction = unet(noisy, timesteps, **conditioning).sample
            loss = F.mse_loss(prediction.float(), noise.float())
            loss.backward()
            torch.nn.utils.clip_grad_norm_(parameters, 1.0)
            optimizer.step()
            optimizer.zero_grad()
            loss.item()  # the scripts log every step's loss
    return clock.summary(plan.warmup)


def images_size(images: Path) -> tuple[int, int]:
    """(height, width) of the instance images as they are on disk: SDXL's "original size"."""
    width, height = Image.open(next(images.glob("*.png"))).size
    return height, width


def facechain_generate(family: str, model_folder: Path, plan: Plan):
    """(row, Generation): ``generate`` as ``facechain generate`` calls it, after a warm-up call."""
    from facechain.diffusion.base_model import resolve_base_model
    from facechain.faces import load_analyzer
    from facechain.portrait.generation.generate import PipelineCache, generate
    from facechain.portrait.generation.request import GenerationRequest
    from facechain.portrait.model_folder import TrainedModel

    request = GenerationRequest(
        model=model_folder,
        count=plan.images,
        batch_size=plan.images,
        seed=0,
        steps=plan.sampling_steps,
        resolution=plan.resolution(family),
        person_weight=1.0,
        detail=False,
    )
    analyzer = load_analyzer(plan.settings.face_backend, plan.settings)
    reset_peak_memory(plan.device)
    cache = PipelineCache()
    pipe = cache.get(resolve_base_model(TrainedModel.open(model_folder).base_model, plan.settings))
    loaded_on = f"{pipe.device.type} {str(pipe.dtype).removeprefix('torch.')}"
    generate(replace(request, steps=WARMUP_SAMPLING_STEPS), plan.settings, analyzer, cache=cache)
    started = time.perf_counter()
    generation = generate(request, plan.settings, analyzer, cache=cache)
    seconds = time.perf_counter() - started
    row = {"seconds_per_image": seconds / plan.images, "peak_mb": peak_memory_mb(plan.device), "loaded_on": loaded_on}
    return row, generation


def diffusers_generate(family: str, model: Path, model_folder: Path, ours, plan: Plan):
    """(row, images by seed): the family's plain diffusers pipeline with the same LoRA and settings as ``ours``."""
    import diffusers

    from pipelines import PORTRAIT_SOLVERS

    reset_peak_memory(plan.device)
    device, dtype = inference_placement()  # as facechain generate places its pipeline
    pipe = getattr(diffusers, FAMILIES[family].pipeline).from_pretrained(model, torch_dtype=dtype).to(device)
    pipe.load_lora_weights(model_folder)
    pipe.scheduler = PORTRAIT_SOLVERS[ours.settings["scheduler"]].build(pipe.scheduler.config)
    pipe.set_progress_bar_config(disable=True)
    seeds = [portrait.seed for portrait in ours.portraits]

    def sample(steps: int):
        return pipe(
            [ours.prompt] * len(seeds),
            negative_prompt=[ours.negative_prompt] * len(seeds),
            height=plan.resolution(family),
            width=plan.resolution(family),
            num_inference_steps=steps,
            guidance_scale=ours.settings["guidance"],
            generator=[torch.Generator().manual_seed(seed) for seed in seeds],
        ).images

    sample(WARMUP_SAMPLING_STEPS)
    started = time.perf_counter()
    images = sample(plan.sampling_steps)
    seconds = time.perf_counter() - started
    row = {"seconds_per_image": seconds / len(seeds), "peak_mb": peak_memory_mb(plan.device)}
    return row, dict(zip(seeds, images))


def measure_family(family: str, plan: Plan) -> dict:
    """Every arm of one family, one after another, memory freed in between."""
    model = base_model(family, plan)
    folder = plan.work / family
    shutil.rmtree(folder, ignore_errors=True)
    dataset, images, caption = make_dataset(folder)
    arms = {}

    def arm(name: str, label: str, row: dict) -> None:
        arms[name] = {"label": label, **row}
        free_memory(plan.device)

    arm("train_ours", "facechain train", facechain_train(family, model, dataset, folder / OUR_RUN, plan, 0.0))
    arm(
        "train_sude",
        f"facechain train + SuDe {SUDE_WEIGHT}",
        facechain_train(family, model, dataset, folder / "facechain-sude", plan, SUDE_WEIGHT),
    )
    if plan.reference_dir:
        row = reference_script(family, model, images, caption, folder / "diffusers-train", plan)
        arm("train_reference", f"diffusers {REFERENCE_SCRIPTS[family]}", row)
    else:
        row = restated_reference(family, model, images, caption, plan)
        arm("train_reference", "diffusers' step, restated here", row)
    row, ours = facechain_generate(family, folder / OUR_RUN, plan)
    arm("generate_ours", "facechain generate", row)
    row, plain = diffusers_generate(family, model, folder / OUR_RUN, ours, plan)
    arm("generate_plain", f"diffusers {FAMILIES[family].pipeline} + LoRA", row)
    difference = max(
        int(np.abs(np.asarray(p.image, dtype=np.int16) - np.asarray(plain[p.seed], dtype=np.int16)).max())
        for p in ours.portraits
    )
    return {
        "model": f"{'full-size' if plan.full_size else 'tiny offline'} {FAMILIES[family].title}, random weights",
        "resolution": plan.resolution(family),
        "arms": arms,
        "ratios": {
            "train_ours_over_reference": arms["train_ours"]["seconds_per_step"]
            / arms["train_reference"]["seconds_per_step"],
            "train_sude_over_ours": arms["train_sude"]["seconds_per_step"] / arms["train_ours"]["seconds_per_step"],
            "generate_ours_over_plain": arms["generate_ours"]["seconds_per_image"]
            / arms["generate_plain"]["seconds_per_image"],
        },
        "max_pixel_difference": difference,
    }


def print_table(results: dict) -> None:
    memory = "peak VRAM" if results["mode"] == "gpu" else "peak RSS"
    print(
        f"{results['device']}: {results['mode']} mode, training precision {results['training_precision']}; "
        f"{results['timed_steps']} timed steps after {results['warmup_steps']}, "
        f"{results['sampling_steps']} sampling steps, {results['images']} images"
    )
    if results["mode"] == "cpu":
        print("tiny offline models on the CPU: this checks that the benchmark runs, its numbers measure nothing")
    for family, found in results["families"].items():
        print(f"\n{family}: {found['model']}, {found['resolution']} px")
        print(f"  {'arm':<53}{'time':>16}{memory:>13}")
        for name, row in found["arms"].items():
            kind, unit = name.split("_")[0], "step" if "seconds_per_step" in row else "image"
            estimated = f"  (estimated {row['estimated_mb']:.0f} MB)" if "estimated_mb" in row else ""
            print(
                f"  {kind:<9}{row['label']:<44}{row[f'seconds_per_{unit}']:>9.3f} s/{unit:<5}"
                f"{row['peak_mb']:>10.0f} MB{estimated}"
            )
        ratios = found["ratios"]
        print(
            f"  training step, ours / diffusers: {ratios['train_ours_over_reference']:.2f}x; "
            f"SuDe {SUDE_WEIGHT} / without: {ratios['train_sude_over_ours']:.2f}x; "
            f"generation, ours / diffusers: {ratios['generate_ours_over_plain']:.2f}x "
            f"(largest pixel difference between their images: {found['max_pixel_difference']})"
        )
    print(f"\n{results['seconds']:.0f} s in all")


def main(argv: list[str] | None = None) -> dict:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--reference-dir", type=Path, help="a diffusers checkout's examples/dreambooth")
    parser.add_argument("--python", default=sys.executable, help="interpreter for the reference scripts")
    parser.add_argument("--cpu", action="store_true", help="the tiny models on the CPU (automatic without CUDA)")
    parser.add_argument("--families", nargs="+", choices=FAMILY_NAMES, default=FAMILY_NAMES)
    parser.add_argument("--warmup-steps", type=int, help="untimed training steps (default 2; 1 on the CPU)")
    parser.add_argument("--timed-steps", type=int, help="timed training steps (default 20; 2 on the CPU)")
    parser.add_argument("--sampling-steps", type=int, help="sampling steps per image (default 20; 4 on the CPU)")
    parser.add_argument("--images", type=int, default=2, help="images of the timed generation call, one batch")
    parser.add_argument("--work", type=Path, help="keep models and runs here (default: a temporary folder)")
    parser.add_argument("--out", type=Path, default=BENCHMARKS / "results" / "gpu_check.json")
    args = parser.parse_args(argv)
    if args.cpu:  # accelerate and the reference scripts take a GPU whenever they see one
        os.environ["CUDA_VISIBLE_DEVICES"] = ""
    device = torch.device("cuda" if torch.cuda.is_available() else "cpu")
    gpu = device.type == "cuda"
    started = time.perf_counter()
    with tempfile.TemporaryDirectory() as scratch:
        plan = Plan(
            device,
            args.warmup_steps or (2 if gpu else 1),
            args.timed_steps or (20 if gpu else 2),
            args.sampling_steps or (20 if gpu else 4),
            args.images,
            (args.work or Path(scratch)).resolve(),  # absolute: the reference scripts run in their own folder
            Settings.from_env(),
            args.reference_dir.resolve() if args.reference_dir else None,
            args.python,
        )
        families = {family: measure_family(family, plan) for family in args.families}
    results = {
        "device": torch.cuda.get_device_name() if gpu else "cpu",
        "mode": "gpu" if gpu else "cpu",
        "training_precision": plan.precision,
        "memory": plan.memory,
        "warmup_steps": plan.warmup,
        "timed_steps": plan.timed,
        "sampling_steps": plan.sampling_steps,
        "images": plan.images,
        "reference": str(args.reference_dir) if args.reference_dir else "restated",
        "families": families,
        "seconds": time.perf_counter() - started,
    }
    print_table(results)
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(results, indent=2) + "\n")
    print(f"wrote {args.out}")
    return results


if __name__ == "__main__":
    from facechain.quiet import install

    install()
    main()
