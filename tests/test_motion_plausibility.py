"""Bone lengths of predicted motion, checked on hand-built motions: a rigid motion has no bone error, a
stretched one the exact stretch, and restoring the history's lengths keeps every bone's direction."""

from __future__ import annotations

import numpy as np
import pytest

from facechain.motion.plausibility import bone_length_error, bones, joint_positions, keep_bone_lengths
from facechain.motion.procedural import STYLES, clip, root_relative
from facechain.motion.skeleton import H36M, HUMANEVA, SKELETONS


@pytest.fixture(scope="module")
def walk() -> np.ndarray:
    """A procedural walk without jitter, root-relative (frames, 48): its bones are rigid by construction."""
    return root_relative(clip([(0, STYLES["walk"])], H36M.t_his + H36M.t_pred, jitter=0.0))


def test_every_parent_comes_before_its_child():
    for skeleton in SKELETONS.values():
        assert all(parent < joint for joint, parent in enumerate(skeleton.parents) if joint)


def test_a_rigid_motion_has_no_bone_error_and_a_stretched_one_its_stretch(walk):
    history, future = walk[: H36M.t_his], walk[H36M.t_his :]
    assert bone_length_error(future[None], history, H36M) == pytest.approx(0, abs=1e-6)
    stretched = future * 1.1  # every position 10% further from the root: every bone 10% longer
    assert bone_length_error(stretched[None], history, H36M) == pytest.approx(0.1, rel=1e-6)
    one_shin = joint_positions(future)
    one_shin[:, 3] += (one_shin[:, 3] - one_shin[:, 2]) * 0.5  # the right shin alone, half as long again
    error = bone_length_error(one_shin[:, 1:].reshape(future.shape)[None], history, H36M)
    assert error == pytest.approx(0.5 / (H36M.count - 1), rel=1e-6)  # one bone of 16 off by 50%


@pytest.mark.parametrize("skeleton", [H36M, HUMANEVA], ids=lambda s: s.name)
def test_restoring_lengths_keeps_directions_and_the_root(skeleton):
    rng = np.random.default_rng(1)
    features = 3 * (skeleton.count - 1)
    history = rng.normal(size=(skeleton.t_his, features))
    futures = rng.normal(size=(4, skeleton.t_pred, features))  # K futures, bones of any length
    restored = keep_bone_lengths(futures, history, skeleton)
    assert restored.shape == futures.shape
    assert bone_length_error(restored, history, skeleton) == pytest.approx(0, abs=1e-9)
    before, after = bones(joint_positions(futures), skeleton), bones(joint_positions(restored), skeleton)
    cosines = (before * after).sum(-1) / np.linalg.norm(before, axis=-1) / np.linalg.norm(after, axis=-1)
    assert np.allclose(cosines, 1)  # every bone points where it was predicted to


def test_restoring_a_rigid_motion_changes_nothing(walk):
    history, future = walk[: H36M.t_his], walk[H36M.t_his :]
    assert np.allclose(keep_bone_lengths(future[None], history, H36M)[0], future, atol=1e-6)
