"""Training an SDXL LoRA on the tiny SDXL model (diffusion/tiny.py): the loss goes down with SuDe on, the
LoRA loads with diffusers' own SDXL pipeline and changes its output, generation runs on the result, and
what SDXL training does not offer yet is refused by name. (Exact resume: tests/test_train.py.)"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
import torch

from facechain.diffusion.tiny import tiny_folder
from facechain.portrait import TrainConfig, train
from facechain.portrait.generation.generate import PipelineCache, generate
from facechain.portrait.generation.request import GenerationRequest
from facechain.portrait.model_folder import LORA_FILE
from facechain.portrait.training.config import TrainingError
from tests.test_detail import FixedFace
from tests.test_generate import make_dataset, settings  # noqa: F401  (module fixture)


def trained_tiny(tmp_path_factory, settings, family: str):  # noqa: F811
    """(TrainResult, dataset): 24 steps with SuDe on the tiny model of ``family``, one validation image."""
    dataset = make_dataset(tmp_path_factory.mktemp("ds"), "sks")
    out = tmp_path_factory.mktemp(family) / "model"
    config = TrainConfig(
        dataset=dataset, out=out, tiny=family, steps=24, learning_rate=2e-2, sude_weight=0.4, validation_images=1
    )
    return train(config, settings), dataset


@pytest.fixture(scope="module")
def xl_run(tmp_path_factory, settings):  # noqa: F811
    return trained_tiny(tmp_path_factory, settings, "sdxl")


def test_an_sdxl_lora_trains_with_sude_and_lowers_the_loss(xl_run):
    result, _ = xl_run
    evaluations = [entry["eval_loss"] for entry in result.log if "eval_loss" in entry]
    assert evaluations[-1] < evaluations[0]
    assert any(entry.get("sude_loss") is not None for entry in result.log)
    info = json.loads((result.out / "training.json").read_text())
    assert info["family"] == "sdxl" and info["resolution"] == 64
    assert (result.out / "validation.png").is_file()


def assert_the_lora_acts_in(pipe, lora: Path) -> None:
    """``lora`` loads with ``pipe`` (a plain diffusers pipeline of its family) and changes its image."""
    pipe.set_progress_bar_config(disable=True)

    def image() -> np.ndarray:
        out = pipe(
            "sks, a woman", num_inference_steps=3, height=64, width=64, generator=torch.Generator().manual_seed(2)
        )
        return np.asarray(out.images[0])

    plain = image()
    pipe.load_lora_weights(lora)
    assert not np.array_equal(image(), plain)


def generated_on(model: Path, settings, analyzer, pipeline: str):  # noqa: F811
    """One portrait of ``model`` with the detail pass: its portrait pipeline is ``pipeline``, the face refined."""
    cache = PipelineCache()
    made = generate(
        GenerationRequest(model=model, count=1, steps=3, seed=1), settings, FixedFace(analyzer), cache=cache
    )
    assert type(cache.pipe).__name__ == pipeline
    assert made.portraits[0].image.size == (64, 64) and made.portraits[0].faces[0].refined
    return made, cache


def test_the_lora_loads_with_diffusers_own_sdxl_pipeline_and_acts(xl_run, settings):  # noqa: F811
    from diffusers import StableDiffusionXLPipeline

    result, _ = xl_run
    pipe = StableDiffusionXLPipeline.from_pretrained(tiny_folder(settings.home, "sdxl"))
    assert_the_lora_acts_in(pipe, result.out / LORA_FILE)


def test_generation_runs_on_the_trained_sdxl_model(xl_run, settings, analyzer):  # noqa: F811
    generated_on(xl_run[0].out, settings, analyzer, "PortraitXLPipeline")


def test_sdxl_trains_both_text_encoders_and_diffusers_loads_all_three(xl_run, settings, tmp_path):  # noqa: F811
    from diffusers import StableDiffusionXLPipeline
    from safetensors.torch import load_file

    _, dataset = xl_run
    config = TrainConfig(
        dataset=dataset, out=tmp_path / "te", tiny="sdxl", steps=3, learning_rate=2e-2, train_text_encoder=True
    )
    lora = load_file(train(config, settings).lora_file)
    assert {key.split(".")[0] for key in lora} == {"unet", "text_encoder", "text_encoder_2"}
    second = [value for key, value in lora.items() if key.startswith("text_encoder_2.") and key.endswith("up.weight")]
    assert second and all(value.abs().sum() > 0 for value in second)  # "up" starts at zero: the second one trained
    pipe = StableDiffusionXLPipeline.from_pretrained(tiny_folder(settings.home, "sdxl"))
    pipe.load_lora_weights(tmp_path / "te" / LORA_FILE, adapter_name="person")
    assert {name for name, adapters in pipe.get_list_adapters().items() if "person" in adapters} == {
        "unet",
        "text_encoder",
        "text_encoder_2",
    }


def test_what_sdxl_training_does_not_offer_yet_is_refused(xl_run, settings, tmp_path):  # noqa: F811
    _, dataset = xl_run
    common = {"dataset": dataset, "tiny": "sdxl", "steps": 1}
    with pytest.raises(TrainingError, match="kohya names do not fit it"):
        train(TrainConfig(**common, out=tmp_path / "b", export=("kohya",)), settings)
    with pytest.raises(TrainingError, match="--tiny takes one of sd15, sdxl, flux1, not 'sd3'"):
        TrainConfig(dataset=dataset, out=tmp_path / "c", tiny="sd3")
