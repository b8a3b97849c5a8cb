"""Physical plausibility of predicted motion: does each bone keep its length?

HumanMAC's metrics (APD, ADE, FDE, MMADE, MMFDE) compare joint positions only, so a future whose shin
grows by a tenth scores as well as one that keeps the person's proportions; an animator sees it at once.
Poses here are the pipeline's root-relative frames, (T, 3 * (J - 1)): every joint but the root, relative
to the root (which is therefore at the origin). A bone is a joint and its parent in the skeleton's tree.

- ``bone_length_error``: the mean relative difference |L / L_history - 1| between each predicted bone's
  length and the same bone's mean length over the history (the same person): 0 for a rigid motion.
- ``keep_bone_lengths``: a post-step that gives every predicted bone the history's length along the
  predicted bone's direction, walking the tree from the root outwards, so directions (the motion) are
  kept and proportions restored; the root stays where it was.
- ``foot_skating``: the horizontal speed of a foot in ground contact that a smoothly moving body does
  not explain (m/s). Root-relative poses carry no root path, so the ground's motion under the body is
  estimated as the mean horizontal velocity of the feet in contact over a window of half a second
  (a stride at walking cadence); a planted foot under a body walking at a steady pace then reads 0,
  and so does a held pose. A foot that glides exactly as the body would walk is indistinguishable
  from walking in these poses and is not counted.
- ``leg_crossing``: the share of frames in which a left-leg bone (thigh or shin) and a right-leg bone
  pass within ``LEG_CLEARANCE`` of each other: the legs go through each other, as in an X at the hips.
"""

from __future__ import annotations

import numpy as np

from .skeleton import Skeleton

CONTACT_HEIGHT = 0.05
"""A foot is in ground contact within 5 cm of the lowest foot height of its clip: above the 3 cm (walk)
to 7 cm (run) that the hips bob in the procedural gaits, which moves a planted foot in root-relative
poses, and below the 9 cm a swinging walking foot rises."""
LEG_CLEARANCE = 0.05
"""Legs intersect when a left and a right leg bone's axes pass within 5 cm: limbs at least 10 cm thick
(a shin) then overlap by half their thickness or more. A procedural walk keeps its legs 26 cm apart."""


def joint_positions(frames: np.ndarray) -> np.ndarray:
    """(..., T, 3 * (J - 1)) root-relative frames -> (..., T, J, 3) joint positions, the root at the origin."""
    joints = frames.reshape(*frames.shape[:-1], -1, 3)
    return np.concatenate([np.zeros_like(joints[..., :1, :]), joints], axis=-2)


def bones(positions: np.ndarray, skeleton: Skeleton) -> np.ndarray:
    """(..., J - 1, 3): each non-root joint minus its parent, in joint order."""
    children = np.arange(1, skeleton.count)
    parents = np.asarray(skeleton.parents[1:])
    return positions[..., children, :] - positions[..., parents, :]


def history_lengths(history: np.ndarray, skeleton: Skeleton) -> np.ndarray:
    """(J - 1,) each bone's mean length over the history frames (T_his, F)."""
    return np.linalg.norm(bones(joint_positions(history), skeleton), axis=-1).mean(axis=0)


def bone_length_error(futures: np.ndarray, history: np.ndarray, skeleton: Skeleton) -> float:
    """Mean over futures (..., T, F), frames and bones of |L / L_history - 1| (a fraction: 0.07 is 7%)."""
    reference = history_lengths(history, skeleton)
    lengths = np.linalg.norm(bones(joint_positions(futures), skeleton), axis=-1)
    return float(np.abs(lengths / reference - 1).mean())


def keep_bone_lengths(futures: np.ndarray, history: np.ndarray, skeleton: Skeleton) -> np.ndarray:
    """``futures`` (..., T, F) with every bone at the history's mean length along its predicted direction
    (a bone predicted with zero length keeps zero length: it has no direction)."""
    reference = history_lengths(history, skeleton)
    positions = joint_positions(futures)
    restored = positions.copy()
    for joint in range(1, skeleton.count):  # parents come before their children in both skeletons' orders
        parent = skeleton.parents[joint]
        bone = positions[..., joint, :] - positions[..., parent, :]
        length = np.linalg.norm(bone, axis=-1, keepdims=True)
        direction = np.divide(bone, length, out=np.zeros_like(bone), where=length > 0)
        restored[..., joint, :] = restored[..., parent, :] + direction * reference[joint - 1]
    return restored[..., 1:, :].reshape(futures.shape)


def feet(skeleton: Skeleton) -> list[int]:
    """The joints at the ends of the two legs (each leg part lists hip, knee, foot)."""
    return [skeleton.part(side)[-1] for side in ("right_leg", "left_leg")]


def moving_sum(values: np.ndarray, half: int) -> np.ndarray:
    """The sum of ``values`` (..., T) over the frames t - half .. t + half (clipped at the ends)."""
    padded = np.concatenate([np.zeros_like(values[..., :1]), np.cumsum(values, axis=-1)], axis=-1)
    frames = values.shape[-1]
    index = np.arange(frames)
    return padded[..., np.minimum(index + half + 1, frames)] - padded[..., np.maximum(index - half, 0)]


def foot_skating(futures: np.ndarray, history: np.ndarray, skeleton: Skeleton) -> float:
    """Mean horizontal speed (m/s) of the feet in ground contact over the predicted frames of each future
    (..., T, F), relative to the ground's estimated motion under the body (see the module docstring);
    0 when no foot touches the ground."""
    history = np.broadcast_to(history, (*futures.shape[:-2], *history.shape))
    clips = joint_positions(np.concatenate([history[..., -1:, :], futures], axis=-2))[..., feet(skeleton), :]
    height = clips[..., 2]  # (..., T + 1, 2)
    contact = height - height.min(axis=(-2, -1), keepdims=True) < CONTACT_HEIGHT
    planted = contact[..., 1:, :] & contact[..., :-1, :]  # in contact at both ends of the step
    velocity = np.diff(clips[..., :2], axis=-3) * skeleton.fps  # (..., T, 2 feet, xy)
    half = skeleton.fps // 4
    count = moving_sum(planted.sum(axis=-1), half)
    ground = (
        np.stack([moving_sum((velocity[..., axis] * planted).sum(axis=-1), half) for axis in range(2)], axis=-1)
        / np.maximum(count, 1)[..., None]
    )
    slip = np.linalg.norm(velocity - ground[..., None, :], axis=-1)
    return float((slip * planted).sum() / planted.sum()) if planted.any() else 0.0


def segment_distances(a0: np.ndarray, a1: np.ndarray, b0: np.ndarray, b1: np.ndarray) -> np.ndarray:
    """The shortest distance between segments a0-a1 and b0-b1 (..., 3), for every leading index: the
    closest points' parameters are clamped to the segments, one after the other (Ericson, Real-Time
    Collision Detection, 5.1.9)."""
    d1, d2, r = a1 - a0, b1 - b0, a0 - b0
    a, e = (d1 * d1).sum(-1), (d2 * d2).sum(-1)
    b, c, f = (d1 * d2).sum(-1), (d1 * r).sum(-1), (d2 * r).sum(-1)
    denominator = a * e - b * b
    tiny = 1e-12
    s = np.where(denominator > tiny, np.clip((b * f - c * e) / np.maximum(denominator, tiny), 0, 1), 0.0)
    t = (b * s + f) / np.maximum(e, tiny)
    s = np.where(
        t < 0, np.clip(-c / np.maximum(a, tiny), 0, 1), np.where(t > 1, np.clip((b - c) / np.maximum(a, tiny), 0, 1), s)
    )
    t = np.clip(t, 0, 1)
    point = e <= tiny  # b is a point: the distance from it to segment a
    s, t = np.where(point, np.clip(-c / np.maximum(a, tiny), 0, 1), s), np.where(point, 0.0, t)
    return np.linalg.norm(a0 + d1 * s[..., None] - b0 - d2 * t[..., None], axis=-1)


def leg_crossing(futures: np.ndarray, skeleton: Skeleton) -> float:
    """The share of frames of the futures (..., T, F) in which the legs pass through each other."""
    positions = joint_positions(futures)
    right, left = skeleton.part("right_leg"), skeleton.part("left_leg")
    closest = np.full(positions.shape[:-2], np.inf)
    for r0, r1 in zip(right, right[1:]):
        for l0, l1 in zip(left, left[1:]):
            distance = segment_distances(
                positions[..., r0, :], positions[..., r1, :], positions[..., l0, :], positions[..., l1, :]
            )
            closest = np.minimum(closest, distance)
    return float((closest < LEG_CLEARANCE).mean())
