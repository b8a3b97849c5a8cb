"""Find the base model's files: a local folder, else the Hugging Face cache, else the hub, with one
clear error when none of them has it (the usual case offline)."""

from __future__ import annotations

import os
from pathlib import Path

from ..config import Settings
from ..errors import BadArguments, EnvironmentProblem
from .tiny import ensure_tiny_model, tiny_folder

PIPELINE_FILES = [
    "model_index.json",
    "*.json",
    "*.txt",
    "unet/*.safetensors",
    "vae/*.safetensors",
    "text_encoder/*.safetensors",
    "tokenizer/*",
]
"""What training needs from a hub repository: configs, tokenizer and safetensors weights only."""


class BaseModelUnavailable(EnvironmentProblem):
    """The base model is neither a local diffusers folder nor cached, and cannot be downloaded."""


def locally_available(name: str | None, settings: Settings) -> Path | None:
    """The base model's folder if it is on disk (a local folder or the Hugging Face cache); never
    downloads, so the app can say at start-up what is missing."""
    name = name or settings.base_model
    local = Path(name).expanduser()
    if local.exists():
        return local if (local / "model_index.json").is_file() or (local / "unet").is_dir() else None
    return cached_snapshot(name, PIPELINE_FILES)


def cached_snapshot(repo_id: str, patterns: list[str]) -> Path | None:
    """The hub repository's files in the local Hugging Face cache, or None; never downloads."""
    from huggingface_hub import snapshot_download

    try:
        return Path(snapshot_download(repo_id, allow_patterns=patterns, local_files_only=True))
    except Exception:  # not cached, or not a valid id: either way not available here
        return None


def downloaded_snapshot(repo_id: str, patterns: list[str]) -> tuple[Path | None, str]:
    """(folder, "") after fetching the hub repository's files, else (None, why not): offline mode set,
    network, authentication, unknown repository."""
    if os.environ.get("HF_HUB_OFFLINE", "").lower() in ("1", "true", "yes"):
        return None, "HF_HUB_OFFLINE is set"
    from huggingface_hub import snapshot_download

    try:
        return Path(snapshot_download(repo_id, allow_patterns=patterns)), ""
    except Exception as failure:  # network, auth, unknown repository: one message for all
        return None, f"{type(failure).__name__}: {str(failure).splitlines()[0] if str(failure) else ''}"


def resolve_base_model(name: str | None, settings: Settings, tiny: bool | str = False) -> Path:
    """A local folder in diffusers' layout holding the base model; ``tiny``: the tiny offline model (of
    that family when it names one)."""
    if tiny:
        family = tiny if isinstance(tiny, str) else "sd15"
        return ensure_tiny_model(tiny_folder(settings.home, family), family)
    name = name or settings.base_model
    found = locally_available(name, settings)
    if found is not None:
        return found
    local = Path(name).expanduser()
    if local.is_file() and local.suffix == ".safetensors":
        from .families import checkpoint_family

        raise BadArguments(
            f"{name} is a single-file {checkpoint_family(local).title} checkpoint; facechain loads diffusers model "
            "folders: convert it once with diffusers (e.g. StableDiffusionPipeline.from_single_file(PATH)"
            ".save_pretrained(FOLDER)) and give the folder"
        )
    if local.exists():
        raise BadArguments(
            f"{name} is not a diffusers model folder (no model_index.json, no unet/): give the folder "
            f"that holds model_index.json"
        )
    downloaded, error = downloaded_snapshot(name, PIPELINE_FILES)
    if downloaded is not None:
        return downloaded
    raise BaseModelUnavailable(
        f"base model '{name}' is not in the local Hugging Face cache and could not be downloaded ({error}). "
        f"Give a local diffusers folder with --base-model PATH (or FACECHAIN_BASE_MODEL), point HF_HOME at a cache "
        f"that holds it, or use --tiny for the offline demo model."
    )
