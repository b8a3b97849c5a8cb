"""Photos near the pixel guard, and images of degenerate shape: bounded cost, clear reasons, same crops."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from facechain.config import Settings
from facechain.examples import astronaut
from facechain.faces import CropSpec
from facechain.images import PhotoError, decoded_pixels, load_photo, to_rgb
from facechain.portrait import prepare
from facechain.portrait.dataset.prepare import examine_photo
from tests.test_images import png_header_only

NEAR_LIMIT = 10900  # 10900x10900 = 118.8 megapixels, just under the 120-megapixel guard

MEASURE_PREPARE = """
import json, resource, sys, time
from facechain.faces import load_analyzer
from facechain.portrait import NoUsablePhotos, prepare

def peak_mb():
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024  # KiB on Linux

analyzer = load_analyzer("dlib")
before, start = peak_mb(), time.process_time()
try:
    prepare([sys.argv[1]], sys.argv[2], analyzer=analyzer)
    reasons = []
except NoUsablePhotos as error:
    reasons = [photo.reason for photo in error.photos]
print(json.dumps({"grown_mb": peak_mb() - before, "cpu_s": time.process_time() - start, "reasons": reasons}))
"""


@pytest.fixture(scope="module")
def near_limit_png(tmp_path_factory) -> Path:
    """One grey 10900x10900 PNG: 139 KB on disk, 119 megapixels once decoded."""
    path = tmp_path_factory.mktemp("large") / "grey.png"
    Image.new("L", (NEAR_LIMIT, NEAR_LIMIT), 128).save(path)
    return path


def test_near_limit_png_costs_bounded_memory_and_time(near_limit_png, tmp_path):
    # A fresh process, since PIL's pixel buffers are invisible to tracemalloc: the growth of its peak
    # resident memory while prepare runs. Decoded in full this was +1.79 GB and 11.8 s of CPU.
    env = dict(os.environ, OMP_NUM_THREADS="1")
    done = subprocess.run(
        [sys.executable, "-c", MEASURE_PREPARE, str(near_limit_png), str(tmp_path / "dataset")],
        capture_output=True,
        text=True,
        env=env,
        check=True,
    )
    measured = json.loads(done.stdout.strip().splitlines()[-1])
    assert measured["reasons"] == ["no face found"]
    assert measured["grown_mb"] < 600, measured
    assert measured["cpu_s"] < 6.0, measured


@pytest.mark.parametrize("size", [(100000, 1), (1, 100000), (31, 400), (3000, 100)])
def test_images_too_thin_for_a_face_are_refused_with_the_reason(tmp_path, size):
    Image.new("RGB", size, (90, 120, 150)).save(tmp_path / "thin.png")
    with pytest.raises(PhotoError) as error:
        load_photo(tmp_path / "thin.png")
    assert str(error.value).startswith(
        f"image {size[0]}x{size[1]} is too narrow to hold a face: the short side must be at least 32 px"
    )


@pytest.mark.parametrize("size", [(32, 32), (640, 32), (32, 640)])
def test_the_thinnest_accepted_images_load(tmp_path, size):
    Image.new("RGB", size, (90, 120, 150)).save(tmp_path / "small.png")
    assert load_photo(tmp_path / "small.png").image.size == size


def test_degenerate_images_are_rejected_and_the_batch_goes_on(tmp_path, analyzer):
    Image.new("RGB", (100000, 1), (90, 120, 150)).save(tmp_path / "line.png")
    png_header_only(tmp_path / "zero.png", 0, 5)  # PIL cannot write a zero-area image; a header can claim one
    astronaut().save(tmp_path / "face.jpg", quality=92)
    result = prepare(
        [tmp_path / "line.png", tmp_path / "zero.png", tmp_path / "face.jpg"], tmp_path / "dataset", analyzer=analyzer
    )
    line, zero, face = result.photos
    assert line.reason == (
        "image 100000x1 is too narrow to hold a face: the short side must be at least 32 px "
        "and at least 1/20 of the long side"
    )
    assert zero.reason.startswith("not an image")
    assert face.status == "kept"


@pytest.fixture(scope="module")
def small_face(analyzer, tmp_path_factory):
    path = tmp_path_factory.mktemp("small") / "face.png"
    astronaut().save(path)
    return examine_photo(0, path, analyzer, CropSpec(), Settings())


@pytest.mark.parametrize("suffix, options", [(".jpg", {"quality": 95}), (".png", {"compress_level": 1})])
def test_a_large_photo_gives_the_crop_of_its_small_version(tmp_path, analyzer, small_face, suffix, options):
    side = 6000
    path = tmp_path / f"face{suffix}"
    astronaut().resize((side, side), Image.Resampling.BICUBIC).save(path, **options)
    assert load_photo(path).image.size == (side // 2, side // 2)  # JPEG decoded at 1/2 scale, PNG reduced after
    report, candidate, crop = examine_photo(0, path, analyzer, CropSpec(), Settings())
    small_report, _, small_crop = small_face
    assert candidate is not None, report.reason
    box, small_box = np.array(report.box), np.array(small_report.box) * side / 512
    assert np.abs(box - small_box).max() < 0.1 * (small_box[2] - small_box[0])  # reported in the photo's own pixels
    assert abs(report.roll_degrees - small_report.roll_degrees) < 1.5
    # 7-8 grey levels apart (dlib's landmarks shift a little with scale); decoded in full it was 8.7
    assert np.abs(np.asarray(crop.image, dtype=float) - np.asarray(small_crop.image, dtype=float)).mean() < 12


def with_alpha_ramp(person: Image.Image) -> Image.Image:
    rgba = person.convert("RGBA")
    rgba.putalpha(Image.linear_gradient("L").resize(person.size))
    return rgba


def with_transparent_index(person: Image.Image) -> Image.Image:
    palette = person.convert("P")
    palette.info["transparency"] = 0
    return palette


IN_MODES = {
    "RGBA.png": with_alpha_ramp,
    "P.png": with_transparent_index,
    "LA.png": lambda person: person.convert("LA"),
    "1.png": lambda person: person.convert("1"),
    "I16.png": lambda person: Image.fromarray(np.asarray(person.convert("L"), dtype=np.uint16) * 200),
    "F.tiff": lambda person: Image.fromarray(np.asarray(person.convert("L"), dtype=np.float32) / 255),
    "L.png": lambda person: person.convert("L"),
    "RGB.png": lambda person: person,
}
"""The photo in every mode converted band by band before it is reduced, and the two reduced at once."""


@pytest.mark.parametrize("name", IN_MODES)
def test_reduced_decoding_matches_converting_in_full(tmp_path, name):
    IN_MODES[name](astronaut().resize((700, 450))).save(tmp_path / name)
    with Image.open(tmp_path / name) as stored:
        expected = to_rgb(stored).reduce(5)  # 700 px down to 140: reduced by 5, in bands of 320 rows
    reduced = load_photo(tmp_path / name, max_side=140)
    assert reduced.scale == 5.0
    assert np.array_equal(np.asarray(reduced.image), np.asarray(expected))


def test_decoded_pixels_counts_what_loading_decodes(tmp_path):
    Image.new("RGB", (8064, 6048), (90, 120, 150)).save(tmp_path / "phone48.jpg")
    Image.new("RGB", (8064, 6048), (90, 120, 150)).save(tmp_path / "phone48.png")
    assert decoded_pixels(tmp_path / "phone48.jpg") == 4032 * 3024  # JPEG decoded at 1/2 scale
    assert decoded_pixels(tmp_path / "phone48.png") == 8064 * 6048
    assert decoded_pixels(png_header_only(tmp_path / "bomb.png", 30000, 30000)) == 0  # refused unread
    assert decoded_pixels(tmp_path / "missing.png") == 0


def test_request_budget_refuses_the_photos_past_it_and_examines_the_rest(tmp_path, analyzer):
    astronaut().save(tmp_path / "1_face.jpg", quality=92)  # 0.26 megapixels
    Image.new("L", (2000, 2000), 128).save(tmp_path / "2_large.png")  # 4 megapixels: past the budget
    Image.new("L", (300, 300), 128).save(tmp_path / "3_small.png")  # still fits after the large one
    result = prepare([tmp_path], tmp_path / "dataset", analyzer=analyzer, max_request_pixels=3_000_000)
    face, large, small = result.photos
    assert face.status == "kept" and small.reason == "no face found"
    assert large.reason == (
        "not examined: it would decode 4 megapixels and this request has 3 of its 3 left; "
        "send it downscaled or in another batch"
    )


@pytest.mark.filterwarnings("ignore::PIL.Image.DecompressionBombWarning")  # the tab's thumbnail check opens them
def test_photos_tab_decodes_at_most_three_near_limit_photos_per_click(tmp_path, analyzer):
    from facechain.ui.photos import REQUEST_PIXELS, prepare_uploads
    from tests.test_app import collect, working_context

    assert 30 * 4032 * 3024 <= REQUEST_PIXELS < 4 * NEAR_LIMIT**2  # 30 phone photos fit, a fourth huge PNG does not
    astronaut().save(tmp_path / "face.jpg", quality=92)
    # Headers of 10900x10900 PNGs: they count in full against the budget and fail at once when decoded
    huge = [png_header_only(tmp_path / f"huge{i}.png", NEAR_LIMIT, NEAR_LIMIT) for i in range(4)]
    with working_context(Settings(face_backend="dlib"), tmp_path / "app") as context:
        token, _ = context.workspaces.create()
        _, table, summary, _ = collect(prepare_uploads([tmp_path / "face.jpg", *huge], "sks", "", 20, context, token))
    details = {name: detail for name, _, detail in table}
    assert "Kept **1** of 5" in summary
    assert all(details[f"huge{i}.png"].startswith("truncated or corrupt") for i in range(3))
    assert details["huge3.png"].startswith("not examined: it would decode 119 megapixels")
