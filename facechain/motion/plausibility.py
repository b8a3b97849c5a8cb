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
"""

from __future__ import annotations

import numpy as np

from .skeleton import Skeleton


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
