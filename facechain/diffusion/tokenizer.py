"""A real CLIP tokenizer with no model hub: OpenAI CLIP's byte-level BPE, read from the vocabulary
file that the open-clip-torch package ships (the file only; open_clip itself is never imported,
since it requires torchvision). Token ids match OpenAI's CLIP, so prompts tokenize exactly as for
Stable Diffusion 1.x."""

from __future__ import annotations

import gzip
import importlib.util
from functools import lru_cache
from pathlib import Path

from ..errors import FacechainError

BPE_FILE = "bpe_simple_vocab_16e6.txt.gz"
MERGES = 49152 - 256 - 2
"""Merges CLIP uses: its vocabulary is 256 byte symbols, the same with an end-of-word mark, the
merges, and two special tokens: 49408 entries."""


class TokenizerUnavailable(FacechainError):
    pass


def bpe_vocabulary_file() -> Path:
    spec = importlib.util.find_spec("open_clip")
    if spec is None or not spec.submodule_search_locations:
        raise TokenizerUnavailable(
            "the offline CLIP tokenizer reads its vocabulary from the open-clip-torch package: "
            "pip install --no-deps open-clip-torch (without dependencies: it would pull torchvision)")
    return Path(list(spec.submodule_search_locations)[0]) / BPE_FILE


def byte_symbols() -> list[str]:
    """GPT-2/CLIP byte-to-unicode table, in vocabulary order: printable bytes stand for themselves and
    come first; the other bytes follow, moved to code points from 256 up, so every byte is a visible,
    non-space character."""
    printable = [*range(ord("!"), ord("~") + 1), *range(ord("¡"), ord("¬") + 1), *range(ord("®"), ord("ÿ") + 1)]
    others = [byte for byte in range(256) if byte not in printable]
    return [chr(byte) for byte in printable] + [chr(256 + n) for n in range(len(others))]


@lru_cache(maxsize=1)
def clip_tokenizer():
    """transformers' CLIPTokenizer with OpenAI CLIP's vocabulary and merges."""
    from transformers import CLIPTokenizer

    lines = gzip.open(bpe_vocabulary_file(), "rt", encoding="utf-8").read().split("\n")
    merges = [tuple(line.split()) for line in lines[1 : MERGES + 1]]
    symbols = byte_symbols()
    vocabulary = symbols + [symbol + "</w>" for symbol in symbols] + ["".join(pair) for pair in merges]
    vocabulary += ["<|startoftext|>", "<|endoftext|>"]
    return CLIPTokenizer(vocab={token: index for index, token in enumerate(vocabulary)}, merges=merges,
                         model_max_length=77)
