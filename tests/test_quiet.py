"""The known-harmless library messages are dropped by exact text once the CLI or the app installs the
filter; every other message passes, and ``import facechain`` alone changes nothing."""

from __future__ import annotations

import logging
import subprocess
import sys

import pytest

from facechain import quiet

KNOWN = [
    ("transformers.utils.import_utils", "`CLIPImageProcessor` requires torchvision (not installed); falling back"),
    (
        "diffusers.loaders.peft",
        "No LoRA keys associated to CLIPTextModel found with the prefix='text_encoder'. This is safe to ignore if ...",
    ),
    (
        "diffusers.models.modeling_utils",
        "There are modules in AutoencoderKL that should be kept in float32: []. Casting directly with `to()` ...",
    ),
    (
        "diffusers.models.modeling_utils",
        "There are modules in FluxTransformer2DModel that should be kept in float32: []. Casting directly ...",
    ),
]


@pytest.mark.parametrize("logger_name, message", KNOWN)
def test_known_message_is_dropped_and_a_real_one_passes(caplog, logger_name, message):
    quiet.install()
    logger = logging.getLogger(logger_name)
    with caplog.at_level(logging.WARNING, logger=logger_name):
        logger.warning(message)
        logger.warning("a real problem")
        logger.warning("No LoRA keys associated to UNet2DConditionModel found")  # not the known one: shown
        logger.warning("There are modules in X that should be kept in float32: ['norm']")  # some are: shown
    assert [r.getMessage() for r in caplog.records] == [
        "a real problem",
        "No LoRA keys associated to UNet2DConditionModel found",
        "There are modules in X that should be kept in float32: ['norm']",
    ]


def test_loading_bars_are_dropped_and_other_bars_kept():
    quiet.install()
    from transformers.utils import logging as transformers_logging

    quiet.quiet_loading_bars()
    assert transformers_logging.tqdm(range(3), desc="Loading weights").disable
    assert not transformers_logging.tqdm(range(3), desc="Downloading").disable


def test_import_alone_installs_nothing():
    code = (
        "import logging, facechain, facechain.portrait\n"
        "print(len(logging.getLogger('transformers.utils.import_utils').filters))"
    )
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60)
    assert done.stdout.strip() == "0", done.stderr
