"""A real CLIP tokenizer with no model hub: OpenAI CLIP's byte-level BPE, built from the merges file
that ships inside this package (``clip_bpe/``, MIT, licence beside it). Token ids match OpenAI's CLIP,
so prompts tokenize exactly as for Stable Diffusion 1.x.

Why package data: the file (1.3 MB) is the only part of the tiny offline model that is not built from
a config, and every offline path (``train --tiny``, the app's Train tab, the Python example) needs it.
No package on PyPI ships it without also pulling torchvision (open-clip-torch, clip-anytorch), and
torchvision does not import beside the pinned CPU torch; reading it from a ``--no-deps`` side install
made the main install command incomplete and ``pip check`` unclean."""

from __future__ import annotations

import gzip
import math
from functools import lru_cache
from pathlib import Path

BPE_FILE = Path(__file__).with_name("clip_bpe") / "bpe_simple_vocab_16e6.txt.gz"
MERGES = 49152 - 256 - 2
"""Merges CLIP uses: its vocabulary is 256 byte symbols, the same with an end-of-word mark, the
merges, and two special tokens: 49408 entries."""


def byte_symbols() -> list[str]:
    """GPT-2/CLIP byte-to-unicode table, in vocabulary order: printable bytes stand for themselves and
    come first; the other bytes follow, moved to code points from 256 up, so every byte is a visible,
    non-space character."""
    printable = [*range(ord("!"), ord("~") + 1), *range(ord("¡"), ord("¬") + 1), *range(ord("®"), ord("ÿ") + 1)]
    others = [byte for byte in range(256) if byte not in printable]
    return [chr(byte) for byte in printable] + [chr(256 + n) for n in range(len(others))]


def clip_merges() -> list[tuple[str, str]]:
    """CLIP's BPE merges, most frequent first, as read from the shipped file (its first line is a header)."""
    lines = gzip.open(BPE_FILE, "rt", encoding="utf-8").read().split("\n")
    return [tuple(line.split()) for line in lines[1 : MERGES + 1]]


@lru_cache(maxsize=1)
def clip_tokenizer():
    """transformers' CLIPTokenizer with OpenAI CLIP's vocabulary and merges."""
    from transformers import CLIPTokenizer

    merges = clip_merges()
    symbols = byte_symbols()
    vocabulary = symbols + [symbol + "</w>" for symbol in symbols] + ["".join(pair) for pair in merges]
    vocabulary += ["<|startoftext|>", "<|endoftext|>"]
    return CLIPTokenizer(
        vocab={token: index for index, token in enumerate(vocabulary)}, merges=merges, model_max_length=77
    )


T5_PIECES = 32000
"""Pieces in T5's SentencePiece vocabulary (FLUX.1's second tokenizer); 100 sentinels follow them."""
WORD_START = "▁"
"""SentencePiece's mark of a piece that begins a word."""


def t5_vocabulary() -> list[tuple[str, float]]:
    """A T5-shaped Unigram vocabulary built from CLIP's merges: <pad>, </s>, <unk> at ids 0-2 as in T5, then
    32,000 pieces. Each CLIP entry (in merge order, the most frequent first) gives the piece that starts a
    word and the one that continues it; entries made of byte stand-ins (non-ASCII) are left out, so such
    characters read as <unk>, as in T5, which has no byte fallback. Scores fall as -log(rank), so the
    Viterbi segmentation prefers whole words. T5's own pieces are not in any package; this one exists
    for the tiny offline FLUX.1 model only, whose random weights give the ids no meaning."""
    entries = [chr(code) for code in range(ord("!"), ord("~") + 1)]
    entries += ["".join(pair).removesuffix("</w>") for pair in clip_merges()]
    pieces: dict[str, None] = {}
    for entry in entries:
        if entry.isascii() and entry.isprintable():
            pieces.setdefault(WORD_START + entry)
            pieces.setdefault(entry)
    chosen = list(pieces)[: T5_PIECES - 3]
    return [("<pad>", 0.0), ("</s>", 0.0), ("<unk>", 0.0)] + [
        (piece, -math.log(rank + 2)) for rank, piece in enumerate(chosen)
    ]


@lru_cache(maxsize=1)
def tiny_t5_tokenizer():
    """transformers' T5 tokenizer over ``t5_vocabulary()``: T5's special tokens, ids and 100 sentinels,
    512 tokens long as FLUX.1-dev reads them."""
    from transformers import T5TokenizerFast

    return T5TokenizerFast(vocab=t5_vocabulary(), model_max_length=512)
