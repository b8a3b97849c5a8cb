"""The generation paths that are family-neutral by construction, run on a tiny SDXL pipeline built from
configs (diffusion/tiny.py): its family is read from the folder and from the loaded pipeline, the face
detail pass gets SDXL's image-to-image pipeline on the same modules and changes only the masked pixels,
and a ControlNet made from the SDXL UNet steers SDXL's ControlNet pipeline; a ControlNet of SD 1.x's width
is refused by name."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import torch
from PIL import Image

from facechain.diffusion.architectures import UNET_LORA_TARGETS
from facechain.diffusion.families import FAMILIES, UnknownFamily, folder_family, pipeline_family
from facechain.diffusion.tiny import build_tiny_sdxl_pipeline
from facechain.examples import astronaut
from facechain.portrait.generation.control import Control, load_controlnet
from facechain.portrait.generation.detail import DetailSettings, FaceDetailer
from facechain.portrait.generation.generate import PipelineCache, generate
from facechain.portrait.generation.request import GenerationError, GenerationRequest
from facechain.portrait.model_folder import REFERENCE_FILE, write_training_record
from pipelines.siblings import sibling_pipeline
from tests.test_detail import FixedFace, refined_faces, union_of_masks
from tests.test_generate import model, settings  # noqa: F401  (module fixtures: the tiny SD 1.5 model)
from tests.test_template_control import controlnet_of_width, steering_controlnet


@pytest.fixture(scope="module")
def xl():
    pipe = build_tiny_sdxl_pipeline()
    pipe.set_progress_bar_config(disable=True)
    return pipe


def test_the_family_is_read_from_the_folder_and_the_pipeline(xl, tmp_path):
    xl.save_pretrained(tmp_path / "tiny-xl", safe_serialization=True)
    assert folder_family(tmp_path / "tiny-xl").name == "sdxl"
    assert pipeline_family(xl).name == "sdxl"
    assert type(sibling_pipeline(xl, "image2image")).__name__ == "StableDiffusionXLImg2ImgPipeline"


def test_the_detail_pass_runs_on_sdxl_and_changes_only_the_face(xl, analyzer):
    photo = astronaut().resize((64, 64))
    detailer = FaceDetailer(xl, FixedFace(analyzer), "sks, a woman", "", 4, 5.0, DetailSettings(0.5, 0.6, "subject"))
    assert detailer.img2img.unet is xl.unet and detailer.img2img.text_encoder_2 is xl.text_encoder_2
    plan = detailer.plan(photo)
    out = detailer.refine(photo, plan, torch.Generator().manual_seed(0))
    changed = np.any(np.asarray(out) != np.asarray(photo), axis=-1)
    inside = union_of_masks(photo, refined_faces(plan)) > 0
    assert changed.any() and not (changed & ~inside).any()


def test_a_controlnet_steers_sdxl_and_one_of_another_width_is_refused(xl, tmp_path):
    folder = steering_controlnet(xl.unet, tmp_path / "xl-canny")
    controlnet = load_controlnet(str(folder), FAMILIES["sdxl"], xl.unet)
    steered = sibling_pipeline(xl, "text2image", controlnet)
    assert type(steered).__name__ == "StableDiffusionXLControlNetPipeline" and steered.unet is xl.unet

    def draw(control: Image.Image) -> np.ndarray:
        arguments = Control(controlnet, control, 1.0, 0.0, 1.0).arguments(control, "image")
        result = steered(
            "sks", num_inference_steps=2, height=64, width=64, generator=torch.Generator().manual_seed(1), **arguments
        )
        return np.asarray(result.images[0])

    edges = Image.fromarray(np.tile(np.eye(64, dtype=np.uint8)[..., None] * 255, (1, 1, 3)))
    assert not np.array_equal(draw(edges), draw(edges.transpose(Image.Transpose.FLIP_LEFT_RIGHT)))
    with pytest.raises(GenerationError, match=r"another base-model family \(SD 1.x with cross-attention width 32\)"):
        load_controlnet(str(controlnet_of_width(32, tmp_path / "sd15-like")), FAMILIES["sdxl"], xl.unet)


@pytest.fixture(scope="module")
def xl_model(tmp_path_factory) -> Path:
    """A model folder on the tiny SDXL base model, its person LoRA a seeded random rank-4 LoRA saved by
    diffusers' SDXL ``save_lora_weights`` (training SDXL LoRAs comes later)."""
    from diffusers import StableDiffusionXLPipeline
    from peft import LoraConfig
    from peft.utils import get_peft_model_state_dict

    root = tmp_path_factory.mktemp("xl-model")
    base = build_tiny_sdxl_pipeline()
    base.save_pretrained(root / "base", safe_serialization=True)
    torch.manual_seed(3)
    base.unet.add_adapter(
        LoraConfig(r=4, lora_alpha=4, init_lora_weights="gaussian", target_modules=list(UNET_LORA_TARGETS))
    )
    for name, parameter in base.unet.named_parameters():
        if "lora_B" in name:
            torch.nn.init.normal_(parameter, std=0.5)
    folder = root / "model"
    StableDiffusionXLPipeline.save_lora_weights(folder, unet_lora_layers=get_peft_model_state_dict(base.unet))
    astronaut().save(folder / REFERENCE_FILE)
    record = {"base_model": str(root / "base"), "trigger": "sks", "class_prompt": "a woman", "resolution": 64}
    write_training_record(folder, {**record, "steps": 1, "config": {}})
    return folder


def test_generation_runs_on_an_sdxl_model_with_the_detail_pass(xl_model, analyzer, settings):  # noqa: F811
    cache = PipelineCache()
    common = {"model": xl_model, "count": 2, "steps": 3, "seed": 4}
    result = generate(GenerationRequest(**common), settings, FixedFace(analyzer), cache=cache)
    assert type(cache.pipe).__name__ == "PortraitXLPipeline"
    assert [p.image.size for p in result.portraits] == [(64, 64)] * 2
    assert all(p.faces[0].refined for p in result.portraits)
    off = generate(GenerationRequest(**common, person_weight=0.0, detail=False), settings, cache=cache)
    on = generate(GenerationRequest(**common, person_weight=1.0, detail=False), settings, cache=cache)
    assert not np.array_equal(np.asarray(off.portraits[0].image), np.asarray(on.portraits[0].image))  # the LoRA acts


def test_an_sd15_style_lora_is_refused_on_an_sdxl_model(xl_model, model, settings):  # noqa: F811
    request = GenerationRequest(
        model=xl_model, count=1, steps=2, detail=False, style_lora=str(model / "pytorch_lora_weights.safetensors")
    )
    with pytest.raises(UnknownFamily, match="is made for SD 1.x and this model is SDXL"):
        generate(request, settings, cache=PipelineCache())
