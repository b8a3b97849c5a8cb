"""Silence one misleading library notice: without torchvision, transformers warns that its CLIP and
SigLIP image processors "require torchvision" and suggests installing it. The pure-PIL processors it
falls back to are what this project uses on purpose (torchvision from PyPI does not import beside the
pinned CPU torch), so the advice would break an installation. Every other transformers message passes."""

from __future__ import annotations

import logging

NOTICE = "requires torchvision (not installed)"


class _DropTorchvisionFallback(logging.Filter):
    def filter(self, record: logging.LogRecord) -> bool:
        return NOTICE not in record.getMessage()


def quiet_torchvision_fallback() -> None:
    """Install the filter on transformers' import logger (idempotent)."""
    logger = logging.getLogger("transformers.utils.import_utils")
    if not any(isinstance(f, _DropTorchvisionFallback) for f in logger.filters):
        logger.addFilter(_DropTorchvisionFallback())
