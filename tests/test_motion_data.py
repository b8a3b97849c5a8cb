"""Motion files: VideoPose3D's pickled layout opens only when trusted, the plain layout always;
splits, joint reduction and windows follow the benchmark protocol; bad files get clear errors."""

from __future__ import annotations

import numpy as np
import pytest

from facechain.motion.data import MotionDataError, load_positions, save_plain, split_sequences, windows
from facechain.motion.metrics import multimodal_futures
from facechain.motion.skeleton import H36M


def synthetic_h36m(rng) -> dict:
    return {
        subject: {
            action: rng.normal(size=(160 + 10 * i, 32, 3)).astype(np.float32)
            for i, action in enumerate(["Walking", "Eating 1"])
        }
        for subject in ["S1", "S5", "S6", "S7", "S8", "S9", "S11"]
    }


def test_videopose3d_layout_needs_trust_and_plain_layout_does_not(tmp_path):
    data = synthetic_h36m(np.random.default_rng(0))
    pickled = tmp_path / "data_3d_h36m.npz"
    np.savez(pickled, positions_3d=np.array(data, dtype=object))
    with pytest.raises(MotionDataError, match="only opened for a file you trust"):
        load_positions(pickled)
    loaded = load_positions(pickled, trusted=True)
    assert np.array_equal(loaded["S9"]["Walking"], data["S9"]["Walking"])
    plain = tmp_path / "plain.npz"
    save_plain(loaded, plain)
    again = load_positions(plain)
    assert set(again) == set(data) and np.array_equal(again["S11"]["Eating 1"], data["S11"]["Eating 1"])


def test_splits_joints_and_windows(tmp_path):
    data = synthetic_h36m(np.random.default_rng(1))
    test = split_sequences(data, H36M, "test")
    assert len(test) == 4 and test[0].shape == (160, 48)
    joints = data["S9"]["Walking"][:, [0, 1, 2, 3, 6, 7, 8, 12, 13, 14, 15, 17, 18, 19, 25, 26, 27]]
    assert np.allclose(test[0], (joints[:, 1:] - joints[:, :1]).reshape(160, -1))
    cut = windows(test, 125, 25)
    assert cut.shape == (2 + 2 + 2 + 2, 125, 48)  # 160/170 frames: starts 0 and 25 each
    groups = multimodal_futures(cut[:, 24], cut[:, 25:], threshold=1e9)
    assert all(len(g) == len(cut) for g in groups)
    del data["S9"]
    with pytest.raises(MotionDataError, match="missing"):
        split_sequences(data, H36M, "test")


def test_bad_files_are_named(tmp_path):
    junk = tmp_path / "junk.npz"
    junk.write_bytes(b"not a zip")
    with pytest.raises(MotionDataError, match="not a readable"):
        load_positions(junk)
    wrong = tmp_path / "wrong.npz"
    np.savez(wrong, **{"S1/Walk": np.zeros((10, 17))})
    with pytest.raises(MotionDataError, match="must be named 'subject/action'"):
        load_positions(wrong)
    with pytest.raises(MotionDataError, match="expected 17 joints"):
        split_sequences({s: {"a": np.zeros((200, 20, 3))} for s in ["S9", "S11"]}, H36M, "test")
