"""Find and check a LoRA before anything loads it: a local file, a folder holding
``pytorch_lora_weights.safetensors``, or a hub repo id. Only safetensors files pass
(``pipelines.lora_files``: a pickled ``.bin``/``.pt``/``.ckpt`` can run code when loaded, so it is
refused by name, never opened)."""

from __future__ import annotations

from pathlib import Path

from pipelines.lora_files import HUB_ID, LoraFileError, check_lora_file

from ...errors import BadArguments, EnvironmentProblem
from ..model_folder import LORA_FILE


class LoraError(BadArguments):
    """A LoRA that cannot be used, naming the file and what to do."""


class LoraUnreachable(EnvironmentProblem):
    """A hub LoRA that could not be fetched (network, offline mode, missing repository)."""


def find_lora(source: str | Path, filename: str | None = None) -> Path:
    """The checked safetensors file that ``source`` names."""
    path = Path(source).expanduser()
    if path.is_dir():
        path = path / (filename or LORA_FILE)
    elif not path.exists() and HUB_ID.match(str(source)):
        path = download_lora(str(source), filename or LORA_FILE)
    check_lora(path)
    return path


def download_lora(repo_id: str, filename: str) -> Path:
    if not filename.endswith(".safetensors"):
        raise LoraError(f"{repo_id}/{filename}: only .safetensors LoRA files are loaded")
    from huggingface_hub import hf_hub_download

    try:
        return Path(hf_hub_download(repo_id, filename))
    except Exception as error:  # network, missing repo or file, offline mode: one message for all
        raise LoraUnreachable(
            f"could not fetch {filename} from the hub repo {repo_id} ({type(error).__name__}); "
            f"check the id, or download it and give its local path"
        ) from None


def check_lora(path: Path) -> None:
    """``pipelines.check_lora_file``, its refusal as a ``LoraError`` (exit code 3 in the CLI)."""
    try:
        check_lora_file(path)
    except LoraFileError as error:
        raise LoraError(str(error)) from None
