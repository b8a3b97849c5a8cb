"""Template mode and ControlNet structure control on the tiny model with a trained tiny LoRA: the
template's pixels stay its own outside the refined face, bad templates fail clearly, a tiny ControlNet
(``ControlNetModel.from_unet`` on the tiny UNet) steers the output by its control image, and
ControlNets that cannot be used are refused by name."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
import torch
from PIL import Image

from facechain.cli import main
from facechain.diffusion.tiny import ensure_tiny_model
from facechain.examples import astronaut, save_with_orientation
from facechain.portrait.generation.control import ControlNetUnavailable, canny_edges, openpose_skeleton
from facechain.portrait.generation.generate import PipelineCache, generate
from facechain.portrait.generation.request import GenerationError, GenerationRequest
from facechain.portrait.generation.templates import SHIPPED_TEMPLATES, template_image
from tests.test_detail import FixedFace, union_of_masks
from tests.test_generate import model, settings  # noqa: F401  (module fixtures: the tiny trained model)


def face_area(image: Image.Image, analyzer) -> np.ndarray:
    """Where the pass may write in ``image``: its largest face's mask."""
    return union_of_masks(image, analyzer.detect(np.asarray(image))[:1]) > 0


def changed(a: Image.Image, b: Image.Image) -> np.ndarray:
    return np.any(np.asarray(a) != np.asarray(b), axis=-1)


def test_template_mode_keeps_every_pixel_outside_the_face(model, settings, analyzer):  # noqa: F811
    template = template_image("astronaut")
    result = generate(
        GenerationRequest(model=model, template="astronaut", count=2, steps=4, seed=3), settings, analyzer
    )
    area = face_area(template, analyzer)
    for portrait in result.portraits:
        assert portrait.image.size == template.size
        moved = changed(portrait.image, template)
        assert moved.any() and not (moved & ~area).any()
        assert portrait.faces[0].refined
    first, second = (p.image for p in sorted(result.portraits, key=lambda p: p.seed))
    assert not np.array_equal(np.asarray(first), np.asarray(second))  # one variant per seed
    assert result.settings["template"] == "astronaut" and result.settings["detail_strength"] == 0.65


def test_the_shipped_templates_each_hold_a_face(analyzer):
    for name in SHIPPED_TEMPLATES:
        assert analyzer.detect(np.asarray(template_image(name))), name


def test_templates_in_any_encoding_open_upright(tmp_path, analyzer):
    person = astronaut()
    person.convert("CMYK").save(tmp_path / "cmyk.jpg", quality=95)
    Image.fromarray(np.asarray(person.convert("L"), dtype=np.uint16) * 257).save(tmp_path / "wide.png")
    save_with_orientation(person, tmp_path / "turned.jpg", 6)
    for name in ("cmyk.jpg", "wide.png", "turned.jpg"):
        image = template_image(tmp_path / name)
        assert image.mode == "RGB" and image.size == (512, 512)
        assert len(analyzer.detect(np.asarray(image))) == 1, name  # upright: the face is found


def test_bad_templates_fail_clearly(model, settings, analyzer, tmp_path):  # noqa: F811
    from skimage import data

    Image.fromarray(data.chelsea()).save(tmp_path / "cat.png")
    (tmp_path / "notes.jpg").write_text("not an image")
    cases = {
        "cat.png": "finds no face in it",
        "notes.jpg": "template notes.jpg: ",
        "missing.jpg": "no such file, and not a shipped template",
    }
    for name, message in cases.items():
        with pytest.raises(GenerationError, match=message):
            generate(
                GenerationRequest(model=model, template=str(tmp_path / name), count=1, steps=2), settings, analyzer
            )
    with pytest.raises(GenerationError, match="too small to refine"):
        generate(
            GenerationRequest(model=model, template="astronaut", count=1, steps=2), settings, FixedFace(analyzer, 8)
        )
    with pytest.raises(GenerationError, match="face 1: not chosen"):
        generate(
            GenerationRequest(model=model, template="astronaut", detail_faces="2", count=1, steps=2), settings, analyzer
        )
    with pytest.raises(GenerationError, match="drop --no-detail"):
        GenerationRequest(model=model, template="astronaut", detail=False)


def steering_controlnet(unet, folder: Path) -> Path:
    """``ControlNetModel.from_unet`` on ``unet``, its zero convolutions (the control image's way in and the
    residuals' way out) given seeded random weights: zero ones, as a fresh ControlNet has, add nothing."""
    from diffusers import ControlNetModel

    controlnet = ControlNetModel.from_unet(unet, conditioning_embedding_out_channels=(16, 32, 64, 128))
    torch.manual_seed(0)
    zero = [
        *controlnet.controlnet_down_blocks,
        controlnet.controlnet_mid_block,
        controlnet.controlnet_cond_embedding.conv_out,
    ]
    for block in zero:
        torch.nn.init.normal_(block.weight, std=0.2)
    controlnet.save_pretrained(folder, safe_serialization=True)
    return folder


def controlnet_of_width(width: int, folder: Path) -> Path:
    """A tiny ControlNet whose cross-attention reads ``width``-wide text embeddings (another family's)."""
    from diffusers import ControlNetModel

    ControlNetModel(
        block_out_channels=(32, 64),
        layers_per_block=1,
        cross_attention_dim=width,
        attention_head_dim=8,
        down_block_types=("CrossAttnDownBlock2D", "DownBlock2D"),
        conditioning_embedding_out_channels=(16, 32),
    ).save_pretrained(folder, safe_serialization=True)
    return folder


@pytest.fixture(scope="module")
def tiny_controlnet(tmp_path_factory, settings):  # noqa: F811
    from diffusers import UNet2DConditionModel

    unet = UNet2DConditionModel.from_pretrained(ensure_tiny_model(settings.home / "tiny-sd") / "unet")
    return steering_controlnet(unet, tmp_path_factory.mktemp("controlnet") / "tiny-canny")


def control_files(tmp_path):
    person = astronaut()
    (edges := canny_edges(person.resize((64, 64)))).save(tmp_path / "edges.png")
    canny_edges(person.transpose(Image.Transpose.FLIP_LEFT_RIGHT).resize((64, 64))).save(tmp_path / "flipped.png")
    canny_edges(person).save(tmp_path / "large.png")
    return edges


def test_a_controlnet_steers_text_to_image_by_its_control_image(model, settings, tiny_controlnet, tmp_path):  # noqa: F811
    control_files(tmp_path)
    cache = PipelineCache()

    def image(**options) -> np.ndarray:
        request = GenerationRequest(model=model, count=1, steps=4, seed=5, detail=False, **options)
        return generate(request, settings, cache=cache).portraits[0]

    plain = np.asarray(image().image)
    steered = {
        name: image(controlnet=str(tiny_controlnet), control_image=str(tmp_path / name))
        for name in ("edges.png", "flipped.png", "large.png")
    }
    edges, flipped = (np.asarray(steered[name].image) for name in ("edges.png", "flipped.png"))
    assert not np.array_equal(edges, plain) and not np.array_equal(edges, flipped)
    again = image(controlnet=str(tiny_controlnet), control_image=str(tmp_path / "edges.png"))
    assert np.array_equal(np.asarray(again.image), edges)
    off = image(controlnet=str(tiny_controlnet), control_image=str(tmp_path / "edges.png"), control_scale=0.0)
    assert np.abs(np.asarray(off.image, dtype=int) - plain).max() <= 1  # scale 0: the plain model's image
    # the 512 px edge map is resized to the 64 px image, and the notice says so
    large = generate(
        GenerationRequest(
            model=model,
            count=1,
            steps=4,
            seed=5,
            detail=False,
            controlnet=str(tiny_controlnet),
            control_image=str(tmp_path / "large.png"),
        ),
        settings,
        cache=cache,
    )
    assert "control image 512x512 resized to 64x64" in large.notice


def test_a_controlnet_in_template_mode_steers_only_the_face(model, settings, analyzer, tiny_controlnet):  # noqa: F811
    template = template_image("astronaut")
    common = {"model": model, "template": "astronaut", "count": 1, "steps": 4, "seed": 3}
    plain = generate(GenerationRequest(**common), settings, analyzer).portraits[0].image
    steered = generate(GenerationRequest(**common, controlnet=str(tiny_controlnet)), settings, analyzer)
    moved = changed(steered.portraits[0].image, template)
    assert moved.any() and not (moved & ~face_area(template, analyzer)).any()
    assert not np.array_equal(np.asarray(steered.portraits[0].image), np.asarray(plain))
    assert steered.settings["control_type"] == "canny" and steered.settings["controlnet"] == str(tiny_controlnet)


def test_controlnets_that_cannot_be_used_are_refused_by_name(model, settings, tmp_path, monkeypatch):  # noqa: F811
    control_files(tmp_path)
    controlnet_of_width(64, tmp_path / "other-family")
    (tmp_path / "empty").mkdir()
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    cases = {
        str(tmp_path / "other-family"): (GenerationError, "another base-model family .*width 64.* than this model"),
        str(tmp_path / "empty"): (GenerationError, "not a ControlNet folder"),
        "someone/controlnet-not-here": (ControlNetUnavailable, "huggingface-cli download someone/controlnet-not-here"),
    }
    for source, (error, message) in cases.items():
        request = GenerationRequest(
            model=model, count=1, steps=2, controlnet=source, control_image=str(tmp_path / "edges.png")
        )
        with pytest.raises(error, match=message):
            generate(request, settings, cache=PipelineCache())


def test_control_options_are_checked_before_anything_loads(model):  # noqa: F811
    for options, message in (
        ({"controlnet": "x/y"}, "needs a control image"),
        ({"control_from": "a.jpg"}, "add --controlnet"),
        ({"controlnet": "x/y", "control_from": "a.jpg", "control_image": "b.png"}, "not both"),
        ({"controlnet": "x/y", "control_image": "b.png", "control_start": 0.6, "control_end": 0.5}, "must come before"),
        ({"controlnet": "x/y", "control_image": "b.png", "control_scale": 3}, "control scale must be between 0 and 2"),
    ):
        with pytest.raises(GenerationError, match=message):
            GenerationRequest(model=model, **options)


def test_canny_edges_are_deterministic_and_trace_the_shapes():
    square = np.zeros((64, 64, 3), dtype=np.uint8)
    square[16:48, 16:48] = 255
    edges = np.asarray(canny_edges(Image.fromarray(square)))[..., 0]
    assert np.array_equal(edges, np.asarray(canny_edges(Image.fromarray(square)))[..., 0])
    on = np.argwhere(edges == 255)
    assert len(on) > 100  # the four sides
    # every edge pixel lies on the square's border (within a pixel), none in its middle or outside
    distance = np.minimum(np.abs(on - 15.5), np.abs(on - 47.5)).min(axis=1)
    assert distance.max() <= 1.5
    assert set(np.unique(edges)) == {0, 255}
    photo = astronaut()
    assert np.array_equal(np.asarray(canny_edges(photo)), np.asarray(canny_edges(photo.copy())))


def test_openpose_without_its_package_says_what_is_missing():
    try:
        import controlnet_aux  # noqa: F401
    except ImportError:
        with pytest.raises(ControlNetUnavailable, match="pip install controlnet-aux.*--control-image"):
            openpose_skeleton(astronaut())
    else:
        pytest.skip("controlnet_aux is installed here")


def test_cli_template_and_templates_list(model, settings, tmp_path, monkeypatch, capsys):  # noqa: F811
    monkeypatch.setenv("FACECHAIN_HOME", str(settings.home))
    monkeypatch.setenv("FACECHAIN_FACE_BACKEND", "dlib")
    assert main(["templates"]) == 0
    listed = capsys.readouterr().out
    assert all(name in listed for name in SHIPPED_TEMPLATES)
    out = tmp_path / "out"
    code = main(
        [
            "generate",
            str(model),
            "--template",
            "monochrome",
            "-n",
            "1",
            "--steps",
            "2",
            "--seed",
            "4",
            "--out",
            str(out),
        ]
    )
    assert code == 0
    results = json.loads((out / "results.json").read_text())
    assert results["settings"]["template"] == "monochrome"
    assert results["portraits"][0]["faces"][0]["refined"] is True
    assert Image.open(out / results["portraits"][0]["file"]).size == (512, 512)


def test_app_jobs_take_only_shipped_templates_workspace_photos_and_offered_controlnets(tmp_path):
    """A generation job's parameters come from the app, but the job checks them again: no server path
    reaches the pipeline as a template, control photo or ControlNet."""
    from facechain.config import Settings
    from facechain.errors import BadArguments
    from facechain.jobs.portrait import run_generate
    from facechain.workspace import WorkspaceStore

    _, workspace = WorkspaceStore(tmp_path / "runs").create()
    workspace.item("models", "m").mkdir(parents=True)
    offering = Settings(home=tmp_path / "home", app_controlnets=("offered/cn",))
    refusals = {
        "template": ("/etc/hosts", "no shipped template is called"),
        "template_upload": ("../../../etc", "there is no template"),
        "control_upload": ("nothing-here", "there is no template"),
        "controlnet": ("/srv/other", "is not one this server offers"),
        "template_path": ("x", "unknown generation options: template_path"),
    }
    for key, (value, message) in refusals.items():
        with pytest.raises(BadArguments, match=message):
            run_generate({"model": "m", key: value}, workspace, offering, lambda *a: None)
