"""Face-aware training: the fill outside the photo, the face ellipse, the masked loss, and training with
and without ``--face-loss-weight``."""

from __future__ import annotations

import json
import math
from pathlib import Path

import numpy as np
import pytest
import torch
import torch.nn.functional as F
from PIL import Image
from safetensors.torch import load_file

from facechain.config import Settings
from facechain.errors import BadArguments
from facechain.examples import framed
from facechain.faces import CropSpec, align_face
from facechain.faces.align import ARCFACE_TEMPLATE
from facechain.faces.fill import filled_crop
from facechain.faces.masks import face_ellipse, face_mask
from facechain.portrait import TrainConfig, prepare, train
from facechain.portrait.model_folder import LORA_FILE
from facechain.portrait.training.config import TrainingError
from facechain.portrait.training.data import DatasetError, read_examples
from facechain.portrait.training.masked_loss import denoising_loss, loss_weights
from tests.conftest import save


def turned(points: np.ndarray, degrees: float, scale: float, centre) -> np.ndarray:
    """``points`` about the template's centre, scaled, turned (image coordinates) and moved to ``centre``."""
    angle = np.radians(degrees)
    rotation = np.array([[np.cos(angle), -np.sin(angle)], [np.sin(angle), np.cos(angle)]])
    return (points - 56.0) * scale @ rotation.T + np.asarray(centre, dtype=np.float64)


def test_all_ones_masks_give_the_plain_loss_exactly():
    generator = torch.Generator().manual_seed(0)
    prediction, target = torch.randn(3, 4, 8, 8, generator=generator), torch.randn(3, 4, 8, 8, generator=generator)
    plain = F.mse_loss(prediction, target, reduction="none").mean(dim=(1, 2, 3))
    for face_loss_weight in (1.0, 3.0, 100.0):
        weights = loss_weights(torch.ones(3, 2, 64, 64), face_loss_weight, (8, 8))
        assert torch.equal(denoising_loss(prediction, target, weights), plain)
    assert torch.equal(denoising_loss(prediction, target), plain)


def test_gradients_outside_the_face_shrink_by_the_weight_and_vanish_outside_the_photo():
    generator = torch.Generator().manual_seed(1)
    prediction = torch.randn(1, 4, 8, 8, generator=generator, requires_grad=True)
    target = torch.randn(1, 4, 8, 8, generator=generator)
    masks = torch.ones(1, 2, 64, 64)
    masks[:, 1, :, 32:] = 0  # face: the left half
    masks[:, 0, 56:, :] = 0  # photo: all but the bottom latent row
    (plain,) = torch.autograd.grad(denoising_loss(prediction, target).sum(), prediction)
    (masked,) = torch.autograd.grad(
        denoising_loss(prediction, target, loss_weights(masks, 4.0, (8, 8))).sum(), prediction
    )
    photo = slice(0, 7)  # latent rows inside the photo; columns 0-3 are face, 4-7 background
    assert torch.equal(masked[..., photo, :4], plain[..., photo, :4])  # the face learns as in plain training
    assert torch.allclose(masked[..., photo, 4:], plain[..., photo, 4:] / 4)
    assert masked[..., photo, 4:].norm() < 0.3 * plain[..., photo, 4:].norm()
    assert not masked[..., 7, :].any()  # the filled area teaches nothing


def test_the_face_ellipse_on_the_template_and_turned():
    ellipse = face_ellipse(ARCFACE_TEMPLATE)
    (x, y), (half_width, half_height) = ellipse.centre, ellipse.semi_axes
    assert abs(x - 56) < 0.5 and 10 < y - half_height < 13 and 111 < y + half_height < 115  # hairline to chin
    assert 17 < x - half_width < 18 and abs(ellipse.angle) < 0.5
    points = turned(ARCFACE_TEMPLATE, 30, 3.0, (200, 180))
    rotated = face_ellipse(points)
    assert abs(rotated.angle - 30) < 0.5 and np.allclose(rotated.semi_axes, np.multiply(ellipse.semi_axes, 3.0))
    mask = face_mask(points, (400, 360), feather=12)
    assert mask.shape == (360, 400) and mask.dtype == np.float32
    assert all(mask[int(py), int(px)] == 1.0 for px, py in points)  # every landmark well inside
    assert mask[0, 0] == 0.0 and mask[-1, -1] == 0.0
    ray = mask[180, 200:]  # from the centre's row outwards: 1, a soft edge, then 0
    assert np.all(np.diff(ray) <= 0) and 0 < ray[(ray > 0) & (ray < 1)].size <= 13


def test_the_mask_is_zero_beyond_the_feather_and_hard_without_one():
    points = turned(ARCFACE_TEMPLATE, -20, 2.0, (150, 150))
    ellipse, feather = face_ellipse(points), 10.0
    angles = np.linspace(0, 2 * np.pi, 1000, endpoint=False)
    a, b = ellipse.semi_axes
    turn = np.radians(ellipse.angle)
    boundary = np.stack([a * np.cos(angles), b * np.sin(angles)], axis=1) @ np.array(
        [[np.cos(turn), np.sin(turn)], [-np.sin(turn), np.cos(turn)]]
    ) + np.asarray(ellipse.centre)
    mask, hard = face_mask(points, (300, 300), feather), face_mask(points, (300, 300), 0)
    assert set(np.unique(hard)) == {0.0, 1.0} and np.all(mask[hard == 1] == 1)
    rows, cols = np.nonzero((mask > 0) & (hard == 0))  # the soft edge outside the ellipse
    centres = np.stack([cols + 0.5, rows + 0.5], axis=1)
    distance = np.min(np.linalg.norm(centres[:, None, :] - boundary[None, :, :], axis=2), axis=1)
    assert len(distance) > 100 and feather - 1 < distance.max() <= feather + 0.05  # none beyond the feather
    with pytest.raises(BadArguments, match="landmarks coincide"):
        face_ellipse(np.zeros((5, 2)))


def test_the_fill_changes_only_pixels_the_photo_does_not_cover(person):
    spec = CropSpec(size=256)
    landmarks = turned(ARCFACE_TEMPLATE, 10, 1.6, (90, 120))  # a face near the top-left corner
    crop, photo_mask = filled_crop(person, landmarks, spec)
    before = np.asarray(align_face(person, landmarks, spec))
    covered = np.asarray(photo_mask) == 255
    alpha = np.asarray(align_face(person.convert("RGBA"), landmarks, CropSpec(size=256, fill=(0, 0, 0, 0))))[..., 3]
    assert np.array_equal(covered, alpha == 255) and set(np.unique(photo_mask)) == {0, 255}
    assert 0.2 < (~covered).mean() < 0.8
    after = np.asarray(crop)
    assert np.array_equal(after[covered], before[covered])  # the photo's pixels, bit for bit
    assert np.all(before[~covered] == 255)  # flat white before ...
    filled = after[~covered].astype(np.float64)
    assert (filled < 250).any(axis=1).mean() > 0.5 and filled.std(axis=0).min() > 5  # ... not now
    assert crop.size == (256, 256) and crop.mode == "RGB"


@pytest.fixture(scope="module")
def settings(tmp_path_factory) -> Settings:
    return Settings(home=tmp_path_factory.mktemp("facechain-home"))


@pytest.fixture(scope="module")
def prepared(tmp_path_factory, person, analyzer) -> Path:
    """A real prepared dataset (128 px crops) of three framings, one with the face near the photo's top."""
    folder = tmp_path_factory.mktemp("photos")
    photos = [
        save(person.crop(box), folder / f"{i}.png") for i, box in enumerate([(150, 0, 350, 200), (80, 0, 400, 320)])
    ]
    photos.append(save(framed(person, 60, 0, 460, 400), folder / "2.png"))
    return prepare(photos, folder / "dataset", analyzer=analyzer, crop=CropSpec(size=128)).out


def strip_masks(dataset: Path, into: Path) -> Path:
    """The same dataset as it was before masks existed: images, report, captions only."""
    into.mkdir()
    (into / "images").symlink_to(dataset / "images")
    (into / "report.json").write_bytes((dataset / "report.json").read_bytes())
    lines = [json.loads(line) for line in (dataset / "metadata.jsonl").read_text().splitlines()]
    plain = [{"file_name": line["file_name"], "text": line["text"]} for line in lines]
    (into / "metadata.jsonl").write_text("".join(json.dumps(line) + "\n" for line in plain))
    return into


def test_prepare_writes_a_photo_mask_and_a_face_mask_per_crop(prepared):
    lines = [json.loads(line) for line in (prepared / "metadata.jsonl").read_text().splitlines()]
    assert len(lines) == 3
    filled = 0
    for line in lines:
        image = np.asarray(Image.open(prepared / line["file_name"]))
        photo = np.asarray(Image.open(prepared / line["photo_mask_file_name"]))
        face = np.asarray(Image.open(prepared / line["face_mask_file_name"]))
        assert photo.shape == face.shape == image.shape[:2] == (128, 128)
        assert face[48, 64] == 255 and face[0, 0] == face[-1, -1] == 0  # the face centre in, the corners out
        if (photo == 0).any():
            filled += 1
            assert not np.all(image[photo == 0] == 255)  # no flat white frame
            assert not (face[photo == 0] == 255).any()
    assert filled >= 1


def test_a_mask_the_metadata_names_must_exist(prepared, tmp_path):
    broken = strip_masks(prepared, tmp_path / "broken")
    (broken / "masks").symlink_to(prepared / "masks")
    line = json.loads((prepared / "metadata.jsonl").read_text().splitlines()[0])
    line["face_mask_file_name"] = "masks/gone.png"
    (broken / "metadata.jsonl").write_text(json.dumps(line) + "\n")
    with pytest.raises(DatasetError, match=r"line 1: .*masks/gone.png does not exist"):
        read_examples(broken)


def tiny_run(dataset: Path, out: Path, settings: Settings, steps: int = 4, **options):
    config = TrainConfig(
        dataset=dataset,
        out=out,
        tiny=True,
        steps=steps,
        learning_rate=1e-2,
        sude_weight=0.4,
        validation_images=0,
        checkpoint_every=100,
        **options,
    )
    return train(config, settings)


def test_without_the_option_masks_change_nothing_and_an_old_dataset_trains_as_before(
    prepared, settings, tmp_path, caplog
):
    old = strip_masks(prepared, tmp_path / "old")
    tiny_run(prepared, tmp_path / "with-masks", settings)
    tiny_run(old, tmp_path / "without-masks", settings)
    tiny_run(old, tmp_path / "old-weighted", settings, face_loss_weight=3.0)
    tiny_run(prepared, tmp_path / "weighted", settings, face_loss_weight=3.0)
    assert "has no masks" in caplog.text and "prepare again" in caplog.text
    reference = load_file(str(tmp_path / "with-masks" / LORA_FILE))
    for other in ("without-masks", "old-weighted"):  # all-ones masks: the plain loss, bit for bit
        tensors = load_file(str(tmp_path / other / LORA_FILE))
        assert tensors.keys() == reference.keys() and all(torch.equal(tensors[k], reference[k]) for k in reference)
    weighted = load_file(str(tmp_path / "weighted" / LORA_FILE))
    assert any(not torch.equal(weighted[k], reference[k]) for k in reference)


def test_face_weighted_training_learns_and_records_its_setting(prepared, settings, tmp_path):
    result = tiny_run(prepared, tmp_path / "m", settings, steps=24, face_loss_weight=4.0)
    (_, start), (_, end) = result.eval_losses[0], result.eval_losses[-1]
    assert end < 0.99 * start and all(math.isfinite(entry.get("loss", 0.0)) for entry in result.log)
    record = json.loads((tmp_path / "m" / "training.json").read_text())
    assert record["config"]["face_loss_weight"] == 4.0
    assert "| face loss weight | 4.0 |" in (tmp_path / "m" / "README.md").read_text()


@pytest.mark.parametrize("weight", [0.5, 101.0])
def test_a_face_loss_weight_out_of_range_is_refused(weight):
    with pytest.raises(TrainingError, match="--face-loss-weight must be between 1 and 100"):
        TrainConfig(dataset=".", out=".", face_loss_weight=weight)
