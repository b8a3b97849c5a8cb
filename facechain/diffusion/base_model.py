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
    "transformer/*.safetensors",
    "vae/*.safetensors",
    "text_encoder/*.safetensors",
    "text_encoder_2/*.safetensors",
    "tokenizer/*",
    "tokenizer_2/*",
]
"""What training and generation need from a hub repository of any family: configs, tokenizers (SDXL's and
FLUX.1's second ones included) and safetensors weights only, in the components' folders (not the
single-file checkpoints some repositories also hold at their root)."""
CONVERTED = "converted"
"""Where single-file checkpoints are kept once converted to diffusers folders, under facechain's home."""


class BaseModelUnavailable(EnvironmentProblem):
    """The base model is neither a local diffusers folder nor cached, and cannot be downloaded."""


def locally_available(name: str | None, settings: Settings) -> Path | None:
    """The base model's folder if it is on disk (a local folder or the Hugging Face cache); never
    downloads, so the app can say at start-up what is missing."""
    name = name or settings.base_model
    local = Path(name).expanduser()
    if local.exists():
        is_folder = any((local / part).exists() for part in ("model_index.json", "unet", "transformer"))
        return local if is_folder else None
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
        return converted_checkpoint(local, settings)
    if local.exists():
        raise BadArguments(
            f"{name} is not a diffusers model folder (no model_index.json, no unet/ or transformer/) nor a "
            ".safetensors checkpoint: give the folder that holds model_index.json, or the checkpoint file"
        )
    downloaded, error = downloaded_snapshot(name, PIPELINE_FILES)
    if downloaded is not None:
        return downloaded
    raise BaseModelUnavailable(
        f"base model '{name}' is not in the local Hugging Face cache and could not be downloaded ({error}). "
        f"Give a local diffusers folder with --base-model PATH (or FACECHAIN_BASE_MODEL), point HF_HOME at a cache "
        f"that holds it, or use --tiny for the offline demo model."
    )


def converted_checkpoint(path: Path, settings: Settings) -> Path:
    """The diffusers folder of a single-file checkpoint (an A1111/ComfyUI ``.safetensors`` of any family, e.g. a
    realistic SDXL fine-tune), converted once by diffusers' ``from_single_file`` into facechain's home and
    reused while the file is unchanged (the folder is named by the file's name, size and modification
    time). The conversion reads the family's configs from the Hugging Face hub or its cache (diffusers
    needs the layout of the original model); weights keep the checkpoint's precision."""
    import diffusers
    import torch

    from ..atomic import staged_folder
    from ..model_loading import model_loading
    from .families import checkpoint_family, safetensors_header

    family = checkpoint_family(path)
    stat = path.stat()
    folder = settings.home / CONVERTED / f"{path.stem}-{family.name}-{stat.st_size}-{stat.st_mtime_ns}"
    if (folder / "model_index.json").is_file():
        return folder
    dtypes = [entry["dtype"] for entry in safetensors_header(path).values()]
    dtype = {"F16": torch.float16, "BF16": torch.bfloat16}.get(max(set(dtypes), key=dtypes.count), torch.float32)
    try:
        with model_loading(), staged_folder(folder) as staging:
            pipe = getattr(diffusers, family.pipeline).from_single_file(str(path), torch_dtype=dtype)
            pipe.save_pretrained(staging, safe_serialization=True)
    except Exception as error:  # configs unreachable, keys of no known layout ...: diffusers raises many kinds
        raise BaseModelUnavailable(
            f"{path.name} is a single-file {family.title} checkpoint, and diffusers could not convert it "
            f"({type(error).__name__}: {str(error).splitlines()[0] if str(error) else ''}): the conversion needs the "
            f"{family.title} configs from the Hugging Face hub once (or a cache with them, HF_HOME); or convert "
            f"it where there is network with {family.pipeline}.from_single_file(PATH).save_pretrained(FOLDER) "
            "and give the folder"
        ) from None
    return folder
