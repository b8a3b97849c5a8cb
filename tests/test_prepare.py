"""End to end: photos in, dataset and report out, through Python and the CLI."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from facechain.cli import main
from facechain.examples import framed, write_example_photos
from facechain.portrait import NoUsablePhotos, prepare
from tests.conftest import as_array, save


@pytest.fixture(scope="module")
def examples(tmp_path_factory) -> Path:
    return Path(write_example_photos(tmp_path_factory.mktemp("examples") / "photos")[0]).parent


@pytest.fixture(scope="module")
def prepared(examples, tmp_path_factory, analyzer):
    return prepare([examples], tmp_path_factory.mktemp("runs") / "dataset", analyzer=analyzer)


def by_name(result):
    return {Path(p.source).name: p for p in result.photos}


def test_example_set_keeps_every_usable_photo_upright(prepared, analyzer):
    photos = by_name(prepared)
    usable = [
        "01_portrait.jpg",
        "02_turned.jpg",
        "03_mirrored.jpg",
        "04_close.jpg",
        "05_soft.jpg",
        "06_exif_rotated.jpg",
        "07_sideways.jpg",
        "08_grey16.png",
    ]
    assert sorted(p for p, r in photos.items() if r.status == "kept") == usable
    assert photos["06_exif_rotated.jpg"].exif_rotated and photos["07_sideways.jpg"].rotation == 270
    for report in prepared.kept:
        crop = Image.open(prepared.out / report.output)
        assert crop.size == (512, 512)
        faces = analyzer.detect(as_array(crop))
        assert (
            len(faces) == 1 and abs(np.degrees(np.arctan2(*(faces[0].landmarks[1] - faces[0].landmarks[0])[::-1]))) < 5
        )


def test_example_set_rejects_each_bad_file_for_its_reason(prepared):
    reasons = {name: report.reason for name, report in by_name(prepared).items() if report.status == "rejected"}
    assert reasons["09_copy.jpg"].startswith("near-duplicate of 01_portrait.jpg")
    assert by_name(prepared)["09_copy.jpg"].duplicate_of == "01_portrait.jpg"
    assert reasons["10_blurred.jpg"].startswith("too blurred")
    assert reasons["11_cat.jpg"] == reasons["12_screenshot.png"] == "no face found"
    assert reasons["13_truncated.jpg"].startswith("truncated or corrupt")
    assert reasons["14_empty.jpg"] == "empty file (0 bytes)"
    assert reasons["15_notes.txt"].startswith("not an image")


def test_dataset_layout_report_and_captions(prepared):
    lines = [json.loads(line) for line in (prepared.out / "metadata.jsonl").read_text().splitlines()]
    assert [line["file_name"] for line in lines] == [f"images/{i:03d}.png" for i in range(len(prepared.kept))]
    assert {line["text"] for line in lines} == {"sks, a woman"}
    for i, line in enumerate(lines):  # each crop's masks: the photo's pixels and the face (tests/test_masked_loss.py)
        for kind in ("photo", "face"):
            assert line[f"{kind}_mask_file_name"] == f"masks/{i:03d}-{kind}.png"
            assert Image.open(prepared.out / line[f"{kind}_mask_file_name"]).size == (512, 512)
    report = json.loads((prepared.out / "report.json").read_text())
    assert report["class_phrase"] == report["detected_class_phrase"] == "a woman"
    assert report["reference"] == prepared.reference and Path(report["reference"]).name in {
        Path(p.source).name for p in prepared.kept
    }
    entry = next(p for p in report["photos"] if p["status"] == "kept")
    for key in ("reason", "detection_score", "box", "sharpness", "identity_distance", "duplicate_of", "order"):
        assert key in entry
    assert prepared.kept[0].source == prepared.reference  # selection starts at the reference face


def test_other_person_and_group_photo(tmp_path, person, other_person, group_photo, analyzer):
    photos = [
        save(framed(person, *box), tmp_path / f"me{i}.jpg")
        for i, box in enumerate([(0, 0, 512, 512), (40, 0, 460, 420), (80, 20, 400, 340)])
    ]
    photos.append(save(other_person, tmp_path / "stranger.jpg"))
    photos.append(save(group_photo, tmp_path / "group.jpg"))
    friend = group_photo.crop((60, 280, 180, 400)).resize((90, 90))
    with_friend = framed(person, 100, 0, 512, 412).resize((1024, 1024), Image.Resampling.BICUBIC)
    with_friend.paste(friend, (900, 900))  # a face 1/5 the area of the main one
    photos.append(save(with_friend, tmp_path / "with_friend.jpg"))
    result = prepare(photos, tmp_path / "out", class_word="woman", trigger="ohwx", analyzer=analyzer)
    reports = by_name(result)
    assert reports["stranger.jpg"].status == "rejected" and "different person" in reports["stranger.jpg"].reason
    assert reports["group.jpg"].faces_found == 6 and "6 faces of comparable size" in reports["group.jpg"].reason
    assert reports["with_friend.jpg"].status == "kept" and reports["with_friend.jpg"].faces_found == 2
    assert result.caption == "ohwx, a woman"


def test_nothing_usable_raises_with_every_reason(tmp_path, analyzer):
    from skimage import data

    Image.fromarray(data.coffee()).save(tmp_path / "coffee.jpg")
    (tmp_path / "empty.png").write_bytes(b"")
    with pytest.raises(NoUsablePhotos) as error:
        prepare([tmp_path], tmp_path / "out", analyzer=analyzer)
    assert "no face found" in str(error.value) and "empty file" in str(error.value)
    assert not (tmp_path / "out").exists()


def test_cli_prepare_and_exit_codes(examples, tmp_path, capsys):
    out = tmp_path / "dataset"
    assert (
        main(
            [
                "prepare",
                str(examples),
                "--out",
                str(out),
                "--max-photos",
                "3",
                "--class-word",
                "astronaut",
                "--backend",
                "dlib",
            ]
        )
        == 0
    )
    printed = capsys.readouterr().out
    assert "kept 3 of 15 photos" in printed and "'sks, an astronaut'" in printed and "(detected: a woman)" in printed
    assert len(list((out / "images").iterdir())) == 3
    before = (out / "report.json").read_bytes()
    assert main(["prepare", str(examples), "--out", str(out)]) == 3  # exists, no --overwrite
    assert "--overwrite" in capsys.readouterr().err and (out / "report.json").read_bytes() == before
    assert main(["prepare", str(examples / "11_cat.jpg"), "--out", str(tmp_path / "none")]) == 2
    assert "no face found" in capsys.readouterr().err


def test_failed_write_leaves_previous_dataset_intact(examples, tmp_path, analyzer, monkeypatch):
    out = tmp_path / "dataset"
    prepare([examples / "01_portrait.jpg"], out, analyzer=analyzer)
    before = (out / "report.json").read_bytes()

    def disk_full(self, *args, **kwargs):
        raise OSError("No space left on device")

    monkeypatch.setattr(Image.Image, "save", disk_full)
    with pytest.raises(OSError, match="No space"):
        prepare([examples / "03_mirrored.jpg"], out, analyzer=analyzer, overwrite=True)
    assert (out / "report.json").read_bytes() == before
    assert sorted(p.name for p in tmp_path.iterdir()) == ["dataset"]  # no staging folder left behind


def test_huge_photo_is_analysed_and_cropped(tmp_path, person, analyzer):
    big = person.resize((4000, 4000), Image.Resampling.BILINEAR)
    result = prepare([save(big, tmp_path / "big.jpg", quality=85)], tmp_path / "out", analyzer=analyzer)
    assert result.kept[0].box[2] - result.kept[0].box[0] > 500
    assert Image.open(result.out / "images/000.png").size == (512, 512)


def test_helper_processes_give_the_same_dataset(examples, tmp_path, analyzer):
    photos = [
        examples / name for name in ("01_portrait.jpg", "03_mirrored.jpg", "09_copy.jpg", "11_cat.jpg", "14_empty.jpg")
    ]
    alone = prepare(photos, tmp_path / "alone", analyzer=analyzer)
    seen = []
    helped = prepare(
        photos,
        tmp_path / "helped",
        analyzer=analyzer,
        workers=2,
        progress=lambda done, total, name: seen.append((done, total)),
    )
    assert [(p.status, p.reason, p.order) for p in helped.photos] == [
        (p.status, p.reason, p.order) for p in alone.photos
    ]
    assert sorted(seen) == [(i, 5) for i in range(1, 6)]
    for report in alone.kept:
        assert (tmp_path / "alone" / report.output).read_bytes() == (tmp_path / "helped" / report.output).read_bytes()


@pytest.mark.parametrize(
    "options, message", [({"trigger": "two words"}, "one word"), ({"max_photos": 0}, "at least 1")]
)
def test_bad_options_are_refused_before_any_work(tmp_path, examples, analyzer, options, message):
    with pytest.raises(ValueError, match=message):
        prepare([examples / "01_portrait.jpg"], tmp_path / "out", analyzer=analyzer, **options)
    assert not (tmp_path / "out").exists()
