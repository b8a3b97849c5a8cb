"""The face detail pass (generation/detail.py) on a real photo with six faces (insightface's t1.jpg) and
the tiny model with a trained tiny LoRA: only pixels inside the feathered face masks change, the chosen
faces and no others are refined, the image-to-image pipeline shares the loaded weights, and the results
record what the pass did."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
import torch
from PIL import Image

from facechain.faces import Face
from facechain.portrait.generation.detail import DetailSettings, FaceDetailer, crop_square, square_mask
from facechain.portrait.generation.generate import PipelineCache, generate, render, write_generation
from facechain.portrait.generation.request import GenerationError, GenerationRequest
from pipelines.face_detail import blend, colour_matched
from tests.test_generate import model, settings  # noqa: F401  (module fixtures: the tiny trained model)


@pytest.fixture(scope="module")
def loaded(model, settings):  # noqa: F811
    """The tiny base model with the person's adapter configured, as generation leaves it."""
    cache = PipelineCache()
    render(GenerationRequest(model=model, count=1, steps=2, seed=1, detail=False), settings, cache=cache)
    return cache.pipe


@pytest.fixture(scope="module")
def group(group_photo) -> Image.Image:
    """t1.jpg: six faces, each of which the dlib engine finds."""
    return group_photo


def detailer(pipe, analyzer, faces: str = "subject", strength: float = 0.5) -> FaceDetailer:
    return FaceDetailer(pipe, analyzer, "sks, a woman", "blurry", 4, 5.0, DetailSettings(strength, 0.6, faces))


def union_of_masks(image: Image.Image, faces, padding: float = 0.6) -> np.ndarray:
    """Where the pass may write: each of ``faces``' masks (``square_mask``), placed at its crop."""
    union = np.zeros((image.height, image.width), dtype=np.float32)
    for face in faces:
        left, top, side = square = crop_square(face, image.size, padding)
        window = union[top : top + side, left : left + side]
        np.maximum(window, square_mask(face, square), out=window)
    return union


def refined_faces(plan) -> list:
    return [face for face, _ in plan if face is not None]


@pytest.mark.parametrize("choice", ["subject", "all"])
def test_only_pixels_inside_the_feathered_masks_change(loaded, analyzer, group, choice):
    pass_ = detailer(loaded, analyzer, choice)
    plan = pass_.plan(group)
    refined = [record.number for _, record in plan if record.refined]
    assert len(plan) == 6
    assert refined == ([1] if choice == "subject" else [1, 2, 3, 4, 5, 6])
    assert all(record.reason == "not chosen" for _, record in plan if not record.refined)
    out = pass_.refine(group, plan, torch.Generator().manual_seed(3))
    changed = np.any(np.asarray(out) != np.asarray(group), axis=-1)
    allowed = union_of_masks(group, refined_faces(plan)) > 0
    assert changed.any() and not (changed & ~allowed).any()  # outside the masks: the input, exactly
    core = union_of_masks(group, refined_faces(plan)) > 0.99
    assert changed[core].mean() > 0.9  # inside: redrawn
    for _, record in plan:  # each chosen face changed, each other face is untouched
        left, top, right, bottom = (int(v) for v in record.box)
        assert changed[top:bottom, left:right].any() == record.refined


def test_the_pass_uses_the_loaded_weights_not_a_copy(loaded, analyzer):
    pass_ = detailer(loaded, analyzer)
    for name in ("unet", "vae", "text_encoder"):
        ours, theirs = getattr(pass_.img2img, name), getattr(loaded, name)
        assert ours is theirs
        assert [p.data_ptr() for p in ours.parameters()] == [p.data_ptr() for p in theirs.parameters()]
    assert any("lora" in name for name, _ in pass_.img2img.unet.named_parameters())  # the person's adapter


def test_same_seed_same_face_and_faces_too_small_are_left_alone(loaded, analyzer, group):
    pass_ = detailer(loaded, analyzer)
    plan = pass_.plan(group)
    first = pass_.refine(group, plan, torch.Generator().manual_seed(5))
    again = pass_.refine(group, plan, torch.Generator().manual_seed(5))
    assert np.array_equal(np.asarray(first), np.asarray(again))
    small = detailer(loaded, FixedFace(analyzer, side=12)).plan(group)
    assert [(face, record.refined, record.reason) for face, record in small] == [
        (None, False, "too small to refine (12 px < 16)")
    ]


def test_the_pipeline_alone_redraws_a_square_through_any_mask(loaded, group):
    """``PortraitPipeline.refine_square`` with a mask from no face engine at all: a disc."""
    ys, xs = np.mgrid[0:200, 0:200]
    disc = (np.hypot(xs - 100, ys - 100) < 60).astype(np.float32)
    with pytest.raises(ValueError, match="does not lie inside"):
        loaded.refine_square(group, (1200, 100, 200), disc, prompt="sks")
    with pytest.raises(ValueError, match="the square needs .200, 200."):
        loaded.refine_square(group, (300, 100, 200), disc[:100], prompt="sks")
    out = loaded.refine_square(
        group,
        (300, 100, 200),
        disc,
        prompt="sks",
        strength=0.5,
        num_inference_steps=4,
        generator=torch.Generator().manual_seed(1),
    )
    moved = np.any(np.asarray(out) != np.asarray(group), axis=-1)
    inside = np.zeros(moved.shape, dtype=bool)
    inside[100:300, 300:500] = disc > 0
    assert moved.any() and not (moved & ~inside).any()


def test_crop_square_by_hand():
    face = Face((100, 50, 140, 90), np.zeros((5, 2)), 1.0, np.zeros(2))
    # side 40 * (1 + 2 * 0.5) = 80 around the centre (120, 70): (80, 30)
    assert crop_square(face, (400, 300), 0.5) == (80, 30, 80)
    # near the top left corner the square moves inside, keeping its side
    corner = Face((0, 0, 40, 40), np.zeros((5, 2)), 1.0, np.zeros(2))
    assert crop_square(corner, (400, 300), 0.5) == (0, 0, 80)
    # an image shorter than the square: the side shrinks to 60, still centred on x = 120
    assert crop_square(face, (200, 60), 0.5) == (90, 0, 60)


def test_colour_match_and_blend_by_hand():
    original = np.full((4, 4, 3), 100, dtype=np.uint8)
    refined = np.full((4, 4, 3), 130.0, dtype=np.float32)
    mask = np.zeros((4, 4), dtype=np.float32)
    mask[1:3, 1:3] = 1.0
    mask[0, 1] = 0.5  # one soft-edge pixel: its colours set the shift (-30)
    matched = colour_matched(refined, original.astype(np.float32), mask)
    assert np.allclose(matched, 100.0)
    hard = np.where(mask == 1.0, 1.0, 0.0).astype(np.float32)
    assert np.array_equal(colour_matched(refined, original, hard), refined)  # no soft edge: unchanged
    out = blend(original, refined, mask)
    assert out[0, 0, 0] == 100 and out[1, 1, 0] == 130 and out[0, 1, 0] == 115


def test_bad_face_choices_are_refused_before_anything_loads(model):  # noqa: F811
    for choice in ("largest", "0", "1,x", ""):
        with pytest.raises(GenerationError, match="faces to refine"):
            GenerationRequest(model=model, detail_faces=choice)
    with pytest.raises(GenerationError, match="detail strength"):
        GenerationRequest(model=model, detail_strength=0)


def test_a_short_schedule_still_gives_the_pass_one_step():
    """8 LCM steps at strength 0.1 would be int(0.8) = 0 image-to-image steps (diffusers then fails):
    the pass asks for a 10-step schedule and runs its last step."""
    from facechain.portrait.generation.request import detail_schedule, image_to_image_steps

    assert (detail_schedule(8, 0.1), image_to_image_steps(8, 0.1)) == (10, 1)
    assert (detail_schedule(2, 0.4), image_to_image_steps(2, 0.4)) == (3, 1)
    assert (detail_schedule(30, 0.4), image_to_image_steps(30, 0.4)) == (30, 12)  # the usual case: unchanged
    assert (detail_schedule(4, 0.5), image_to_image_steps(4, 0.5)) == (4, 2)


def test_the_mask_fades_out_before_the_square_ends():
    """A close-up whose face oval is wider than the square: the mask reaches 0 on the square's own edge."""
    from facechain.portrait.generation.detail import edge_fade

    fade = edge_fade(100, 10)
    assert fade[0].max() == 0 and fade[:, 0].max() == 0 and fade[50, 50] == 1 and fade[5, 50] == 0.5


class FixedFace:
    """A stand-in face engine that finds one face ``side`` px wide from (16, 16): by default the middle
    half of a 64 px tiny-model image (the tiny model draws noise, in which no real engine finds a face)."""

    def __init__(self, analyzer, side: float = 32.0):
        self.name, self.thresholds, self.side = analyzer.name, analyzer.thresholds, side

    def detect(self, image: np.ndarray) -> list[Face]:
        landmarks = 16 + self.side * np.array([[0.25, 0.3], [0.75, 0.3], [0.5, 0.55], [0.3, 0.8], [0.7, 0.8]])
        box = (16.0, 16.0, 16.0 + self.side, 16.0 + self.side)
        return [Face(box, landmarks, 1.0, np.eye(128, dtype=np.float32)[0])]


def test_generation_refines_then_ranks_and_records_the_faces(model, settings, analyzer, tmp_path):  # noqa: F811
    engine = FixedFace(analyzer)
    common = {"model": model, "count": 2, "steps": 4, "seed": 21}
    plain = generate(GenerationRequest(**common, detail=False), settings, engine)
    steps = []
    detailed = generate(
        GenerationRequest(**common, detail_strength=0.5), settings, engine, progress=lambda *a: steps.append(a)
    )
    by_seed = {p.seed: p for p in plain.portraits}
    face = engine.detect(np.zeros((64, 64, 3), np.uint8))[0]
    inside = union_of_masks(Image.new("RGB", (64, 64)), [face]) > 0  # its crop is the whole image
    for portrait in detailed.portraits:
        before, after = np.asarray(by_seed[portrait.seed].image), np.asarray(portrait.image)
        changed = np.any(before != after, axis=-1)
        assert changed.any() and not (changed & ~inside).any()  # outside the face: the sampled pixels
        assert portrait.faces[0].refined and portrait.faces[0].box == [16.0, 16.0, 48.0, 48.0]
    assert all(p.faces is None for p in plain.portraits)
    assert steps[-1][0] == steps[-1][1] == 2 * 4 + 2 * 2  # sampling, then 2 steps (0.5 x 4) per face
    assert {total for _, total, _ in steps} == {12}  # the face's steps expected from the start: no jump back
    assert "face detail" in steps[-1][2]
    out = write_generation(detailed, tmp_path / "out")
    results = json.loads((out / "results.json").read_text())
    assert results["settings"]["detail"] is True and results["settings"]["detail_strength"] == 0.5
    assert results["portraits"][0]["faces"][0] == {
        "number": 1,
        "box": [16.0, 16.0, 48.0, 48.0],
        "refined": True,
        "reason": None,
    }


def test_cli_detail_switch(model, monkeypatch):  # noqa: F811
    import argparse

    from facechain.cli.common import add_config_options, config_from_args

    parser = argparse.ArgumentParser()
    add_config_options(parser, GenerationRequest, positional=("model",))
    assert config_from_args(GenerationRequest, parser.parse_args([str(model)])).detail is True
    off = config_from_args(GenerationRequest, parser.parse_args([str(model), "--no-detail"]))
    assert off.detail is False
    assert Path(off.model) == model
