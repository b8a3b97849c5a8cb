"""Motion data in the VideoPose3D layout, with the benchmark splits and windows HumanMAC uses.

VideoPose3D's ``data_3d_h36m.npz`` / ``data_3d_humaneva15.npz`` hold ``positions_3d``, a pickled dict
subject -> action -> (frames, joints, 3) in metres. Unpickling can run code, so that file is opened
only when the caller says it is trusted (a file the user downloaded themselves, never an upload).
The same data as plain arrays, one key per ``"subject/action"``, loads without pickle: that is the
layout uploads must use, and ``save_plain`` writes it.
"""

from __future__ import annotations

import zipfile
from pathlib import Path

import numpy as np

from ..errors import FacechainError
from .skeleton import H36M, Skeleton

H36M_KEPT_JOINTS = [0, 1, 2, 3, 6, 7, 8, 12, 13, 14, 15, 17, 18, 19, 25, 26, 27]  # 32 mocap joints -> 17
SPLITS = {
    "h36m": {"train": ["S1", "S5", "S6", "S7", "S8"], "test": ["S9", "S11"]},
    "humaneva": {"train": ["Train/S1", "Train/S2", "Train/S3"], "test": ["Validate/S1", "Validate/S2", "Validate/S3"]},
}
MAX_FRAMES = 200_000


class MotionDataError(FacechainError):
    """A motion file that cannot be used, naming the file and what is expected."""


def load_positions(path: Path, trusted: bool = False) -> dict[str, dict[str, np.ndarray]]:
    """subject -> action -> (frames, joints, 3) float32, from either layout (see the module docstring)."""
    try:
        archive = np.load(path, allow_pickle=False)
        keys = list(archive.keys())
    except (OSError, ValueError, zipfile.BadZipFile, EOFError) as error:
        raise MotionDataError(f"{path}: not a readable .npz file ({error})") from None
    if keys == ["positions_3d"]:
        if not trusted:
            raise MotionDataError(f"{path} is VideoPose3D's pickled layout, which is only opened for a file you trust "
                                  f"(CLI: --trusted-file); to upload motion, save it as plain arrays, one key per "
                                  f"'subject/action' (facechain.motion.data.save_plain)")
        return {subject: {action: np.asarray(array, dtype=np.float32) for action, array in actions.items()}
                for subject, actions in np.load(path, allow_pickle=True)["positions_3d"].item().items()}
    data: dict[str, dict[str, np.ndarray]] = {}
    for key in keys:
        subject, _, action = key.rpartition("/")
        array = archive[key]
        if not subject or array.ndim != 3 or array.shape[-1] != 3 or not 1 <= len(array) <= MAX_FRAMES:
            raise MotionDataError(f"{path}: entry {key!r} must be named 'subject/action' and hold (frames, joints, 3) "
                                  f"positions, not shape {array.shape}")
        data.setdefault(subject, {})[action] = array.astype(np.float32)
    if not data:
        raise MotionDataError(f"{path}: no motion in it")
    return data


def save_plain(data: dict[str, dict[str, np.ndarray]], path: Path) -> None:
    """The pickle-free layout: one array per 'subject/action'."""
    np.savez(path, **{f"{subject}/{action}": array for subject, actions in data.items() for action, array in actions.items()})


def to_skeleton(positions: np.ndarray, skeleton: Skeleton) -> np.ndarray:
    """(frames, joints, 3) in the skeleton's joint count (H36M's 32 mocap joints are reduced to 17)."""
    if skeleton is H36M and positions.shape[1] == 32:
        positions = positions[:, H36M_KEPT_JOINTS]
    if positions.shape[1] != skeleton.count:
        raise MotionDataError(f"expected {skeleton.count} joints for {skeleton.name} (or 32 for H36M), "
                              f"got {positions.shape[1]}")
    return positions


def split_sequences(data: dict, skeleton: Skeleton, split: str) -> list[np.ndarray]:
    """Root-relative (frames, 3 * (joints - 1)) sequences of the split's subjects."""
    subjects = SPLITS[skeleton.name][split]
    missing = [s for s in subjects if s not in data]
    if missing:
        raise MotionDataError(f"the {split} split of {skeleton.name} needs subjects {subjects}; missing {missing}")
    sequences = []
    for subject in subjects:
        for positions in data[subject].values():
            joints = to_skeleton(positions, skeleton)
            sequences.append((joints[:, 1:] - joints[:, :1]).reshape(len(joints), -1))
    return sequences


def windows(sequences: list[np.ndarray], length: int, stride: int) -> np.ndarray:
    """(N, length, F): every window of ``length`` frames starting each ``stride`` frames."""
    found = [sequence[start:start + length] for sequence in sequences
             for start in range(0, len(sequence) - length + 1, stride)]
    if not found:
        raise MotionDataError(f"no sequence is {length} frames long")
    return np.stack(found)


