"""Only transformers' "requires torchvision" notice is dropped (its advice would break the pinned torch)."""

from __future__ import annotations

import logging

import facechain  # noqa: F401  (installs the filter)


def test_torchvision_notice_is_dropped_and_other_messages_pass(caplog):
    logger = logging.getLogger("transformers.utils.import_utils")
    with caplog.at_level(logging.WARNING, logger="transformers.utils.import_utils"):
        logger.warning("`CLIPImageProcessor` requires torchvision (not installed); falling back to ...")
        logger.warning("a real problem")
    assert [r.getMessage() for r in caplog.records] == ["a real problem"]
