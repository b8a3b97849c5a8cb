"""Train a person's LoRA "digital twin" on a prepared dataset, optionally with SuDe.

diffusers + PEFT LoRA on the UNet attention projections (and optionally the text encoder), run by
accelerate (one process, or several under ``accelerate launch``). The randomness of every micro-step
comes from (seed, micro-step, process), so resuming from a checkpoint reproduces the uninterrupted
run exactly. Checkpoints are atomic; the final LoRA is ``pytorch_lora_weights.safetensors``, which
plain diffusers loads with ``pipe.load_lora_weights(folder)``.
"""

from __future__ import annotations

import json
import math
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path

import torch
import torch.nn.functional as F

from ..config import Settings
from ..errors import FacechainError
from ..diffusion.base_model import resolve_base_model
from ..diffusion.tiny import TINY_NOTICE, TINY_RESOLUTION, is_tiny
from .train_config import TrainConfig
from ..plots import image_grid
from .kohya import export_kohya
from .model_card import VALIDATION_GRID, write_model_card
from .checkpoints import latest_checkpoint, load_checkpoint, save_checkpoint
from .training_data import DatasetError, Example, batch_indices, load_pixels, read_examples, step_generator

UNET_TARGETS = ["to_q", "to_k", "to_v", "to_out.0"]
TEXT_TARGETS = ["q_proj", "k_proj", "v_proj", "out_proj"]
LORA_FILE = "pytorch_lora_weights.safetensors"
EVAL_TIMESTEPS = (50, 250, 500, 750, 950)


class TrainingError(FacechainError):
    """A training problem with a message that says what to do."""


@dataclass
class TrainResult:
    out: Path
    lora_file: Path
    steps: int
    base_model: str
    tiny: bool
    log: list[dict] = field(default_factory=list)

    @property
    def eval_losses(self) -> list[tuple[int, float]]:
        return [(entry["step"], entry["eval_loss"]) for entry in self.log if "eval_loss" in entry]


def dataset_identity(dataset: Path) -> dict:
    """Trigger and class phrase recorded by ``prepare`` (report.json), when present."""
    report = dataset / "report.json"
    if not report.is_file():
        return {}
    data = json.loads(report.read_text(encoding="utf-8"))
    return {key: data[key] for key in ("trigger", "class_phrase") if key in data}


def train(config: TrainConfig, settings: Settings | None = None, progress=None) -> TrainResult:
    """Run (or resume) training; returns where the LoRA is. ``progress(step, total, loss)`` is called
    on the main process after every optimizer step."""
    from accelerate import Accelerator
    from accelerate.state import AcceleratorState
    from diffusers.optimization import get_scheduler

    settings = settings or Settings.from_env()
    examples = read_examples(config.dataset)
    identity = dataset_identity(config.dataset)
    class_prompt = config.class_prompt or identity.get("class_phrase")
    if config.sude_weight > 0 and not class_prompt:
        raise DatasetError(f"{config.dataset} has no report.json with a class phrase: pass --class-prompt (e.g. 'a man') "
                           f"for SuDe, or --sude-weight 0")
    if config.prior_preservation and not class_prompt:
        raise DatasetError("prior preservation needs a class prompt: pass --class-prompt (e.g. 'a photo of a man')")
    model_dir = resolve_base_model(config.base_model, settings, tiny=config.tiny)
    tiny = is_tiny(model_dir)
    resolution = config.resolution or (TINY_RESOLUTION if tiny else 512)
    total_steps = config.steps or max(1, math.ceil(config.epochs * len(examples) / config.batch_size))

    # accelerate keeps one process-wide state; a new run (the app trains many) may use another precision.
    # The process group (PartialState) is kept, so this is safe under `accelerate launch`.
    AcceleratorState._reset_state()
    accelerator = Accelerator(gradient_accumulation_steps=config.gradient_accumulation,
                              mixed_precision=config.mixed_precision)
    class_examples = []
    if config.prior_preservation:
        class_dir = config.class_data_dir or config.out / "class_images"
        if accelerator.is_main_process:
            generate_class_images(model_dir, class_prompt, class_dir, config.num_class_images, resolution, config.seed)
        accelerator.wait_for_everyone()
        class_examples = [Example(path, class_prompt) for path in class_images(class_dir)[: config.num_class_images]]
    frozen_dtype = {"no": torch.float32, "fp16": torch.float16, "bf16": torch.bfloat16}[config.mixed_precision]
    tokenizer, text_encoder, vae, unet, noise_scheduler = load_models(model_dir, config)
    for module in (vae, *([] if config.train_text_encoder else [text_encoder])):
        module.to(accelerator.device, **({} if frozen_dtype == torch.float32 else {"dtype": frozen_dtype}))
    trainable = {"unet": unet, **({"text_encoder": text_encoder} if config.train_text_encoder else {})}
    parameters = [p for module in trainable.values() for p in module.parameters() if p.requires_grad]
    optimizer = torch.optim.AdamW(parameters, lr=config.learning_rate)
    lr_scheduler = get_scheduler(config.lr_scheduler, optimizer=optimizer, num_warmup_steps=config.warmup_steps,
                                 num_training_steps=total_steps)

    step, checkpoint_root = 0, config.out / "checkpoints"
    if not config.resume and latest_checkpoint(checkpoint_root) is not None:
        raise TrainingError(f"{config.out} holds checkpoints of an earlier run: pass --resume to continue it, "
                            f"or choose another --out")
    if config.resume:
        found = latest_checkpoint(checkpoint_root)
        if found is None:
            raise TrainingError(f"--resume: no checkpoint in {checkpoint_root}")
        step, tensors, state, _ = load_checkpoint(found)
        load_trainable(trainable, tensors)
        optimizer.load_state_dict(state["optimizer"])
        lr_scheduler.load_state_dict(state["lr_scheduler"])
    prepared = accelerator.prepare(*trainable.values(), optimizer)
    wrapped, optimizer = dict(zip(trainable, prepared[:-1])), prepared[-1]

    frozen_prompts: dict[str, torch.Tensor] = {}

    def token_ids(prompts: list[str]) -> torch.Tensor:
        return tokenizer(prompts, padding="max_length", max_length=tokenizer.model_max_length, truncation=True,
                         return_tensors="pt").input_ids.to(accelerator.device)

    def encode(prompts: list[str]) -> torch.Tensor:
        """Prompt states; with a frozen text encoder each prompt is encoded once and reused."""
        if config.train_text_encoder:
            return wrapped["text_encoder"](token_ids(prompts))[0]
        for prompt in set(prompts) - frozen_prompts.keys():
            with torch.no_grad():
                frozen_prompts[prompt] = text_encoder(token_ids([prompt]))[0].float()
        return torch.cat([frozen_prompts[prompt] for prompt in prompts])

    def denoising_loss(items: list[Example], generator: torch.Generator, evaluate_at: int | None = None):
        """Per-sample diffusion loss of ``items`` (and the prediction, noisy latents, timesteps)."""
        pixels = torch.stack([load_pixels(item, resolution, generator, flip=evaluate_at is None) for item in items])
        pixels = pixels.to(accelerator.device, dtype=frozen_dtype)
        with torch.no_grad():
            latents = vae.encode(pixels).latent_dist.sample(generator=generator).float() * vae.config.scaling_factor
        noise = torch.randn(latents.shape, generator=generator)
        if config.noise_offset and evaluate_at is None:
            noise = noise + config.noise_offset * torch.randn((*latents.shape[:2], 1, 1), generator=generator)
        timesteps = (torch.full((len(items),), evaluate_at) if evaluate_at is not None else
                     torch.randint(0, noise_scheduler.config.num_train_timesteps, (len(items),), generator=generator))
        noise, timesteps = noise.to(latents.device), timesteps.to(latents.device)
        noisy = noise_scheduler.add_noise(latents, noise, timesteps)
        states = encode([item.caption for item in items])
        prediction = wrapped["unet"](noisy, timesteps, encoder_hidden_states=states).sample.float()
        target = noise if noise_scheduler.config.prediction_type == "epsilon" else noise_scheduler.get_velocity(latents, noise, timesteps)
        per_sample = F.mse_loss(prediction, target, reduction="none").mean(dim=(1, 2, 3))
        if config.snr_gamma and evaluate_at is None:
            per_sample = per_sample * min_snr_weights(noise_scheduler, timesteps, config.snr_gamma)
        return per_sample, prediction, noisy, timesteps

    def micro_step_loss(micro: int, batch: list[int]):
        generator = step_generator(config.seed, micro, accelerator.process_index)
        per_sample, prediction, noisy, timesteps = denoising_loss([examples[i] for i in batch], generator)
        loss, parts = per_sample.mean(), {"diffusion_loss": float(per_sample.detach().mean())}
        if class_examples:
            prior_batch = batch_indices(len(class_examples), config.batch_size, config.seed + 1, micro,
                                        accelerator.process_index, accelerator.num_processes)
            prior = denoising_loss([class_examples[i] for i in prior_batch],
                                   step_generator(config.seed, micro, accelerator.process_index, 1))[0].mean()
            loss = loss + config.prior_loss_weight * prior
            parts["prior_loss"] = float(prior.detach())
        if config.sude_weight > 0:
            from sude import category_and_empty_predictions, sude_loss

            with torch.no_grad():
                category_states, empty_states = encode([class_prompt]), encode([""])
            category, empty = category_and_empty_predictions(wrapped["unet"], noisy, timesteps, category_states, empty_states)
            sude = sude_loss(noisy, timesteps, noise_scheduler, prediction, category, empty)
            loss = loss + config.sude_weight * sude.loss.mean()
            parts.update(sude_loss=float(sude.loss.detach().mean()), sude_mask=float(sude.mask.mean()))
        return loss, parts

    def evaluation_loss() -> float:
        """Diffusion loss on fixed images, noise and timesteps: comparable across steps and runs."""
        pairs = [(example, t) for example in range(min(4, len(examples))) for t in EVAL_TIMESTEPS]
        with torch.no_grad():
            values = [float(denoising_loss([examples[example]], step_generator(config.seed, 10**9 + j), evaluate_at=t)[0].mean())
                      for j, (example, t) in enumerate(pairs)]
        return sum(values) / len(values)

    log_path = config.out / "train_log.jsonl"
    log = restart_log(log_path, step) if accelerator.is_main_process else []
    meta = {"base_model": str(model_dir) if tiny else (config.base_model or settings.base_model), "tiny": tiny,
            "config": json.loads(json.dumps(asdict(config), default=str))}

    def record(entry: dict) -> None:
        if accelerator.is_main_process:
            log.append(entry)
            with open(log_path, "a", encoding="utf-8") as stream:
                stream.write(json.dumps(entry) + "\n")

    started = time.perf_counter()
    try:
        if step == 0:
            record({"step": 0, "eval_loss": evaluation_loss()})
        while step < total_steps:
            for micro in range(config.gradient_accumulation):
                index = step * config.gradient_accumulation + micro
                batch = batch_indices(len(examples), config.batch_size, config.seed, index,
                                      accelerator.process_index, accelerator.num_processes)
                with accelerator.accumulate(*wrapped.values()):
                    loss, parts = micro_step_loss(index, batch)
                    accelerator.backward(loss)
                    if accelerator.sync_gradients and config.max_grad_norm:
                        accelerator.clip_grad_norm_(parameters, config.max_grad_norm)
                    optimizer.step()
                    optimizer.zero_grad()
            lr_scheduler.step()
            step += 1
            if progress and accelerator.is_main_process:
                progress(step, total_steps, float(loss.detach()))
            if step % config.log_every == 0 or step == total_steps:
                record({"step": step, "loss": float(loss.detach()), **parts, "lr": lr_scheduler.get_last_lr()[0],
                        "seconds": round(time.perf_counter() - started, 3)})
            if step % config.checkpoint_every == 0 and step < total_steps:
                accelerator.wait_for_everyone()
                if accelerator.is_main_process:
                    save_checkpoint(checkpoint_root, step, trainable_tensors(accelerator, wrapped), optimizer,
                                    lr_scheduler, meta, config.keep_checkpoints)
    except torch.OutOfMemoryError:
        raise TrainingError(
            f"out of memory at resolution {resolution}, batch size {config.batch_size}: try --batch-size 1 with "
            f"--gradient-accumulation, --gradient-checkpointing, --mixed-precision fp16 (GPU) or bf16, or a smaller "
            f"--resolution") from None

    accelerator.wait_for_everyone()
    record({"step": step, "eval_loss": evaluation_loss()})
    lora_file = config.out / LORA_FILE
    if accelerator.is_main_process:
        save_lora(accelerator, wrapped, config.out)
        if "kohya" in config.export:
            export_kohya(lora_file)
        info = {**meta, "steps": step, "resolution": resolution, "trigger": identity.get("trigger"),
                "class_prompt": class_prompt, "validation_prompt": examples[0].caption,
                "notice": TINY_NOTICE if tiny else None}
        if config.validation_images:
            validation_images(config, info["validation_prompt"], resolution, accelerator.autocast, tokenizer, noise_scheduler, vae,
                              accelerator.unwrap_model(wrapped.get("text_encoder", text_encoder)),
                              accelerator.unwrap_model(wrapped["unet"])).save(config.out / VALIDATION_GRID)
        (config.out / "training.json").write_text(json.dumps(info, indent=2))
        write_model_card(config.out, info, log)
    accelerator.wait_for_everyone()
    accelerator.end_training()
    return TrainResult(config.out, lora_file, step, meta["base_model"], tiny, log)


def validation_images(config: TrainConfig, prompt: str, resolution: int, autocast, tokenizer, noise_scheduler, vae,
                      text_encoder, unet):
    """A grid of ``config.validation_images`` images from the trained model (fixed seeds), under the
    run's autocast so half-precision frozen parts and full-precision LoRA parts mix."""
    from diffusers import DPMSolverMultistepScheduler, StableDiffusionPipeline

    pipe = StableDiffusionPipeline(vae=vae, text_encoder=text_encoder, tokenizer=tokenizer, unet=unet,
                                   scheduler=DPMSolverMultistepScheduler.from_config(noise_scheduler.config),
                                   safety_checker=None, feature_extractor=None, requires_safety_checker=False)
    pipe.set_progress_bar_config(disable=True)
    count = config.validation_images
    with torch.no_grad(), autocast():
        images = pipe([prompt] * count, height=resolution, width=resolution, num_inference_steps=config.validation_steps,
                      generator=[torch.Generator().manual_seed(config.seed + i) for i in range(count)]).images
    return image_grid(images, columns=min(4, count))


def load_models(model_dir: Path, config: TrainConfig):
    """(tokenizer, text encoder, VAE, UNet, DDPM scheduler), frozen, with the LoRA adapters added."""
    from diffusers import AutoencoderKL, DDPMScheduler, UNet2DConditionModel
    from peft import LoraConfig
    from transformers import CLIPTextModel, CLIPTokenizer

    tokenizer = CLIPTokenizer.from_pretrained(model_dir, subfolder="tokenizer")
    text_encoder = CLIPTextModel.from_pretrained(model_dir, subfolder="text_encoder")
    vae = AutoencoderKL.from_pretrained(model_dir, subfolder="vae")
    unet = UNet2DConditionModel.from_pretrained(model_dir, subfolder="unet")
    noise_scheduler = DDPMScheduler.from_pretrained(model_dir, subfolder="scheduler")
    for module in (text_encoder, vae, unet):
        module.requires_grad_(False)
    alpha = config.alpha or config.rank
    torch.manual_seed(config.seed)  # the LoRA initialisation: same seed, same starting weights
    unet.add_adapter(LoraConfig(r=config.rank, lora_alpha=alpha, init_lora_weights="gaussian", target_modules=UNET_TARGETS))
    if config.train_text_encoder:
        text_encoder.add_adapter(LoraConfig(r=config.rank, lora_alpha=alpha, init_lora_weights="gaussian",
                                            target_modules=TEXT_TARGETS))
    if config.gradient_checkpointing:
        unet.enable_gradient_checkpointing()
    return tokenizer, text_encoder, vae, unet, noise_scheduler


def class_images(folder: Path) -> list[Path]:
    return sorted(p for p in Path(folder).glob("*")
                  if p.suffix.lower() in (".png", ".jpg", ".jpeg", ".webp") and not p.name.startswith("."))


def generate_class_images(model_dir: Path, prompt: str, folder: Path, count: int, resolution: int, seed: int) -> None:
    """DreamBooth's prior images: top the folder up to ``count`` images of the class prompt, made by the
    base model itself (each written whole: temp name, then rename)."""
    from diffusers import DPMSolverMultistepScheduler, StableDiffusionPipeline

    folder.mkdir(parents=True, exist_ok=True)
    have = len(class_images(folder))
    if have >= count:
        return
    pipe = StableDiffusionPipeline.from_pretrained(model_dir, safety_checker=None, requires_safety_checker=False)
    pipe.scheduler = DPMSolverMultistepScheduler.from_config(pipe.scheduler.config)
    pipe.set_progress_bar_config(disable=True)
    for index in range(have, count):
        image = pipe(prompt, height=resolution, width=resolution, num_inference_steps=25,
                     generator=torch.Generator().manual_seed(seed + index)).images[0]
        image.save(folder / f".class-{index:04d}.png")
        (folder / f".class-{index:04d}.png").rename(folder / f"class-{index:04d}.png")


def min_snr_weights(scheduler, timesteps: torch.Tensor, gamma: float) -> torch.Tensor:
    """Min-SNR-gamma loss weights (Hang et al., ICCV 2023): min(SNR, gamma) / SNR for epsilon
    prediction, / (SNR + 1) for v-prediction."""
    abar = scheduler.alphas_cumprod.to(timesteps.device)[timesteps].float()
    snr = abar / (1.0 - abar)
    clipped = torch.clamp(snr, max=gamma)
    return clipped / (snr + 1.0) if scheduler.config.prediction_type == "v_prediction" else clipped / snr


def trainable_tensors(accelerator, wrapped: dict) -> dict[str, torch.Tensor]:
    return {f"{name}.{key}": value for name, module in wrapped.items()
            for key, value in accelerator.unwrap_model(module).state_dict().items() if "lora_" in key}


def load_trainable(modules: dict, tensors: dict[str, torch.Tensor]) -> None:
    for name, module in modules.items():
        prefix = f"{name}."
        own = {key[len(prefix):]: value for key, value in tensors.items() if key.startswith(prefix)}
        missing = [key for key in module.state_dict() if "lora_" in key and key not in own]
        if missing:
            raise TrainingError(f"checkpoint does not match this configuration (missing {missing[0]}): "
                                f"same --rank and --train-text-encoder as the interrupted run?")
        module.load_state_dict(own, strict=False)


def restart_log(path: Path, step: int) -> list[dict]:
    """The log up to ``step``, rewritten so a resumed run continues it without duplicates."""
    path.parent.mkdir(parents=True, exist_ok=True)
    kept = []
    if step and path.is_file():
        kept = [entry for entry in map(json.loads, path.read_text().splitlines()) if entry["step"] <= step]
    path.write_text("".join(json.dumps(entry) + "\n" for entry in kept))
    return kept


def save_lora(accelerator, wrapped: dict, out: Path) -> None:
    """``pytorch_lora_weights.safetensors`` in diffusers' layout, written beside and renamed in."""
    from diffusers import StableDiffusionPipeline
    from diffusers.utils import convert_state_dict_to_diffusers
    from peft.utils import get_peft_model_state_dict

    modules = {name: accelerator.unwrap_model(module) for name, module in wrapped.items()}
    layers = {f"{name}_lora_layers": convert_state_dict_to_diffusers(get_peft_model_state_dict(module))
              for name, module in modules.items()}
    metadata = {f"{name}_lora_adapter_metadata": module.peft_config["default"].to_dict() for name, module in modules.items()}
    staging = out / ".lora.partial"
    staging.mkdir(parents=True, exist_ok=True)
    StableDiffusionPipeline.save_lora_weights(staging, **layers, **metadata, safe_serialization=True)
    (staging / LORA_FILE).replace(out / LORA_FILE)
    staging.rmdir()
