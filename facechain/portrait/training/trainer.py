"""Train a person's LoRA "digital twin" on a prepared dataset, optionally with SuDe.

diffusers + PEFT LoRA on the denoiser (the UNet's attention projections; FLUX.1's transformer's attention
and feed-forward projections) and optionally the text encoder, for the family's objective
(``objectives``: DDPM for SD 1.x / SDXL, rectified flow for FLUX.1), run by
accelerate (one process, or several under ``accelerate launch``). The randomness of every micro-step
comes from (seed, micro-step, process), so resuming from a checkpoint reproduces the uninterrupted
run exactly. Checkpoints are atomic; the final LoRA is ``pytorch_lora_weights.safetensors``, which
plain diffusers loads with ``pipe.load_lora_weights(folder)``.
"""

from __future__ import annotations

import importlib.util
import json
import logging
import math
import shutil
import time
from contextlib import nullcontext
from dataclasses import asdict, dataclass, field
from pathlib import Path

import torch

from ...checkpoints import latest_checkpoint, load_checkpoint, save_checkpoint
from ...config import Settings
from ...diffusion.architectures import TEXT_LORA_TARGETS
from ...diffusion.base_model import resolve_base_model
from ...diffusion.families import FAMILIES, Family, folder_family
from ...diffusion.tiny import TINY_NOTICE, TINY_RESOLUTION, is_tiny
from ...folder_lock import locked_folder
from ...model_loading import model_loading
from ...plots import image_grid
from ...progress import Progress
from ...seeding import step_generator
from ..model_folder import (
    CHECKPOINTS,
    CLASS_IMAGES,
    LORA_FILE,
    REFERENCE_FILE,
    VALIDATION_GRID,
    append_to_log,
    finished_run,
    restart_log,
    write_training_record,
)
from .conditioning import Conditioning, flux_velocity
from .config import TrainConfig, TrainingError, TrainingOutOfMemory
from .data import CROP_SCALE, DatasetError, Example, batch_indices, load_pixels, read_examples
from .kohya import export_kohya
from .latent_cache import LatentCache
from .lora_state import load_trainable, lora_config, save_lora, trainable_tensors
from .masked_loss import denoising_loss, loss_weights
from .memory import fit_problem
from .model_card import write_model_card
from .objectives import objective_for
from .prior import class_images, generate_class_images

EVAL_TIMESTEPS = (50, 250, 500, 750, 950)
log = logging.getLogger(__name__)

OUT_OF_MEMORY_ADVICE = (
    "try --batch-size 1 with --gradient-accumulation, --gradient-checkpointing, "
    "--mixed-precision fp16 (GPU) or bf16, or a smaller --resolution"
)

__all__ = ["TrainResult", "Trainer", "train"]


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
    """Trigger, class phrase and the reference face's crop recorded by ``prepare`` (report.json)."""
    report = dataset / "report.json"
    if not report.is_file():
        return {}
    data = json.loads(report.read_text(encoding="utf-8"))
    identity = {key: data[key] for key in ("trigger", "class_phrase") if key in data}
    crops = [photo.get("output") for photo in data.get("photos", []) if photo.get("source") == data.get("reference")]
    if crops and crops[0] and (dataset / crops[0]).is_file():
        identity["reference_crop"] = dataset / crops[0]
    return identity


def train(config: TrainConfig, settings: Settings | None = None, progress: Progress | None = None) -> TrainResult:
    """Run (or resume) training; returns where the LoRA is.

    Args:
        config: dataset, output folder, base model and every training option (``TrainConfig``).
        settings: home folder and default base model (default: from the environment).
        progress: ``progress(step, total, "loss=...")``, called on the main process after every optimizer
            step (``facechain.progress``); raising from it stops the run, checkpoints kept.

    The main process holds ``config.out`` for the whole run (``FolderInUse`` if another run holds it).
    """
    from accelerate import PartialState

    settings = settings or Settings.from_env()
    held = locked_folder(config.out, "facechain train") if PartialState().is_main_process else nullcontext()
    with held:
        return Trainer(config, settings).run(progress)


def new_accelerator(config: TrainConfig):
    """An ``Accelerator`` with this run's precision and gradient accumulation.

    accelerate keeps its precision in one process-wide state that refuses a change once set, and the
    app trains many runs in one process, each with its own precision; accelerate offers no public way
    to start over, so its state is cleared with ``AcceleratorState._reset_state()``, as transformers'
    ``TrainingArguments`` does for the same reason (accelerate < 2 is pinned; the tests train in full
    precision, bf16 and fp16 in one process). The
    process group (``PartialState``) is kept, so this is safe under ``accelerate launch``.
    """
    from accelerate import Accelerator
    from accelerate.state import AcceleratorState

    AcceleratorState._reset_state()
    return Accelerator(gradient_accumulation_steps=config.gradient_accumulation, mixed_precision=config.mixed_precision)


class Trainer:
    """One run: on creation it checks its inputs, then sets up accelerate, the models, the optimizer and
    the resume state; ``run`` does the steps and writes the outputs."""

    def __init__(self, config: TrainConfig, settings: Settings):
        self.config = config
        self.check_inputs(settings)
        self.accelerator = new_accelerator(config)
        self.class_examples = self.prior_examples() if config.prior_preservation else []
        trainable = self.load_models()
        self.step = self.set_up_optimization(trainable)
        self.log = restart_log(config.out, self.step) if self.accelerator.is_main_process else []
        self.meta = {
            "base_model": str(self.model_dir) if self.tiny else (config.base_model or settings.base_model),
            "tiny": self.tiny,
            "family": self.family.name,
            "config": json.loads(json.dumps(asdict(config), default=str)),
        }

    def check_inputs(self, settings: Settings) -> None:
        """Everything that can refuse the run, before any model loads: a finished run in the output folder,
        the dataset and its class phrase, the base model, stale checkpoints; and the run's size."""
        config = self.config
        finished = finished_run(config.out)  # checked first: nothing loads or downloads for a finished run
        if finished is not None:
            raise TrainingError(
                f"{config.out} holds a finished run ({finished.get('steps')} steps; its LoRA is "
                f"{config.out / LORA_FILE}): nothing to resume. To train again, choose another --out"
            )
        self.examples = read_examples(config.dataset)
        if config.face_loss_weight is not None and not any(example.photo_mask for example in self.examples):
            log.warning(
                "%s has no masks (prepared before they existed): --face-loss-weight changes nothing; "
                "run facechain prepare again to get them",
                config.dataset,
            )
        self.identity = dataset_identity(config.dataset)
        self.class_prompt = config.class_prompt or self.identity.get("class_phrase")
        if config.sude_weight > 0 and not self.class_prompt:
            raise DatasetError(
                f"{config.dataset} has no report.json with a class phrase: pass --class-prompt "
                f"(e.g. 'a man') for SuDe, or --sude-weight 0"
            )
        if config.prior_preservation and not self.class_prompt:
            raise DatasetError("prior preservation needs a class prompt: pass --class-prompt (e.g. 'a photo of a man')")
        self.model_dir = resolve_base_model(config.base_model, settings, tiny=config.tiny)
        self.tiny = is_tiny(self.model_dir)
        family = folder_family(self.model_dir)
        if family.objective == "flow" and config.train_text_encoder:
            raise TrainingError(
                f"--train-text-encoder is offered for SD 1.x and SDXL models ({family.title} here: its T5 "
                "reads the prompt; train the transformer's LoRA alone)"
            )
        if family.objective == "flow" and config.snr_gamma:
            raise TrainingError("--snr-gamma weighs DDPM's noise schedule; FLUX.1's flow matching has none: drop it")
        if family.name != "sd15" and self.tiny and "kohya" in config.export:
            raise TrainingError(
                f"the tiny {family.title} model's blocks are not {family.title}'s, so kohya names do not fit it: "
                "drop --export kohya"
            )
        self.family = family
        self.resolution = config.resolution or (TINY_RESOLUTION if self.tiny else family.resolution)
        self.total_steps = config.steps or max(1, math.ceil(config.epochs * len(self.examples) / config.batch_size))
        if config.fit_check and not self.tiny and torch.cuda.is_available():
            problem = fit_problem(self.model_dir, family, config, self.resolution, torch.cuda.mem_get_info()[0])
            if problem:
                raise TrainingOutOfMemory(f"{problem} (or --no-fit-check to try anyway)")
        self.checkpoint_every = config.checkpoint_interval(self.total_steps)
        self.checkpoint_root = config.out / CHECKPOINTS
        if not config.resume and latest_checkpoint(self.checkpoint_root) is not None:
            raise TrainingError(
                f"{config.out} holds checkpoints of an earlier run: pass --resume to continue it, "
                f"or choose another --out"
            )

    def load_models(self) -> dict:
        """Load the base model with LoRA adapters, frozen parts on the device in the run's precision;
        returns the trainable modules by name."""
        config = self.config
        self.frozen_dtype = {"no": torch.float32, "fp16": torch.float16, "bf16": torch.bfloat16}[config.mixed_precision]
        self.tokenizer, self.text_encoder, self.vae, denoiser, self.noise_scheduler = load_models(
            self.model_dir, config, self.family
        )
        self.objective = objective_for(self.family, self.noise_scheduler)
        self.second_encoder = second_text_encoder(self.model_dir, self.family)
        text_encoders = {"text_encoder": self.text_encoder}
        if self.second_encoder is not None:
            text_encoders["text_encoder_2"] = self.second_encoder[1]
        if config.train_text_encoder:
            for encoder in text_encoders.values():
                encoder.add_adapter(lora_config(config, TEXT_LORA_TARGETS))
        frozen_encoders = [] if config.train_text_encoder else list(text_encoders.values())
        for module in (self.vae, *frozen_encoders):
            module.to(
                self.accelerator.device, **({} if self.frozen_dtype == torch.float32 else {"dtype": self.frozen_dtype})
            )
        if self.frozen_dtype != torch.float32 and self.accelerator.native_amp:
            from diffusers.training_utils import cast_training_params

            denoiser.to(self.frozen_dtype)  # the base weights: half the memory under autocast
            cast_training_params(denoiser, dtype=torch.float32)  # the LoRA's stay float32
        self.frozen_prompts: dict[str, torch.Tensor] = {}
        self.parked = self.caches()
        self.denoiser_name = self.family.architecture.denoiser_name
        return {self.denoiser_name: denoiser, **(text_encoders if config.train_text_encoder else {})}

    def caches(self) -> list:
        """With ``--cache-latents`` / ``--cache-text``, encode the photos / every prompt of the run once and
        move the VAE / the text encoders off the accelerator; returns the modules so parked (they come back
        for the validation images)."""
        config, parked = self.config, []
        self.latent_cache = None
        if config.cache_latents:
            examples = self.examples + self.class_examples
            self.latent_cache = LatentCache(
                self.vae, examples, self.resolution, self.accelerator.device, self.frozen_dtype
            )
            parked.append(self.vae)
        if config.cache_text:
            prompts = {example.caption for example in self.examples + self.class_examples}
            self.encode(sorted(prompts | ({self.class_prompt, ""} if config.sude_weight > 0 else set())))
            parked += [self.text_encoder, *self.second_encoders]
        for module in parked:
            module.to("cpu")
        return parked

    def set_up_optimization(self, trainable: dict) -> int:
        """Optimizer and LR schedule over the LoRA parameters, restored from the newest checkpoint on
        ``--resume``, and the modules wrapped by accelerate; returns the step the run starts at."""
        from diffusers.optimization import get_scheduler

        config = self.config
        self.parameters = [p for module in trainable.values() for p in module.parameters() if p.requires_grad]
        self.optimizer = adamw(config, self.accelerator.device)(self.parameters, lr=config.learning_rate)
        self.lr_scheduler = get_scheduler(
            config.lr_scheduler,
            optimizer=self.optimizer,
            num_warmup_steps=config.warmup_steps,
            num_training_steps=self.total_steps,
        )
        step = self.restore(trainable) if config.resume else 0
        prepared = self.accelerator.prepare(*trainable.values(), self.optimizer)
        self.wrapped, self.optimizer = dict(zip(trainable, prepared[:-1])), prepared[-1]
        return step

    def prior_examples(self) -> list[Example]:
        """The class images (generated by the main process if missing), captioned with the class prompt."""
        config = self.config
        class_dir = config.class_data_dir or config.out / CLASS_IMAGES
        if self.accelerator.is_main_process:
            generate_class_images(
                self.model_dir, self.class_prompt, class_dir, config.num_class_images, self.resolution, config.seed
            )
        self.accelerator.wait_for_everyone()
        return [Example(path, self.class_prompt) for path in class_images(class_dir)[: config.num_class_images]]

    def restore(self, trainable: dict) -> int:
        """Load the newest checkpoint into the LoRA, optimizer and scheduler; returns its step."""
        found = latest_checkpoint(self.checkpoint_root)
        if found is None:
            raise TrainingError(f"--resume: no checkpoint in {self.checkpoint_root}")
        step, tensors, state, _ = load_checkpoint(found)
        log.info("resuming %s from its checkpoint at step %d", self.config.out, step)
        load_trainable(trainable, tensors)
        self.optimizer.load_state_dict(state["optimizer"])
        self.lr_scheduler.load_state_dict(state["lr_scheduler"])
        return step

    @property
    def second_encoders(self) -> list:
        """SDXL's second text encoder or FLUX.1's T5, in a list (empty for SD 1.x)."""
        return [] if self.second_encoder is None else [self.second_encoder[1]]

    def token_ids(self, prompts: list[str], tokenizer=None) -> torch.Tensor:
        tokenizer = tokenizer or self.tokenizer
        return tokenizer(
            prompts,
            padding="max_length",
            max_length=tokenizer.model_max_length,
            truncation=True,
            return_tensors="pt",
        ).input_ids.to(self.accelerator.device)

    def encode(self, prompts: list[str]) -> Conditioning:
        """Prompt conditioning: through the trained text encoders, or, frozen, each prompt encoded once
        and reused."""
        if self.config.train_text_encoder:
            return self.encode_with(self.wrapped["text_encoder"], self.wrapped.get("text_encoder_2"), prompts)
        second = self.second_encoders[0] if self.second_encoders else None
        for prompt in set(prompts) - self.frozen_prompts.keys():
            with torch.no_grad():
                self.frozen_prompts[prompt] = self.encode_with(self.text_encoder, second, [prompt])
        return Conditioning.joined([self.frozen_prompts[prompt] for prompt in prompts])

    def encode_with(self, first, second, prompts: list[str]) -> Conditioning:
        """``prompts`` through the text encoders ``first`` and ``second`` (None for SD 1.x), as the family's
        diffusers pipeline encodes them: SD 1.x's last hidden states; SDXL's two encoders' penultimate
        hidden states side by side and the second's pooled projection; FLUX.1's T5 last hidden states and
        CLIP's pooled embedding."""
        ids = self.token_ids(prompts)
        if second is None:
            return Conditioning(first(ids)[0].float())
        ids_2 = self.token_ids(prompts, self.second_encoder[0])
        if self.family.objective == "flow":
            return Conditioning(second(ids_2)[0].float(), first(ids).pooler_output.float())
        one, two = first(ids, output_hidden_states=True), second(ids_2, output_hidden_states=True)
        states = torch.cat([one.hidden_states[-2], two.hidden_states[-2]], dim=-1)
        return Conditioning(states.float(), two.text_embeds.float())

    def predict(self, noisy: torch.Tensor, times: torch.Tensor, conditioning: Conditioning) -> torch.Tensor:
        """The denoiser's output for latents ``noisy`` (B, C, H, W) at ``times``, in full precision."""
        denoiser = self.wrapped[self.denoiser_name]
        if self.family.objective == "flow":
            guides = self.accelerator.unwrap_model(denoiser).config.guidance_embeds
            return flux_velocity(denoiser, noisy, times, conditioning, self.config.guidance if guides else None).float()
        return denoiser(noisy, times, **conditioning.unet_arguments(self.resolution, len(noisy))).sample.float()

    def denoising_loss(self, items: list[Example], generator: torch.Generator, evaluate_at: int | None = None):
        """Per-sample diffusion loss of ``items`` (and the prediction, noisy latents, timesteps), weighted
        by the masks with ``--face-loss-weight`` (``masked_loss``). The evaluation loss is never weighted,
        so it compares across runs with any weighting."""
        config, objective, vae = self.config, self.objective, self.vae
        training = evaluate_at is None
        weighted = config.face_loss_weight is not None and training
        if self.latent_cache is not None:
            latents, masks = self.latent_cache.sample(items, generator, flip=training, masks=weighted)
        else:
            pixels, masks = zip(
                *(
                    load_pixels(item, self.resolution, generator, CROP_SCALE, flip=training, masks=weighted)
                    for item in items
                )
            )
            pixels = torch.stack(pixels).to(self.accelerator.device, dtype=self.frozen_dtype)
            with torch.no_grad():
                latents = vae.encode(pixels).latent_dist.sample(generator=generator).float()
            masks = torch.stack(masks) if weighted else None
        latents = (latents - (vae.config.get("shift_factor") or 0.0)) * vae.config.scaling_factor
        noise = torch.randn(latents.shape, generator=generator)
        if config.noise_offset and training:
            noise = noise + config.noise_offset * torch.randn((*latents.shape[:2], 1, 1), generator=generator)
        timesteps = objective.draw(len(items), generator) if training else objective.at(evaluate_at, len(items))
        noise, timesteps = noise.to(latents.device), timesteps.to(latents.device)
        noisy = objective.noisy(latents, noise, timesteps)
        prediction = self.predict(noisy, timesteps, self.encode([item.caption for item in items]))
        target = objective.target(latents, noise, timesteps)
        weights = (
            loss_weights(masks.to(target.device), config.face_loss_weight, target.shape[-2:]) if weighted else None
        )
        per_sample = denoising_loss(prediction, target, weights)
        if config.snr_gamma and training:
            per_sample = per_sample * objective.snr_weights(timesteps, config.snr_gamma)
        return per_sample, prediction, noisy, timesteps

    def micro_step_loss(self, micro: int, batch: list[int]):
        """The loss of one micro-batch: diffusion, plus prior preservation and SuDe when enabled."""
        config, process = self.config, self.accelerator.process_index
        per_sample, prediction, noisy, timesteps = self.denoising_loss(
            [self.examples[i] for i in batch], step_generator(config.seed, micro, process)
        )
        loss, parts = per_sample.mean(), {"diffusion_loss": float(per_sample.detach().mean())}
        if self.class_examples:
            prior_batch = batch_indices(
                len(self.class_examples),
                config.batch_size,
                config.seed + 1,
                micro,
                process,
                self.accelerator.num_processes,
            )
            prior = self.denoising_loss(
                [self.class_examples[i] for i in prior_batch], step_generator(config.seed, micro, process, 1)
            )[0].mean()
            loss = loss + config.prior_loss_weight * prior
            parts["prior_loss"] = float(prior.detach())
        if config.sude_weight > 0:
            with torch.no_grad():  # the category and empty prompts' predictions: one call of twice the batch
                category_prompt, empty_prompt = self.encode([self.class_prompt]), self.encode([""])
                both = Conditioning.joined([category_prompt.repeat(len(noisy)), empty_prompt.repeat(len(noisy))])
                category, empty = self.predict(
                    torch.cat([noisy, noisy]), torch.cat([timesteps, timesteps]), both
                ).chunk(2)
            sude = self.objective.sude(noisy, timesteps, prediction, category, empty)
            loss = loss + config.sude_weight * sude.loss.mean()
            parts.update(sude_loss=float(sude.loss.detach().mean()), sude_mask=float(sude.mask.mean()))
        return loss, parts

    def evaluation_loss(self) -> float:
        """Diffusion loss on fixed images, noise and timesteps: comparable across steps and runs."""
        pairs = [(example, t) for example in range(min(4, len(self.examples))) for t in EVAL_TIMESTEPS]
        with torch.no_grad():
            values = [
                float(
                    self.denoising_loss(
                        [self.examples[example]], step_generator(self.config.seed, 10**9 + j), evaluate_at=t
                    )[0].mean()
                )
                for j, (example, t) in enumerate(pairs)
            ]
        return sum(values) / len(values)

    def record(self, entry: dict) -> None:
        if self.accelerator.is_main_process:
            self.log.append(entry)
            append_to_log(self.config.out, entry)

    def optimizer_step(self):
        """One optimizer step over ``gradient_accumulation`` micro-batches; (last loss, its parts)."""
        config, accelerator = self.config, self.accelerator
        for micro in range(config.gradient_accumulation):
            index = self.step * config.gradient_accumulation + micro
            batch = batch_indices(
                len(self.examples),
                config.batch_size,
                config.seed,
                index,
                accelerator.process_index,
                accelerator.num_processes,
            )
            with accelerator.accumulate(*self.wrapped.values()):
                loss, parts = self.micro_step_loss(index, batch)
                accelerator.backward(loss)
                if accelerator.sync_gradients and config.max_grad_norm:
                    accelerator.clip_grad_norm_(self.parameters, config.max_grad_norm)
                self.optimizer.step()
                self.optimizer.zero_grad()
        self.lr_scheduler.step()
        self.step += 1
        return loss, parts

    def run(self, progress: Progress | None = None) -> TrainResult:
        config, accelerator = self.config, self.accelerator
        started = time.perf_counter()
        try:
            if self.step == 0:
                self.record({"step": 0, "eval_loss": self.evaluation_loss()})
            while self.step < self.total_steps:
                loss, parts = self.optimizer_step()
                step = self.step
                if progress and accelerator.is_main_process:
                    progress(step, self.total_steps, f"loss={float(loss.detach()):.4f}")
                if step % config.log_every == 0 or step == self.total_steps:
                    self.record(
                        {
                            "step": step,
                            "loss": float(loss.detach()),
                            **parts,
                            "lr": self.lr_scheduler.get_last_lr()[0],
                            "seconds": round(time.perf_counter() - started, 3),
                        }
                    )
                if step % self.checkpoint_every == 0 and step < self.total_steps:
                    accelerator.wait_for_everyone()
                    if accelerator.is_main_process:
                        save_checkpoint(
                            self.checkpoint_root,
                            step,
                            trainable_tensors(accelerator, self.wrapped),
                            self.optimizer,
                            self.lr_scheduler,
                            self.meta,
                            config.keep_checkpoints,
                        )
                        log.info("checkpoint at step %d of %d in %s", step, self.total_steps, self.checkpoint_root)
        except torch.OutOfMemoryError:
            raise TrainingOutOfMemory(
                f"out of memory at resolution {self.resolution}, batch size {config.batch_size}: {OUT_OF_MEMORY_ADVICE}"
            ) from None
        accelerator.wait_for_everyone()
        self.record({"step": self.step, "eval_loss": self.evaluation_loss()})
        if accelerator.is_main_process:
            self.write_outputs()
        accelerator.wait_for_everyone()
        accelerator.end_training()
        return TrainResult(config.out, config.out / LORA_FILE, self.step, self.meta["base_model"], self.tiny, self.log)

    def validation_pipeline(self):
        """The family's diffusers pipeline on the trained modules, with a DPM-Solver++ scheduler for SD
        (FLUX.1 samples with its own flow-matching Euler scheduler)."""
        import diffusers

        unwrap = self.accelerator.unwrap_model
        scheduler = self.noise_scheduler
        if self.family.objective != "flow":
            scheduler = diffusers.DPMSolverMultistepScheduler.from_config(scheduler.config)
        components = {
            "vae": self.vae,
            "text_encoder": unwrap(self.wrapped.get("text_encoder", self.text_encoder)),
            "tokenizer": self.tokenizer,
            self.denoiser_name: unwrap(self.wrapped[self.denoiser_name]),
            "scheduler": scheduler,
        }
        if self.second_encoder is not None:
            second = unwrap(self.wrapped.get("text_encoder_2", self.second_encoder[1]))
            components.update(tokenizer_2=self.second_encoder[0], text_encoder_2=second)
        else:
            components.update(safety_checker=None, feature_extractor=None, requires_safety_checker=False)
        pipe = getattr(diffusers, self.family.pipeline)(**components)
        pipe.set_progress_bar_config(disable=True)
        return pipe

    def write_outputs(self) -> None:
        """The LoRA (and kohya export), validation grid, training.json and model card."""
        config, accelerator = self.config, self.accelerator
        lora_file = save_lora(accelerator, self.wrapped, config.out, self.family.pipeline)
        if "kohya" in config.export:
            export_kohya(lora_file, family=self.family.name)
        info = {
            **self.meta,
            "steps": self.step,
            "resolution": self.resolution,
            "trigger": self.identity.get("trigger"),
            "class_prompt": self.class_prompt,
            "validation_prompt": self.examples[0].caption,
            "notice": TINY_NOTICE if self.tiny else None,
        }
        if config.validation_images:
            for module in self.parked:
                module.to(accelerator.device)
            if not accelerator.native_amp:  # no autocast here (fp16 on a CPU) to mix half and full precision
                for module in (self.vae, self.text_encoder, *self.second_encoders):
                    module.to(torch.float32)
            validation_images(
                config, info["validation_prompt"], self.resolution, accelerator.autocast, self.validation_pipeline()
            ).save(config.out / VALIDATION_GRID)
        if "reference_crop" in self.identity:  # generation ranks portraits against this face
            shutil.copyfile(self.identity["reference_crop"], config.out / REFERENCE_FILE)
        write_training_record(config.out, info)
        write_model_card(config.out, info, self.log)


def validation_images(config: TrainConfig, prompt: str, resolution: int, autocast, pipe):
    """A grid of ``config.validation_images`` images from the trained model's ``pipe`` (fixed seeds), under
    the run's autocast so half-precision frozen parts and full-precision LoRA parts mix."""
    count = config.validation_images
    with torch.no_grad(), autocast():
        images = pipe(
            [prompt] * count,
            height=resolution,
            width=resolution,
            num_inference_steps=config.validation_steps,
            generator=[torch.Generator().manual_seed(config.seed + i) for i in range(count)],
        ).images
    return image_grid(images, columns=min(4, count))


def second_text_encoder(model_dir: Path, family: Family):
    """The family's second tokenizer and text encoder, frozen; None for SD 1.x, which has one."""
    import transformers

    if family.second_encoder is None:
        return None
    tokenizer_class, encoder_class = (getattr(transformers, name) for name in family.second_encoder)
    with model_loading():
        tokenizer = tokenizer_class.from_pretrained(model_dir, subfolder="tokenizer_2")
        encoder = encoder_class.from_pretrained(model_dir, subfolder="text_encoder_2")
    encoder.requires_grad_(False)
    return tokenizer, encoder


def load_models(model_dir: Path, config: TrainConfig, family: Family = FAMILIES["sd15"]):
    """(tokenizer, text encoder, VAE, denoiser, scheduler), frozen, with the denoiser's LoRA adapter: the
    family's denoiser (UNet or FLUX.1's transformer) and the scheduler its objective trains on (DDPM, or
    FLUX.1's flow-matching one, which its pipeline also samples with)."""
    import diffusers
    from transformers import CLIPTextModel, CLIPTokenizer

    denoiser_model = family.architecture.denoiser
    scheduler_class = "FlowMatchEulerDiscreteScheduler" if family.objective == "flow" else "DDPMScheduler"
    with model_loading():
        tokenizer = CLIPTokenizer.from_pretrained(model_dir, subfolder="tokenizer")
        text_encoder = CLIPTextModel.from_pretrained(model_dir, subfolder="text_encoder")
        vae = diffusers.AutoencoderKL.from_pretrained(model_dir, subfolder="vae")
        denoiser = getattr(diffusers, denoiser_model.class_name).from_pretrained(
            model_dir, subfolder=family.architecture.denoiser_name
        )
        noise_scheduler = getattr(diffusers, scheduler_class).from_pretrained(model_dir, subfolder="scheduler")
    for module in (text_encoder, vae, denoiser):
        module.requires_grad_(False)
    torch.manual_seed(config.seed)  # the LoRA initialisation: same seed, same starting weights
    denoiser.add_adapter(lora_config(config, denoiser_model.lora_targets))
    if config.gradient_checkpointing:
        denoiser.enable_gradient_checkpointing()
    return tokenizer, text_encoder, vae, denoiser, noise_scheduler


def adamw(config: TrainConfig, device: torch.device):
    """The optimizer class of ``--optimizer``: torch's AdamW, or bitsandbytes' 8-bit AdamW (Dettmers et al.,
    "8-bit Optimizers via Block-wise Quantization", ICLR 2022: both moments in 8 bits, 2 bytes of state per
    parameter instead of 8), which needs a CUDA device. ``--low-vram`` picks it on CUDA when installed."""
    wanted = config.optimizer
    if config.low_vram and device.type == "cuda" and wanted == "adamw":
        wanted = "adamw8bit" if importlib.util.find_spec("bitsandbytes") else "adamw"
        if wanted == "adamw":
            log.warning(
                "--low-vram: bitsandbytes is not installed, so AdamW keeps 32-bit state; "
                "pip install 'facechain[gpu]' for 8-bit AdamW"
            )
    if wanted == "adamw":
        return torch.optim.AdamW
    if device.type != "cuda":
        raise TrainingError(f"--optimizer adamw8bit runs on a CUDA GPU and this run is on {device.type}: use adamw")
    try:
        import bitsandbytes
    except ImportError:
        raise TrainingError("--optimizer adamw8bit needs bitsandbytes: pip install 'facechain[gpu]'") from None
    return bitsandbytes.optim.AdamW8bit
