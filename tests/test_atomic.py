"""Staged writes: a failure leaves the previous file or folder as it was, with no staging debris."""

from __future__ import annotations

import pytest

from facechain.atomic import staged_file, staged_folder


def test_file_replaced_whole_or_not_at_all(tmp_path):
    target = tmp_path / "sub" / "weights.safetensors"
    with staged_file(target) as staging:
        assert staging.suffix == ".safetensors" and staging.parent == target.parent and staging.name.startswith(".")
        staging.write_text("first")
    with pytest.raises(RuntimeError):
        with staged_file(target) as staging:
            staging.write_text("half")
            raise RuntimeError("disk full")
    assert target.read_text() == "first"
    assert [p.name for p in target.parent.iterdir()] == ["weights.safetensors"]


def test_folder_swapped_in_only_when_complete(tmp_path):
    target = tmp_path / "dataset"
    with staged_folder(target) as staging:
        (staging / "a.txt").write_text("one")
    with pytest.raises(KeyboardInterrupt):
        with staged_folder(target) as staging:
            (staging / "b.txt").write_text("two")
            raise KeyboardInterrupt
    assert [p.name for p in target.iterdir()] == ["a.txt"]
    with staged_folder(target) as staging:
        (staging / "c.txt").write_text("three")
    assert [p.name for p in target.iterdir()] == ["c.txt"]
    assert [p.name for p in tmp_path.iterdir()] == ["dataset"]
