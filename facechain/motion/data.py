"""Motion data in the VideoPose3D layout, with the benchmark splits and windows HumanMAC uses.

VideoPose3D's ``data_3d_h36m.npz`` / ``data_3d_humaneva15.npz`` hold ``positions_3d``, a pickled dict
subject -> action -> (frames, joints, 3) in metres. Unpickling can run code, so that file is opened
only when the caller says it is trusted (a file the user downloaded themselves, never an upload).
The same data as plain arrays, one key per ``"subject/action"``, loads without pickle: that is the
layout uploads must use, and ``save_plain`` writes it. Either is bounded (entries, frames, joints, bytes:
see the MAX_* constants) from the zip directory and the .npy headers before anything is decompressed.
"""

from __future__ import annotations

import math
import zipfile
import zlib
from pathlib import Path

import numpy as np
from numpy.lib import format as npy

from ..errors import BadArguments
from .skeleton import H36M, Skeleton

H36M_KEPT_JOINTS = [0, 1, 2, 3, 6, 7, 8, 12, 13, 14, 15, 17, 18, 19, 25, 26, 27]  # 32 mocap joints -> 17
SPLITS = {
    "h36m": {"train": ["S1", "S5", "S6", "S7", "S8"], "test": ["S9", "S11"]},
    "humaneva": {"train": ["Train/S1", "Train/S2", "Train/S3"], "test": ["Validate/S1", "Validate/S2", "Validate/S3"]},
}

MAX_ENTRIES = 1000
"""Arrays in one file. VideoPose3D's Human3.6M file has 7 subjects x 30 actions (209: S11 lacks one) and its
HumanEva-I file a few dozen chunks; each entry costs a header read and Python objects, so a file of thousands
of tiny entries is refused before any is read."""
MAX_FRAMES = 200_000
"""Frames in one entry: 66 minutes at Human3.6M's 50 Hz, where its longest take has a few thousand."""
MAX_JOINTS = 64
"""Joints per frame: Human3.6M's mocap has 32, HumanEva-I 15; twice the larger leaves room for other skeletons
while a header claiming (1000, 125000, 3) is refused on the spot."""
MAX_BYTES = 512 * 2**20
"""Decompressed bytes of a whole file opened from the command line. The real ``data_3d_h36m.npz`` holds one
pose per mocap frame (its "3.6 M" counts the video frames of 4 cameras over 11 subjects): about 0.53 M frames
for its 7 subjects x 32 joints x 3 x 4 bytes (float32) = about 200 MB, so 512 MiB admits it with room to spare
while a file claiming gigabytes is refused before it is decompressed."""
UPLOAD_MAX_BYTES = 128 * 2**20
"""Decompressed bytes of an uploaded file: 5x the app's 25 MB upload limit, more than honest float positions
ever compress by, and small enough that a server holding a few uploads (and their float32 copies) at once
stays within its memory. The full Human3.6M file is no upload: it is opened from the command line."""

READ_ERRORS = (OSError, ValueError, EOFError, zipfile.BadZipFile, zlib.error, NotImplementedError)
HEADER_READERS = {(1, 0): npy.read_array_header_1_0, (2, 0): npy.read_array_header_2_0}


class MotionDataError(BadArguments):
    """A motion file that cannot be used, naming the file and what is expected."""


def load_positions(path: Path, trusted: bool = False, max_bytes: int = MAX_BYTES) -> dict[str, dict[str, np.ndarray]]:
    """subject -> action -> (frames, joints, 3) float32, from either layout (see the module docstring).

    The zip's directory and each array's .npy header (a few hundred bytes) are checked against the bounds
    above before anything is decompressed, so a small file that claims gigabytes costs only kilobytes to
    refuse. ``max_bytes`` bounds the whole file once decompressed: MAX_BYTES for the command line's local
    files, UPLOAD_MAX_BYTES for uploads."""
    try:
        _check_entry_count(path)
        with zipfile.ZipFile(path) as archive:
            members = _members(path, archive, max_bytes)
            if [info.filename for info in members] == ["positions_3d.npy"]:
                return _videopose3d(path, archive, members[0], trusted)
            data: dict[str, dict[str, np.ndarray]] = {}
            for info in members:
                key = info.filename.removesuffix(".npy")
                _check_header(path, archive, info, key)
                with archive.open(info) as stream:
                    array = npy.read_array(stream, allow_pickle=False)
                subject, _, action = key.rpartition("/")
                data.setdefault(subject, {})[action] = _positions(path, key, array)
    except MotionDataError:
        raise  # itself a ValueError: not to be taken for numpy's or zipfile's
    except READ_ERRORS as error:
        raise MotionDataError(f"{path}: not a readable .npz file ({error})") from None
    if not data:
        raise MotionDataError(f"{path}: no motion in it")
    return data


END_OF_DIRECTORY = b"PK\x05\x06"
END_SEARCH = 22 + 65535  # the end-of-directory record and the longest zip comment


def _check_entry_count(path: Path) -> None:
    """Refuse too many entries from the zip's end-of-directory record (its entry count sits at offset
    10), before ``zipfile`` reads the directory: a 25 MB upload of tiny entries would otherwise cost
    hundreds of MB just to list. A zip64 archive says 0xFFFF there, which is over the bound too."""
    size = path.stat().st_size
    with open(path, "rb") as stream:
        stream.seek(max(0, size - END_SEARCH))
        tail = stream.read()
    record = tail.rfind(END_OF_DIRECTORY)
    if record >= 0 and len(tail) >= record + 12:
        count = int.from_bytes(tail[record + 10 : record + 12], "little")
        if count > MAX_ENTRIES:
            raise MotionDataError(
                f"{path}: {count} entries, over MAX_ENTRIES = {MAX_ENTRIES}; put fewer clips in one file"
            )


def _members(path: Path, archive: zipfile.ZipFile, max_bytes: int) -> list[zipfile.ZipInfo]:
    """The archive's arrays, refused from the zip directory alone: too many, not .npy, encrypted, or more
    bytes once decompressed than ``max_bytes``."""
    members = archive.infolist()
    if len(members) > MAX_ENTRIES:
        raise MotionDataError(
            f"{path}: {len(members)} entries, over MAX_ENTRIES = {MAX_ENTRIES}; put fewer clips in one file"
        )
    for info in members:
        if not info.filename.endswith(".npy") or info.flag_bits & 0x1:
            raise MotionDataError(
                f"{path}: entry {info.filename!r} is not an unencrypted .npy array; save the "
                f"motion with numpy.savez or facechain.motion.data.save_plain"
            )
    total = sum(info.file_size for info in members)
    if total > max_bytes:
        largest = max(members, key=lambda info: info.file_size)
        raise MotionDataError(
            f"{path}: {total / 2**20:,.0f} MiB once decompressed (the largest entry, "
            f"{largest.filename!r}, {largest.file_size / 2**20:,.0f} MiB), over the "
            f"{max_bytes / 2**20:,.0f} MiB accepted here; keep fewer or shorter clips in it"
        )
    return members


def _check_header(path: Path, archive: zipfile.ZipFile, info: zipfile.ZipInfo, key: str) -> None:
    """Refuse the entry from its .npy header, and when the header's size disagrees with the zip's."""
    with archive.open(info) as stream:
        read_header = HEADER_READERS.get(npy.read_magic(stream))
        if read_header is None:
            raise MotionDataError(
                f"{path}: entry {key!r} has a .npy header version numpy.savez does not write; "
                f"save it again with numpy.savez"
            )
        shape, _, dtype = read_header(stream)
        expected = stream.tell() + math.prod(shape) * dtype.itemsize
    _check(path, key, shape, dtype)
    if expected != info.file_size:
        raise MotionDataError(
            f"{path}: entry {key!r} claims {shape} {dtype} ({expected:,} bytes with its header) "
            f"but the archive says {info.file_size:,} bytes; the file is damaged or forged: "
            f"save it again with numpy.savez"
        )


def _check(path: Path, key: str, shape: tuple[int, ...], dtype: np.dtype) -> None:
    """Refuse an entry whose name, shape or dtype is not 'subject/action' (frames, joints, 3) real numbers."""
    subject, _, action = key.rpartition("/")
    if not subject or not action or len(shape) != 3 or shape[-1] != 3:
        problem = (
            f"must be named 'subject/action' and hold (frames, joints, 3) positions, not shape {shape}; "
            f"save one such array per clip"
        )
    elif dtype.kind not in "fiu":
        problem = f"holds {dtype} values; save the positions as a float (or int) array"
    elif not 1 <= shape[0] <= MAX_FRAMES:
        problem = f"has {shape[0]} frames, outside 1 to MAX_FRAMES = {MAX_FRAMES}; split the clip into entries"
    elif not 1 <= shape[1] <= MAX_JOINTS:
        problem = (
            f"has {shape[1]} joints, outside 1 to MAX_JOINTS = {MAX_JOINTS} (Human3.6M has 32, HumanEva-I 15); "
            f"keep one position per joint on the axis after the frames"
        )
    else:
        return
    raise MotionDataError(f"{path}: entry {key!r} {problem}")


def _positions(path: Path, key: str, array: np.ndarray) -> np.ndarray:
    """The entry as float32, refused when a position is NaN or infinite (or beyond float32's range)."""
    with np.errstate(over="ignore"):
        positions = array.astype(np.float32, copy=False)
    bad = np.flatnonzero(~np.isfinite(positions).all(axis=(1, 2)))
    if len(bad):
        raise MotionDataError(
            f"{path}: entry {key!r} has NaN or infinite positions in {len(bad)} frames (the first "
            f"is frame {bad[0]}); fill those frames in or cut them out, then save the file again"
        )
    return positions


def _videopose3d(
    path: Path, archive: zipfile.ZipFile, info: zipfile.ZipInfo, trusted: bool
) -> dict[str, dict[str, np.ndarray]]:
    """VideoPose3D's pickled dict, only when trusted; its size was bounded by the zip directory, its arrays
    are checked like the plain layout's once unpickled."""
    if not trusted:
        raise MotionDataError(
            f"{path} is VideoPose3D's pickled layout, which is only opened for a file you trust "
            f"(CLI: --trusted-file); to upload motion, save it as plain arrays, one key per "
            f"'subject/action' (facechain.motion.data.save_plain)"
        )
    with archive.open(info) as stream:
        pickled = npy.read_array(stream, allow_pickle=True).item()
    data: dict[str, dict[str, np.ndarray]] = {}
    for subject, actions in pickled.items():
        for action, array in actions.items():
            key, array = f"{subject}/{action}", np.asarray(array)
            _check(path, key, array.shape, array.dtype)
            data.setdefault(subject, {})[action] = _positions(path, key, array)
    return data


def save_plain(data: dict[str, dict[str, np.ndarray]], path: Path) -> None:
    """The pickle-free layout: one array per 'subject/action'."""
    np.savez(
        path, **{f"{subject}/{action}": array for subject, actions in data.items() for action, array in actions.items()}
    )


def to_skeleton(positions: np.ndarray, skeleton: Skeleton) -> np.ndarray:
    """(frames, joints, 3) in the skeleton's joint count (H36M's 32 mocap joints are reduced to 17)."""
    if skeleton is H36M and positions.shape[1] == 32:
        positions = positions[:, H36M_KEPT_JOINTS]
    if positions.shape[1] != skeleton.count:
        raise MotionDataError(
            f"expected {skeleton.count} joints for {skeleton.name} (or 32 for H36M), got {positions.shape[1]}"
        )
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
    found = [
        sequence[start : start + length]
        for sequence in sequences
        for start in range(0, len(sequence) - length + 1, stride)
    ]
    if not found:
        raise MotionDataError(f"no sequence is {length} frames long")
    return np.stack(found)
