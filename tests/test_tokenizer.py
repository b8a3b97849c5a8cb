"""The offline CLIP tokenizer: its vocabulary ships in the package and gives OpenAI CLIP's ids."""

from __future__ import annotations

import hashlib
import subprocess
import sys

from facechain.diffusion.tokenizer import BPE_FILE, clip_tokenizer

SHIPPED_SHA256 = "924691ac288e54409236115652ad4aa250f48203de50a9e4722a6ecd48d6804a"


def test_vocabulary_file_is_openai_clips_and_has_its_licence():
    assert hashlib.sha256(BPE_FILE.read_bytes()).hexdigest() == SHIPPED_SHA256
    assert "MIT License" in (BPE_FILE.parent / "LICENSE").read_text()


def test_prompt_ids_match_openai_clip():
    tokenizer = clip_tokenizer()
    assert len(tokenizer) == 49408
    # OpenAI CLIP: <|startoftext|>=49406, a=320, photo=1125, of=539, cat=2368, <|endoftext|>=49407
    assert tokenizer("a photo of a cat").input_ids == [49406, 320, 1125, 539, 320, 2368, 49407]


def test_builds_without_open_clip_installed():
    """No side install is needed: with open_clip made unimportable, the tokenizer still builds."""
    code = (
        "import sys; sys.modules['open_clip'] = None\n"
        "from facechain.diffusion.tokenizer import clip_tokenizer\n"
        "print(len(clip_tokenizer()))"
    )
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == "49408"


def test_the_app_start_up_check_names_a_missing_vocabulary(tmp_path, monkeypatch):
    from facechain.diffusion import tiny, tokenizer

    assert tiny.tiny_model_problem() is None
    monkeypatch.setattr(tokenizer, "BPE_FILE", tmp_path / "gone.txt.gz")
    tokenizer.clip_tokenizer.cache_clear()
    try:
        problem = tiny.tiny_model_problem()
    finally:
        monkeypatch.undo()
        tokenizer.clip_tokenizer.cache_clear()
    assert "CLIP tokenizer cannot be built" in problem and "gone.txt.gz" in problem and "reinstall" in problem
