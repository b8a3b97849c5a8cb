"""The one place where known-harmless library messages are silenced, each by its exact text, so every
other warning still shows. Installed by the CLI and the app (``install()``), never by ``import facechain``:
a Python API user keeps the libraries' console as it is.

Silenced, and why each is harmless here:

- transformers: "... requires torchvision (not installed)". Its CLIP/SigLIP image processors fall back to
  pure PIL, which this project uses on purpose: torchvision from PyPI does not import beside the pinned
  CPU torch, so following the advice would break the installation.
- diffusers: "No LoRA keys associated to CLIPTextModel found with the prefix='text_encoder'". Printed for
  every person LoRA that adapts only the UNet (the default); nothing is missing.
- diffusers: "There are modules in <model> that should be kept in float32: []". Printed when training
  casts frozen parts (the VAE, the base weights) or the memory estimate casts a meta model to half
  precision on purpose; the list it ends with is empty: no module of the model needs float32.
- The per-model "Loading weights" and "Writing model shards" bars of transformers and diffusers' "Loading
  pipeline components" bar: nested inside our own bars, they print dozens of lines per run. Download bars
  are not touched.
"""

from __future__ import annotations

import importlib
import logging
import sys

KNOWN_MESSAGES = {
    "transformers.utils.import_utils": ("requires torchvision (not installed)",),
    "diffusers.loaders.peft": ("No LoRA keys associated to CLIPTextModel found with the prefix='text_encoder'",),
    "diffusers.loaders.lora_base": ("No LoRA keys associated to CLIPTextModel found with the prefix='text_encoder'",),
    "diffusers.models.modeling_utils": ("that should be kept in float32: []",),
}
"""Logger name -> the exact text that marks each message dropped from it."""

LOADING_BARS = ("Loading weights", "Writing model shards", "Loading pipeline components...")

_installed = False


class DropKnownMessages(logging.Filter):
    def __init__(self, texts: tuple[str, ...]):
        super().__init__()
        self.texts = texts

    def filter(self, record: logging.LogRecord) -> bool:
        message = record.getMessage()
        return not any(text in message for text in self.texts)


def install() -> None:
    """Filter the known messages (idempotent); loading bars go once their library is imported."""
    global _installed
    for name, texts in KNOWN_MESSAGES.items():
        logger = logging.getLogger(name)
        if not any(isinstance(f, DropKnownMessages) for f in logger.filters):
            logger.addFilter(DropKnownMessages(texts))
    _installed = True
    quiet_loading_bars()


def quiet_loading_bars(libraries: tuple[str, ...] = ()) -> None:
    """Drop the loading bars of transformers and diffusers: of those already imported, and of
    ``libraries`` (imported here: the model-loading code names the ones it is about to use, so no
    command imports a library only to silence it)."""
    if not _installed:
        return
    for name in libraries:
        importlib.import_module(f"{name}.utils.logging")
    if "transformers" in sys.modules:
        from transformers.utils import logging as transformers_logging

        if hasattr(transformers_logging, "set_tqdm_hook"):  # transformers 5: one hook for its own bars
            transformers_logging.set_tqdm_hook(_without_loading_bars)
    if "diffusers" in sys.modules:
        from diffusers.utils import logging as diffusers_logging

        diffusers_logging.disable_progress_bar()  # diffusers' own bars only; downloads use huggingface_hub's


def _without_loading_bars(factory, args, kwargs):
    kwargs = dict(kwargs)
    if kwargs.get("desc") in LOADING_BARS:
        kwargs["disable"] = True
    return factory(*args, **kwargs)
