"""Bone lengths of predicted motion, checked on hand-built motions: a rigid motion has no bone error, a
stretched one the exact stretch, and restoring the history's lengths keeps every bone's direction."""

from __future__ import annotations

import numpy as np
import pytest

from facechain.motion.plausibility import (
    CONTACT_HEIGHT,
    bone_length_error,
    bones,
    foot_skating,
    joint_positions,
    keep_bone_lengths,
    leg_crossing,
    segment_distances,
)
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


def standing(frames: int) -> np.ndarray:
    """(frames, J, 3) the rest pose of the procedural skeleton, root at the origin, for hand-built motions."""
    return np.repeat(joint_positions(root_relative(clip([(0, STYLES["idle"])], 1, jitter=0.0)))[:1], frames, 0)


def features(positions: np.ndarray) -> np.ndarray:
    return positions[..., 1:, :].reshape(*positions.shape[:-2], -1)


def test_feet_sliding_apart_on_the_ground_skate_at_their_speed():
    """Both feet planted and sliding apart at 0.5 m/s each: the ground under the body moves at their
    mean (0), so each foot slides at 0.5 m/s. Sliding together at 0.5 m/s is walking: 0."""
    history = features(standing(H36M.t_his))
    step = 0.5 / H36M.fps  # metres per frame
    apart, together = standing(H36M.t_pred), standing(H36M.t_pred)
    travel = step * np.arange(1, H36M.t_pred + 1)
    for foot, sign in ((3, 1), (6, -1)):  # right and left foot, both on the ground
        apart[:, foot, 1] += sign * travel
        together[:, foot, 1] -= travel
    assert foot_skating(features(apart)[None], history, H36M) == pytest.approx(0.5, rel=1e-6)
    assert foot_skating(features(together)[None], history, H36M) == pytest.approx(0, abs=1e-9)
    assert foot_skating(history[-1:].repeat(H36M.t_pred, 0)[None], history, H36M) == 0  # a held pose


def test_a_foot_moving_in_the_air_does_not_skate():
    history = features(standing(H36M.t_his))
    swing = standing(H36M.t_pred)
    swing[:, 3, 2] += 0.2  # the right foot lifted 20 cm (more than CONTACT_HEIGHT)
    swing[:, 3, 1] += 2.0 / H36M.fps * np.arange(1, H36M.t_pred + 1)  # swinging forward at 2 m/s
    assert foot_skating(features(swing)[None], history, H36M) == pytest.approx(0, abs=1e-9)
    swing[:, 3, 2] -= 0.2 - CONTACT_HEIGHT / 2  # lowered into contact: now it skates
    assert foot_skating(features(swing)[None], history, H36M) > 0.9


def test_segment_distances_by_hand():
    a0, a1 = np.array([0.0, 0, 0]), np.array([1.0, 0, 0])
    assert segment_distances(a0, a1, np.array([0.5, -1, 0.1]), np.array([0.5, 1, 0.1])) == pytest.approx(0.1)  # skew
    assert segment_distances(a0, a1, np.array([0, 0.3, 0]), np.array([1, 0.3, 0])) == pytest.approx(0.3)  # parallel
    assert segment_distances(a0, a1, np.array([2.0, 0, 0]), np.array([3.0, 0, 0])) == pytest.approx(1.0)  # end to end
    assert segment_distances(a0, a1, np.array([1.3, 0.4, 0]), np.array([2.0, 1, 0])) == pytest.approx(0.5)  # corners


def test_segment_distances_match_a_brute_force_search():
    rng = np.random.default_rng(0)
    ends = rng.normal(size=(200, 4, 3))
    ends[:20, 1] = ends[:20, 0]  # first segment a point
    ends[20:40, 3] = ends[20:40, 2]  # second segment a point
    ends[40:60, 3] = ends[40:60, 2] + 2 * (ends[40:60, 1] - ends[40:60, 0])  # parallel segments
    grid = np.linspace(0, 1, 401)
    a = ends[:, None, 0] + grid[None, :, None] * (ends[:, None, 1] - ends[:, None, 0])  # (200, 401, 3)
    b = ends[:, None, 2] + grid[None, :, None] * (ends[:, None, 3] - ends[:, None, 2])
    brute = np.linalg.norm(a[:, :, None] - b[:, None], axis=-1).min(axis=(1, 2))
    exact = segment_distances(*ends.transpose(1, 0, 2))
    assert np.all(exact <= brute + 1e-9) and np.allclose(exact, brute, atol=0.02)


@pytest.mark.parametrize("skeleton", [H36M, HUMANEVA], ids=lambda s: s.name)
def test_a_crossing_built_on_purpose_is_counted(skeleton):
    """The feet swapped sides in the second half of the frames: the shins go through each other in an X."""
    frames = 10
    positions = np.zeros((frames, skeleton.count, 3))
    right, left = skeleton.part("right_leg"), skeleton.part("left_leg")
    for (hip, knee, foot), side in ((right, -1), (left, 1)):
        positions[:, hip] = [0.13 * side, 0, 0]
        positions[:, knee] = [0.13 * side, 0, -0.45]
        positions[:, foot] = [0.13 * side, 0, -0.89]
        positions[frames // 2 :, foot] = [-0.13 * side, 0, -0.89]  # crossed under the knees
    assert leg_crossing(features(positions)[None], skeleton) == pytest.approx(0.5)


def test_a_procedural_walk_keeps_its_legs_apart(walk):
    assert leg_crossing(walk[None], H36M) == 0
