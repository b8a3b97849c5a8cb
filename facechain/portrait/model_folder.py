"""The trained model folder: the one owner of its layout, read by generation, the app and resume.

pytorch_lora_weights.safetensors   the LoRA, in the layout plain diffusers loads
lora_kohya.safetensors             the same LoRA for A1111 / ComfyUI (with --export kohya)
training.json                      written last: its presence means a finished run (base model,
                                   steps, resolution, trigger, class prompt, configuration)
reference.png                      the dataset's reference face: generation ranks portraits against it
train_log.jsonl                    one JSON line per logged step (losses, learning rate, time)
checkpoints/                       resumable states (see facechain.checkpoints)
class_images/                      prior-preservation images, when that option is on
validation.png, loss_curve.png, README.md   the model card and its pictures
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path

from pipelines.lora_files import LORA_WEIGHTS

from ..atomic import staged_file
from .generation.request import GenerationError

LORA_FILE = LORA_WEIGHTS
KOHYA_FILE = "lora_kohya.safetensors"
TRAINING_FILE = "training.json"
REFERENCE_FILE = "reference.png"
LOG_FILE = "train_log.jsonl"
CHECKPOINTS = "checkpoints"
CLASS_IMAGES = "class_images"
VALIDATION_GRID = "validation.png"
LOSS_CURVE = "loss_curve.png"
MODEL_CARD = "README.md"
IDENTITY_EMBEDDINGS = "identity-{engine}.safetensors"
"""The training photos' identity embeddings by one face engine, kept when generation first reads the
photos: the likeness percent still works after the training set is deleted."""


class NotATrainedModel(GenerationError):
    """A folder without a finished run's ``training.json`` (a ``GenerationError``: generation reads it)."""


def finished_run(folder: Path) -> dict | None:
    """The ``training.json`` record of a finished run in ``folder``, or None if there is none."""
    info = Path(folder) / TRAINING_FILE
    return json.loads(info.read_text(encoding="utf-8")) if info.is_file() else None


def write_training_record(folder: Path, info: dict) -> None:
    """Write ``training.json`` whole (it marks the run finished, so never half-written)."""
    with staged_file(Path(folder) / TRAINING_FILE) as staging:
        staging.write_text(json.dumps(info, indent=2), encoding="utf-8")


def restart_log(folder: Path, step: int) -> list[dict]:
    """The log's entries up to ``step``, rewritten so a run resumed there continues it without duplicates
    (a new run, step 0, starts an empty log)."""
    log = Path(folder) / LOG_FILE
    log.parent.mkdir(parents=True, exist_ok=True)
    kept = []
    if step and log.is_file():
        kept = [
            entry for entry in map(json.loads, log.read_text(encoding="utf-8").splitlines()) if entry["step"] <= step
        ]
    log.write_text("".join(json.dumps(entry) + "\n" for entry in kept), encoding="utf-8")
    return kept


def append_to_log(folder: Path, entry: dict) -> None:
    """One more line of the run's log (a JSON object with at least its ``step``)."""
    with open(Path(folder) / LOG_FILE, "a", encoding="utf-8") as stream:
        stream.write(json.dumps(entry) + "\n")


def logged_losses(folder: Path) -> list[tuple[int, float]]:
    """(step, loss) of every logged training step of the run in ``folder`` (a resume first cuts the log
    back to its checkpoint, so the log is always one run, start to now)."""
    log = Path(folder) / LOG_FILE
    if not log.is_file():
        return []
    entries = [json.loads(line) for line in log.read_text(encoding="utf-8").splitlines() if line.strip()]
    return [(entry["step"], entry["loss"]) for entry in entries if "loss" in entry]


def family_title(info: dict) -> str:
    """How messages name the family a finished run trained on (``training.json``'s "family"; runs from before
    it was recorded are SD 1.x's)."""
    from ..diffusion.families import FAMILIES

    return FAMILIES[info.get("family", "sd15")].title


def trained_models(root: Path) -> list[tuple[Path, dict]]:
    """(folder, training record) of every finished run directly under ``root``, newest first."""
    found = [(path, info) for path in Path(root).glob("*") if (info := finished_run(path)) is not None]
    return sorted(found, key=lambda item: item[0].stat().st_mtime, reverse=True)


@dataclass
class TrainedModel:
    """What generation needs from a trained model folder: its LoRA, base model and identity."""

    folder: Path
    lora: Path
    base_model: str
    tiny: bool
    trigger: str | None
    class_prompt: str | None
    resolution: int
    dataset: Path | None = None

    @property
    def reference(self) -> Path:
        return self.folder / REFERENCE_FILE

    @property
    def identity_photos(self) -> list[Path]:
        """The training set's aligned crops (the person's kept photos), when that folder is still there:
        generation measures the person's own consistency on them (``generation.likeness``)."""
        images = self.dataset / "images" if self.dataset else None
        return sorted(images.glob("*.png")) if images is not None and images.is_dir() else []

    def identity_embeddings_file(self, engine: str) -> Path:
        return self.folder / IDENTITY_EMBEDDINGS.format(engine=engine)

    @classmethod
    def open(cls, folder: Path) -> TrainedModel:
        """Read ``folder``'s training record; ``NotATrainedModel`` (saying how to make one) without it."""
        folder = Path(folder)
        info = finished_run(folder)
        if info is None:
            raise NotATrainedModel(
                f"{folder} is not a trained model folder (no {TRAINING_FILE}): train one with "
                f"`facechain train DATASET --out {folder}`"
            )
        return cls(
            folder,
            folder / LORA_FILE,
            info["base_model"],
            bool(info.get("tiny")),
            info.get("trigger"),
            info.get("class_prompt"),
            int(info.get("resolution") or 512),
            Path(info["config"]["dataset"]) if info.get("config", {}).get("dataset") else None,
        )
