"""Training options and errors, importable without torch: the CLI builds ``facechain train``'s options,
their help and their defaults from these fields, so each is declared once."""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from pathlib import Path

from ...errors import BadArguments, EnvironmentProblem
from ...validation import check_between, check_resolution, check_seed, option

MAX_STEPS = 100_000
MAX_CHECKPOINT_INTERVAL = 100
"""The automatic checkpoint interval: a fifth of the run, at most 100 steps, so an interruption loses at
most a fifth of a short run (a 50-step demo checkpoints every 10 steps) and at most 100 steps of a long
one; a LoRA checkpoint (weights + AdamW state) is a few MB, so keeping two costs nothing."""

TINY_FAMILIES = ("sd15", "sdxl", "flux1")
"""The families with a tiny offline model (``diffusion.tiny.TINY_BUILDERS``; no torch import here)."""

MAX_FACE_LOSS_WEIGHT = 100
"""At 100 the background's loss weight (1/W) is 1%: past that it is as good as left out."""


class TrainingError(BadArguments):
    """A training problem with a message that says what to do."""


class TrainingOutOfMemory(EnvironmentProblem):
    """The run does not fit in this machine's memory at these settings."""


@dataclass
class TrainConfig:
    """Everything a run needs. Defaults follow FaceChain's LoRA training (rank 4, lr 1e-4, cosine,
    batch 1, 512 px, 200 epochs over the photos) and SuDe's default weight 0.4."""

    dataset: Path = field(metadata={"help": "folder with metadata.jsonl (from facechain prepare)"})
    out: Path = field(metadata={"help": "model folder to write"})
    base_model: str | None = option(
        None, "hub id or local diffusers folder (default: FACECHAIN_BASE_MODEL, else SD 1.5)"
    )
    tiny: str | None = option(
        None,
        "use the tiny offline model of a family, sd15 (alone: --tiny), sdxl or flux1: a demo of the workflow, "
        "not of quality",
        nargs="?",
        const="sd15",
        choices=TINY_FAMILIES,
    )
    resolution: int | None = option(
        None, "training resolution, a multiple of 8 (default: the family's: 512 SD 1.x, 1024 SDXL and FLUX.1; 64 tiny)"
    )
    steps: int | None = option(None, "optimizer steps (default: --epochs over the photos)")
    epochs: int = option(200, "passes over the photos when --steps is not given")
    batch_size: int = option(1, "images per micro-batch")
    gradient_accumulation: int = option(1, "micro-batches per optimizer step (a larger batch in the same memory)")
    learning_rate: float = option(1e-4, "AdamW learning rate of the LoRA weights")
    lr_scheduler: str = option("cosine", "any diffusers scheduler name: cosine, constant, linear, ...")
    warmup_steps: int = option(0, "steps of linear learning-rate warm-up")
    rank: int = option(4, "LoRA rank")
    alpha: float | None = option(None, "LoRA alpha (default: the rank)")
    train_text_encoder: bool = option(False, "also train LoRAs on the text encoders (SD 1.x's one, SDXL's two)")
    sude_weight: float = option(0.4, "SuDe regularization weight; 0 disables")
    class_prompt: str | None = option(None, "category prompt for SuDe (default: the dataset's class phrase)")
    mixed_precision: str = option(
        "no",
        "precision of the forward pass and of the frozen weights (the base model's included, where the device "
        "has autocast: CUDA, or bf16 on a CPU); the LoRA weights stay float32",
        choices=("no", "fp16", "bf16"),
    )
    gradient_checkpointing: bool = option(False, "trade compute for memory")
    cache_latents: bool = option(
        False,
        "encode each photo and its mirror image with the VAE once, before training, and keep the VAE off the "
        "accelerator: less memory and time per step; photos are then used whole (no random crop)",
    )
    cache_text: bool = option(
        False,
        "encode every prompt once, before training, and keep the text encoders off the accelerator (FLUX.1's "
        "T5 is 9.5 GB in bf16); not with --train-text-encoder",
    )
    optimizer: str = option(
        "adamw",
        "adamw, or adamw8bit: bitsandbytes' 8-bit AdamW, a quarter of AdamW's state memory, on a CUDA GPU "
        "(pip install 'facechain[gpu]')",
        choices=("adamw", "adamw8bit"),
    )
    fit_check: bool = option(
        True,
        "on a CUDA GPU, refuse up front a run whose estimated memory exceeds the GPU's free memory, naming the "
        "flags that would fit (--no-fit-check: try anyway)",
    )
    low_vram: bool = option(
        False,
        "the preset for cards of 24 GB and less: --gradient-checkpointing --cache-latents --cache-text "
        "--mixed-precision bf16 (unless fp16 is chosen), and --optimizer adamw8bit on a CUDA GPU",
    )
    snr_gamma: float | None = option(None, "min-SNR loss weighting (5.0 is typical; default: off)")
    noise_offset: float = option(0.0, "offset noise strength (0.05-0.1 widens the brightness range)")
    guidance: float = option(
        1.0,
        "FLUX.1-dev only: the value its guidance embedding reads while training (the distilled CFG scale; "
        "1 trains the LoRA at neutral guidance, sampling then uses its own, 3.5 by default)",
    )
    face_loss_weight: float | None = option(
        None,
        "weigh the denoising loss by the masks prepare writes: face pixels this many times the rest of the "
        "photo, the area filled outside the photo 0 (1: only leave out the fill; default: off, all pixels alike)",
    )
    max_grad_norm: float = option(1.0, "clip the gradient norm to this; 0 disables")
    checkpoint_every: int | None = option(
        None, "steps between resumable checkpoints (default: a fifth of the run, at most 100)"
    )
    keep_checkpoints: int = option(2, "newest checkpoints kept; 0 keeps all")
    resume: bool = option(False, "continue from the newest checkpoint in --out")
    seed: int = option(42, "seed of the LoRA initialisation, the noise and the batches")
    log_every: int = option(1, "steps between lines of train_log.jsonl")
    export: tuple[str, ...] = option(
        (), "also write the LoRA as lora_kohya.safetensors for A1111 / ComfyUI", choices=("kohya",)
    )
    prior_preservation: bool = option(
        False, "DreamBooth prior preservation with class images (generated by the base model when missing)"
    )
    class_data_dir: Path | None = option(None, "class images (default: OUT/class_images)")
    num_class_images: int = option(50, "class images for prior preservation")
    prior_loss_weight: float = option(1.0, "weight of the prior-preservation loss")
    validation_images: int = option(4, "images generated with the trained LoRA at the end (0: none)")
    validation_steps: int = option(25, "sampling steps for the validation images")

    def __post_init__(self):
        self.dataset, self.out = Path(self.dataset), Path(self.out)
        self.class_data_dir = Path(self.class_data_dir) if self.class_data_dir else None
        self.export = tuple(self.export)
        if self.tiny is True:  # the Python API's and the app's --tiny: SD 1.5's tiny model
            self.tiny = "sd15"
        if self.tiny not in (None, False, *TINY_FAMILIES):
            raise TrainingError(f"--tiny takes one of {', '.join(TINY_FAMILIES)}, not {self.tiny!r}")
        self.tiny = self.tiny or None
        if self.mixed_precision not in ("no", "fp16", "bf16"):
            raise TrainingError(f"--mixed-precision must be no, fp16 or bf16, got {self.mixed_precision!r}")
        for name in ("batch_size", "gradient_accumulation", "rank", "epochs", "log_every"):
            if getattr(self, name) < 1:
                raise TrainingError(f"--{name.replace('_', '-')} must be at least 1, got {getattr(self, name)}")
        check_between(
            "--steps", self.steps, 1, MAX_STEPS, " (omit it to train --epochs over the photos)", TrainingError
        )
        for name, low, high in (
            ("checkpoint_every", 1, MAX_STEPS),
            ("learning_rate", 1e-8, 1.0),
            ("warmup_steps", 0, MAX_STEPS),
            ("keep_checkpoints", 0, 1000),
            ("num_class_images", 1, 10_000),
            ("validation_images", 0, 16),
            ("validation_steps", 1, 1000),
            ("face_loss_weight", 1, MAX_FACE_LOSS_WEIGHT),
            ("guidance", 0, 100),
        ):
            check_between("--" + name.replace("_", "-"), getattr(self, name), low, high, error=TrainingError)
        check_resolution("--resolution", self.resolution, error=TrainingError)
        check_seed("--seed", self.seed, error=TrainingError)
        unknown = set(self.export) - {"kohya"}
        if unknown:
            raise TrainingError(f"unknown export format(s) {sorted(unknown)}: the choice is kohya")
        if self.optimizer not in ("adamw", "adamw8bit"):
            raise TrainingError(f"--optimizer must be adamw or adamw8bit, got {self.optimizer!r}")
        if self.low_vram:
            self.gradient_checkpointing = self.cache_latents = True
            self.cache_text = not self.train_text_encoder
            self.mixed_precision = "bf16" if self.mixed_precision == "no" else self.mixed_precision
        if self.cache_text and self.train_text_encoder:
            raise TrainingError("--cache-text keeps the text encoders frozen: drop it or --train-text-encoder")
        if self.sude_weight < 0:
            raise TrainingError(f"--sude-weight must be >= 0, got {self.sude_weight}")

    def checkpoint_interval(self, total_steps: int) -> int:
        """Steps between checkpoints: ``checkpoint_every``, else a fifth of the run, at most 100."""
        if self.checkpoint_every:
            return self.checkpoint_every
        return max(1, min(MAX_CHECKPOINT_INTERVAL, math.ceil(total_steps / 5)))
