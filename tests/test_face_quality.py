"""The shipped RTS quality head: it loads from safetensors, ranks real sharp faces above degraded
copies, and its score reaches report.json (curation) and results.json (generation).

The shipped head was trained on augmented 256-px crops of the astronaut, the six people of t1.jpg and
Tom Hanks (benchmarks/rts_face_head.py), so the faces here are of people it has seen; the photos
themselves (other framings and degradations) are not the ones it was trained or calibrated on. Its
held-out figure (leave one identity out) is in rts_quality.json.
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
from PIL import Image, ImageFilter

from facechain.examples import framed
from facechain.faces.quality_score import HEAD_FILE, face_quality, load_quality_head, quality_for
from facechain.portrait import prepare
from facechain.portrait.generation.generate import Generation, Portrait, rank, write_generation
from tests.conftest import save


def test_shipped_head_loads_with_its_calibration():
    head = load_quality_head()
    config = json.loads(HEAD_FILE.with_suffix(".json").read_text())
    assert head.backend == "dlib" and head.dim == 128 and head.dof == config["dof"] >= 16
    assert head.sign in (-1, 1) and head.width > 0
    assert 0.5 < config["held_out_auroc"]["mean"]["all"] <= 1
    assert HEAD_FILE.stat().st_size < 64_000


def quality_of(analyzer, image: Image.Image) -> float | None:
    """The quality of the largest face, None when the engine no longer finds one (nothing to score)."""
    faces = analyzer.detect(np.asarray(image))
    return face_quality(faces[0].embedding) if faces else None


def noisy(image: Image.Image, sd: float) -> Image.Image:
    pixels = np.asarray(image, dtype=np.float64)
    return Image.fromarray(
        np.clip(pixels + np.random.default_rng(0).normal(0, sd, pixels.shape), 0, 255).astype(np.uint8)
    )


def test_sharp_faces_score_above_their_blurred_and_noisy_copies(analyzer, group_photo):
    """Each of the six faces of t1.jpg, cropped at 2.5x its side, against a copy blurred with sigma 4%
    of the face side, and on average against copies with noise sd 40 (where the engine still finds
    them). Known limits, measured and not asserted: darkened copies often keep a high score
    (held-out AUROC 0.62 for darkness), and on the astronaut the score is not monotonic in blur
    (sharp 0.81, sigma 1-2 px 0.003, sigma 4 px 0.96)."""
    sharp, noise = [], []
    for face in analyzer.detect(np.asarray(group_photo)):
        side, (cx, cy) = face.width, ((face.box[0] + face.box[2]) / 2, (face.box[1] + face.box[3]) / 2)
        crop = group_photo.crop(
            (round(cx - 1.25 * side), round(cy - 1.25 * side), round(cx + 1.25 * side), round(cy + 1.25 * side))
        )
        sharp.append(quality_of(analyzer, crop))
        assert 0 < quality_of(analyzer, crop.filter(ImageFilter.GaussianBlur(0.04 * side))) < sharp[-1] <= 1
        noise.append(quality_of(analyzer, noisy(crop, 40)))
    found = [i for i, value in enumerate(noise) if value is not None]
    assert len(found) >= 3 and np.mean([noise[i] for i in found]) < np.mean([sharp[i] for i in found])


def test_quality_applies_only_to_the_engine_it_was_trained_on(analyzer, person):
    face = analyzer.detect(np.asarray(person))[0]
    assert quality_for(analyzer, face) == round(face_quality(face.embedding), 3)

    class Other:
        name = "insightface"

    assert quality_for(Other(), face) is None
    with pytest.raises(ValueError, match="128-D"):
        face_quality(np.ones(512) / np.sqrt(512))


def test_report_json_has_quality_for_each_photo_with_a_face(tmp_path, analyzer, person):
    from skimage import data

    photos = [
        save(framed(person, 40, 0, 480, 420), tmp_path / "portrait.jpg"),
        save(framed(person, 20, 10, 470, 460).transpose(Image.Transpose.FLIP_LEFT_RIGHT), tmp_path / "mirrored.jpg"),
        save(Image.fromarray(data.chelsea()), tmp_path / "cat.jpg"),
    ]
    result = prepare(photos, tmp_path / "dataset", analyzer=analyzer)
    entries = {Path(p["source"]).name: p for p in json.loads((result.out / "report.json").read_text())["photos"]}
    assert entries["portrait.jpg"]["status"] == "kept" and 0 < entries["portrait.jpg"]["quality"] < 1
    assert 0 < entries["mirrored.jpg"]["quality"] < 1
    assert entries["cat.jpg"]["reason"] == "no face found" and entries["cat.jpg"]["quality"] is None


def test_results_json_has_quality_for_each_portrait_with_a_face(tmp_path, analyzer, person):
    reference = save(framed(person, 100, 20, 356, 276), tmp_path / "reference.png")
    noise = Image.fromarray(np.random.default_rng(0).integers(0, 255, (256, 256, 3), dtype=np.uint8))
    generation = Generation(
        [Portrait(noise, 1, None, None), Portrait(framed(person, 60, 0, 420, 360), 2, None, None)],
        "sks, a woman",
        "",
        "test",
        "tiny",
        None,
        reference,
    )
    ranked = rank(generation, analyzer)
    write_generation(ranked, tmp_path / "out")
    entries = {e["seed"]: e for e in json.loads((tmp_path / "out" / "results.json").read_text())["portraits"]}
    assert 0 < entries[2]["quality"] < 1 and entries[2]["quality"] == ranked.portraits[0].quality
    assert entries[1]["flag"] == "no face found" and entries[1]["quality"] is None
