"""Training checkpoints: written whole or not at all (temporary folder, then rename), the newest few
kept, loaded back with ``weights_only=True`` (nothing is unpickled)."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import torch
from safetensors.torch import load_file, save_file

from .atomic import staged_folder

PREFIX = "step-"


def checkpoint_dir(root: Path, step: int) -> Path:
    return root / f"{PREFIX}{step:07d}"


def save_checkpoint(
    root: Path, step: int, trainable: dict[str, torch.Tensor], optimizer, lr_scheduler, meta: dict, keep: int
) -> Path:
    final = checkpoint_dir(root, step)
    with staged_folder(final) as staging:
        save_file(
            {name: tensor.detach().float().cpu().contiguous() for name, tensor in trainable.items()},
            str(staging / "trainable.safetensors"),
        )
        torch.save(
            {"optimizer": optimizer.state_dict(), "lr_scheduler": lr_scheduler.state_dict()}, staging / "state.pt"
        )
        (staging / "meta.json").write_text(json.dumps({"step": step, **meta}, indent=2))
    for old in finished_checkpoints(root)[:-keep] if keep > 0 else []:
        shutil.rmtree(old, ignore_errors=True)
    return final


def finished_checkpoints(root: Path) -> list[Path]:
    """Complete checkpoints, oldest first (a staging folder or one without meta.json is not one)."""
    return sorted(path for path in root.glob(f"{PREFIX}[0-9]*[0-9]") if (path / "meta.json").is_file())


def latest_checkpoint(root: Path) -> Path | None:
    found = finished_checkpoints(root)
    return found[-1] if found else None


def load_checkpoint(path: Path):
    """(step, trainable tensors, optimizer+scheduler state, meta)."""
    meta = json.loads((path / "meta.json").read_text())
    trainable = load_file(str(path / "trainable.safetensors"))
    state = torch.load(path / "state.pt", map_location="cpu", weights_only=True)
    return meta["step"], trainable, state, meta
