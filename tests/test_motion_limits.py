"""Motion files are bounded before they are decompressed: a small file whose headers claim gigabytes, a
header that disagrees with the zip, too many entries, non-numeric dtypes and NaN or infinite positions are
refused with a MotionDataError naming the file, the entry and the bound; uploads get the smaller budget."""

from __future__ import annotations

import math
import re
import tracemalloc
import zipfile

import gradio as gr
import numpy as np
import pytest
from numpy.lib import format as npy

from facechain.config import Settings
from facechain.motion import scenario
from facechain.motion.data import MAX_BYTES, UPLOAD_MAX_BYTES, MotionDataError, load_positions
from facechain.motion.skeleton import H36M
from facechain.ui import AppContext
from facechain.ui import motion as motion_tab

ZEROS = memoryview(bytes(2**24))


def zeros_npz(path, shape, dtype="float32", data_bytes=None, key="S1/Walking"):
    """A .npz whose one entry has a .npy header claiming ``shape`` and ``dtype``, then ``data_bytes`` zero
    bytes (default: as many as the header claims), streamed so that no array is ever held in memory."""
    dtype = np.dtype(dtype)
    left = math.prod(shape) * dtype.itemsize if data_bytes is None else data_bytes
    with (
        zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED, compresslevel=1) as archive,
        archive.open(f"{key}.npy", "w", force_zip64=True) as stream,
    ):
        npy.write_array_header_1_0(stream, {"descr": npy.dtype_to_descr(dtype), "fortran_order": False, "shape": shape})
        while left:
            left -= stream.write(ZEROS[: min(left, len(ZEROS))])
    return path


def refusal_peak(path, match, **options) -> int:
    """The traced memory peak (bytes) of load_positions refusing ``path`` with its own message, matching ``match``
    (not one wrapped as an unreadable file)."""
    tracemalloc.start()
    try:
        with pytest.raises(MotionDataError, match=match) as raised:
            load_positions(path, **options)
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    assert str(raised.value).startswith(str(path)) and "not a readable" not in str(raised.value)
    return peak


def test_a_small_file_claiming_gigabytes_is_refused_without_decompressing(tmp_path):
    bomb = zeros_npz(tmp_path / "bomb.npz", (1000, 125000, 3))  # 1.5 GB of float32 zeros
    assert bomb.stat().st_size < 25 * 2**20  # passes the app's upload limit
    assert refusal_peak(bomb, r"1,431 MiB once decompressed .*'S1/Walking.npy'.* over the 512 MiB") < 5 * 2**20
    assert refusal_peak(bomb, "over the 128 MiB", max_bytes=UPLOAD_MAX_BYTES) < 5 * 2**20
    joints = zeros_npz(tmp_path / "joints.npz", (10, 125000, 3))  # within the budget, not a skeleton
    assert refusal_peak(joints, r"'S1/Walking' has 125000 joints, outside 1 to MAX_JOINTS = 64") < 5 * 2**20
    frames = zeros_npz(tmp_path / "frames.npz", (200_001, 1, 3))
    assert refusal_peak(frames, r"200001 frames, outside 1 to MAX_FRAMES = 200000; split") < 5 * 2**20


def test_a_header_that_disagrees_with_the_zip_is_refused(tmp_path):
    short = zeros_npz(tmp_path / "short.npz", (1000, 32, 3), data_bytes=12)
    assert (
        refusal_peak(
            short,
            r"'S1/Walking' claims \(1000, 32, 3\) float32 \(384,128 bytes with its header\) but "
            r"the archive says 140 bytes",
        )
        < 2**20
    )
    forged = zeros_npz(tmp_path / "forged.npz", (1000, 125000, 3), data_bytes=12)
    assert refusal_peak(forged, "125000 joints") < 2**20  # the shape is refused before the size is compared


def test_too_many_entries_are_refused(tmp_path):
    many = tmp_path / "many.npz"
    np.savez(many, **{f"S1/clip {i}": np.zeros((1, 17, 3)) for i in range(1001)})
    refusal_peak(many, "1001 entries, over MAX_ENTRIES = 1000; put fewer clips")


def test_the_entry_count_is_read_before_the_zip_directory(tmp_path, monkeypatch):
    """Listing a directory of a million tiny entries costs memory: the count comes from the end record."""
    many = tmp_path / "many.npz"
    np.savez(many, **{f"S1/clip {i}": np.zeros((1, 17, 3)) for i in range(1001)})

    def listing(*args, **kwargs):
        raise AssertionError("the zip directory was read")

    monkeypatch.setattr(zipfile, "ZipFile", listing)
    with pytest.raises(MotionDataError, match="1001 entries, over MAX_ENTRIES"):
        load_positions(many)


@pytest.mark.parametrize(
    "array",
    [
        np.array([[[1.0, 2.0, None]]], dtype=object),
        np.zeros((2, 17, 3), dtype=[("x", "f4")]),
        np.zeros((2, 17, 3), dtype=np.complex64),
        np.zeros((2, 17, 3), dtype=bool),
    ],
    ids=["object", "structured", "complex", "bool"],
)
def test_non_numeric_dtypes_are_refused(tmp_path, array):
    path = tmp_path / "odd.npz"
    np.savez(path, **{"S1/Walking": array})
    refusal_peak(path, "'S1/Walking' holds .* values; save the positions as a float", trusted=True)


@pytest.mark.parametrize("value", [np.nan, np.inf, -np.inf, 1e39], ids=["nan", "inf", "-inf", "beyond-float32"])
def test_nan_and_infinite_positions_are_refused(tmp_path, value):
    positions = np.zeros((30, 17, 3))
    positions[7, 3, 1] = positions[9, 0, 0] = value
    plain = tmp_path / "plain.npz"
    np.savez(plain, **{"S1/Walking": positions})
    message = "'S1/Walking' has NaN or infinite positions in 2 frames \\(the first is frame 7\\); fill those frames"
    refusal_peak(plain, f"{re.escape(str(plain))}: entry {message}")
    pickled = tmp_path / "data_3d_h36m.npz"
    np.savez(pickled, positions_3d=np.array({"S1": {"Walking": positions}}, dtype=object))
    refusal_peak(pickled, message, trusted=True)


def test_the_trusted_layout_gets_the_shape_checks(tmp_path):
    pickled = tmp_path / "data_3d_h36m.npz"
    np.savez(pickled, positions_3d=np.array({"S1": {"Walking": np.zeros((30, 100, 3))}}, dtype=object))
    refusal_peak(pickled, "'S1/Walking' has 100 joints, outside 1 to MAX_JOINTS", trusted=True)


def test_good_files_load_as_before(tmp_path):
    rng = np.random.default_rng(0)
    arrays = {
        "S1/Walking": rng.normal(size=(40, 32, 3)),
        "S1/Eating 1": rng.normal(size=(20, 17, 3)).astype("f4"),
        "Train/S2/Jog chunk0": rng.integers(-500, 500, size=(25, 15, 3), dtype=np.int16),
        "S9/Sitting": np.asfortranarray(rng.normal(size=(30, 32, 3)).astype(">f8")),
    }
    for save in (np.savez, np.savez_compressed):
        save(tmp_path / "good.npz", **arrays)
        loaded = load_positions(tmp_path / "good.npz", max_bytes=UPLOAD_MAX_BYTES)
        assert set(loaded) == {"S1", "Train/S2", "S9"} and set(loaded["S1"]) == {"Walking", "Eating 1"}
        for key, array in arrays.items():
            subject, _, action = key.rpartition("/")
            assert loaded[subject][action].dtype == np.float32
            assert np.array_equal(loaded[subject][action], array.astype(np.float32))


def test_uploads_get_the_smaller_budget_and_a_readable_error(tmp_path, monkeypatch):
    clip = zeros_npz(tmp_path / "long.npz", (200_000, 32, 3), "float64")  # 146 MiB decompressed
    assert UPLOAD_MAX_BYTES < 200_000 * 32 * 3 * 8 < MAX_BYTES
    assert load_positions(clip)["S1"]["Walking"].shape == (200_000, 32, 3)
    monkeypatch.setattr(motion_tab, "motion_pipeline", lambda folder: None)
    monkeypatch.setattr(scenario, "skeleton_of", lambda pipe: H36M)
    context = AppContext.create(Settings(motion_model=tmp_path / "unused"), tmp_path / "runs")
    token, _ = context.workspaces.create()
    with pytest.raises(
        gr.Error,
        match=r"long\.npz: 146 MiB once decompressed .* over the 128 MiB accepted here; "
        r"keep fewer or shorter clips",
    ) as raised:
        next(
            motion_tab.predict_motion(
                context, token, "upload", "walk", str(clip), "", 0, 1, "predict", "right_leg", "run", "ddim", 3, 0, True
            )
        )
    assert str(tmp_path) not in str(raised.value) and "not a readable" not in str(raised.value)  # the upload's name
