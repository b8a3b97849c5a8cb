"""Training options and errors, importable without torch (the CLI builds its --help from the defaults)."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from ..errors import FacechainError


class TrainingError(FacechainError):
    """A training problem with a message that says what to do."""


@dataclass
class TrainConfig:
    """Everything a run needs. Defaults follow FaceChain's LoRA training (rank 4, lr 1e-4, cosine,
    batch 1, 512 px, 200 epochs over the photos) and SuDe's default weight 0.4."""

    dataset: Path
    out: Path
    base_model: str | None = None
    tiny: bool = False
    resolution: int | None = None
    steps: int | None = None
    epochs: int = 200
    batch_size: int = 1
    gradient_accumulation: int = 1
    learning_rate: float = 1e-4
    lr_scheduler: str = "cosine"
    warmup_steps: int = 0
    rank: int = 4
    alpha: float | None = None
    train_text_encoder: bool = False
    sude_weight: float = 0.4
    class_prompt: str | None = None
    mixed_precision: str = "no"
    gradient_checkpointing: bool = False
    snr_gamma: float | None = None
    noise_offset: float = 0.0
    max_grad_norm: float = 1.0
    checkpoint_every: int = 100
    keep_checkpoints: int = 2
    resume: bool = False
    seed: int = 42
    log_every: int = 1
    export: tuple[str, ...] = ()
    prior_preservation: bool = False
    class_data_dir: Path | None = None
    num_class_images: int = 50
    prior_loss_weight: float = 1.0
    validation_images: int = 4
    validation_steps: int = 25

    def __post_init__(self):
        self.dataset, self.out = Path(self.dataset), Path(self.out)
        self.class_data_dir = Path(self.class_data_dir) if self.class_data_dir else None
        if self.mixed_precision not in ("no", "fp16", "bf16"):
            raise ValueError(f"mixed_precision must be no, fp16 or bf16, got {self.mixed_precision!r}")
        for name in ("batch_size", "gradient_accumulation", "rank", "epochs", "checkpoint_every", "log_every"):
            if getattr(self, name) < 1:
                raise ValueError(f"{name} must be at least 1, got {getattr(self, name)}")
        unknown = set(self.export) - {"kohya"}
        if unknown:
            raise ValueError(f"unknown export format(s) {sorted(unknown)}: the choice is kohya")
        if self.sude_weight < 0:
            raise ValueError(f"sude_weight must be >= 0, got {self.sude_weight}")
