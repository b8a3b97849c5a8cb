"""FLUX.1 digital twins on the tiny FLUX.1 model (diffusion/tiny.py): rectified-flow training with SuDe
lowers the loss, the LoRA loads with diffusers' own FluxPipeline and changes its output, generation and
the detail pass run on it, and what FLUX.1 does not offer yet is refused by name. (Exact resume:
tests/test_train.py.)"""

from __future__ import annotations

import json
from types import SimpleNamespace

import numpy as np
import pytest
import torch

from facechain.diffusion.families import FAMILIES
from facechain.diffusion.tiny import tiny_folder
from facechain.diffusion.tokenizer import t5_vocabulary, tiny_t5_tokenizer
from facechain.portrait import TrainConfig, train
from facechain.portrait.generation.generate import generate
from facechain.portrait.generation.request import GenerationError, GenerationRequest
from facechain.portrait.model_folder import LORA_FILE
from facechain.portrait.training.conditioning import Conditioning, flux_velocity
from facechain.portrait.training.config import TrainingError
from facechain.portrait.training.objectives import FlowObjective, objective_for
from sude.flow import flow_sude_loss
from tests.test_generate import make_dataset, settings  # noqa: F401  (module fixture)
from tests.test_sdxl_training import assert_the_lora_acts_in, generated_on, trained_tiny


@pytest.fixture(scope="module")
def flux_run(tmp_path_factory, settings):  # noqa: F811
    return trained_tiny(tmp_path_factory, settings, "flux1")


def test_the_tiny_t5_tokenizer_has_t5s_layout():
    tokenizer = tiny_t5_tokenizer()
    assert len(tokenizer) == 32100  # 32,000 pieces and 100 sentinels, as T5's
    assert (tokenizer.pad_token_id, tokenizer.eos_token_id, tokenizer.unk_token_id) == (0, 1, 2)
    tokens = tokenizer.convert_ids_to_tokens(tokenizer("a photo of sks man").input_ids)
    assert tokens == ["▁a", "▁photo", "▁of", "▁s", "ks", "▁man", "</s>"]
    assert tokenizer.decode(tokenizer("portrait, 85mm").input_ids, skip_special_tokens=True) == "portrait, 85mm"
    scores = [score for _, score in t5_vocabulary()[3:]]
    assert scores == sorted(scores, reverse=True)  # more frequent merges score higher


def test_the_flow_objective_follows_the_rectified_flow_path():
    objective = objective_for(FAMILIES["flux1"], scheduler=None)
    assert isinstance(objective, FlowObjective)
    latents, noise = torch.full((2, 1, 2, 2), 2.0), torch.full((2, 1, 2, 2), -1.0)
    times = torch.tensor([0.25, 0.5])
    noisy = objective.noisy(latents, noise, times)
    assert torch.allclose(noisy[0], torch.full((1, 2, 2), 0.75 * 2 - 0.25))  # (1 - t) x0 + t eps by hand
    assert torch.allclose(objective.target(latents, noise, times), torch.full((2, 1, 2, 2), -3.0))  # eps - x0
    assert torch.equal(objective.at(250, 2), torch.tensor([0.25, 0.25]))
    draws = objective.draw(4000, torch.Generator().manual_seed(0))
    assert 0 < draws.min() and draws.max() < 1 and abs(float(draws.median()) - 0.5) < 0.03  # logit-normal(0, 1)
    assert 0.15 < float((draws < 0.3).float().mean()) < 0.25  # P(sigmoid(n) < 0.3) = Phi(logit 0.3) = 0.199


def test_the_trainers_sude_step_is_one_thousandth_back_along_the_flow():
    generator = torch.Generator().manual_seed(3)
    noisy, subject, category, empty = (torch.randn(2, 4, 4, 4, generator=generator) for _ in range(4))
    times = torch.tensor([0.6, 0.0015])
    ours = FlowObjective().sude(noisy, times, subject, category, empty)
    expected = flow_sude_loss(noisy, times, torch.tensor([0.599, 0.00075]), subject, category, empty)
    assert torch.allclose(ours.raw, expected.raw, rtol=1e-3) and torch.equal(ours.mask, expected.mask)


def test_latents_pass_flux_transformer_as_2x2_patches_and_come_back():
    """The packing round-trips, and each token's position is its patch's (0, row, column)."""
    seen = {}

    def transformer(**arguments):
        seen.update(arguments)
        return SimpleNamespace(sample=arguments["hidden_states"])

    latents = torch.arange(2 * 4 * 4 * 6, dtype=torch.float32).reshape(2, 4, 4, 6)
    conditioning = Conditioning(torch.zeros(2, 7, 8), torch.zeros(2, 8))
    back = flux_velocity(transformer, latents, torch.tensor([0.5, 0.5]), conditioning, guidance=3.5)
    assert torch.equal(back, latents)
    assert seen["hidden_states"].shape == (2, 2 * 3, 16)
    assert seen["img_ids"].tolist()[4] == [0, 1, 1] and seen["txt_ids"].shape == (7, 3)
    assert seen["guidance"].tolist() == [3.5, 3.5]
    assert flux_velocity(transformer, latents, torch.tensor([0.5, 0.5]), conditioning, None) is not None
    assert seen["guidance"] is None  # FLUX.1-schnell has no guidance embedding


def test_a_flux_lora_trains_with_sude_and_lowers_the_loss(flux_run):
    result, _ = flux_run
    evaluations = [entry["eval_loss"] for entry in result.log if "eval_loss" in entry]
    assert evaluations[-1] < 0.95 * evaluations[0]
    assert any(entry.get("sude_mask") == 1.0 and entry["sude_loss"] != 0 for entry in result.log)
    info = json.loads((result.out / "training.json").read_text())
    assert info["family"] == "flux1" and info["resolution"] == 64
    assert (result.out / "validation.png").is_file()


def test_the_lora_loads_with_diffusers_own_flux_pipeline_and_acts(flux_run, settings):  # noqa: F811
    from diffusers import FluxPipeline

    result, _ = flux_run
    assert_the_lora_acts_in(FluxPipeline.from_pretrained(tiny_folder(settings.home, "flux1")), result.out / LORA_FILE)


def test_generation_and_the_detail_pass_run_on_the_trained_flux_model(flux_run, settings, analyzer):  # noqa: F811
    result, _ = flux_run
    made, cache = generated_on(result.out, settings, analyzer, "PortraitFluxPipeline")
    assert made.settings["scheduler"] == "flowmatch"  # auto: FLUX.1's own solver
    with pytest.raises(GenerationError, match="dpm\\+\\+ scheduler does not sample FLUX.1 models: choose flowmatch"):
        generate(GenerationRequest(model=result.out, count=1, steps=2, scheduler="dpm++"), settings, cache=cache)


def steering_flux_controlnet(settings, folder):  # noqa: F811
    """``FluxControlNetModel.from_transformer`` on the tiny FLUX.1's transformer, its zero-initialised
    layers (the control image's way in, the residuals' way out) given seeded random weights."""
    from diffusers import FluxControlNetModel, FluxTransformer2DModel

    transformer = FluxTransformer2DModel.from_pretrained(tiny_folder(settings.home, "flux1") / "transformer")
    heads = {key: transformer.config[key] for key in ("attention_head_dim", "num_attention_heads")}
    controlnet = FluxControlNetModel.from_transformer(transformer, num_layers=1, num_single_layers=1, **heads)
    torch.manual_seed(0)
    for layer in [
        *controlnet.controlnet_blocks,
        *controlnet.controlnet_single_blocks,
        controlnet.controlnet_x_embedder,
    ]:
        torch.nn.init.normal_(layer.weight, std=0.2)
    controlnet.save_pretrained(folder, safe_serialization=True)
    return folder


def test_a_flux_controlnet_steers_and_an_sd_one_is_refused(flux_run, settings, tmp_path):  # noqa: F811
    from tests.test_template_control import control_files, controlnet_of_width

    result, _ = flux_run
    control_files(tmp_path)
    controlnet = steering_flux_controlnet(settings, tmp_path / "flux-canny")
    common = {"model": result.out, "count": 1, "steps": 3, "seed": 4, "detail": False, "controlnet": str(controlnet)}

    def draw(control: str) -> np.ndarray:
        made = generate(GenerationRequest(**common, control_image=str(tmp_path / control)), settings)
        return np.asarray(made.portraits[0].image)

    assert not np.array_equal(draw("edges.png"), draw("flipped.png"))  # the control image steers
    with pytest.raises(GenerationError, match=r"another base-model family \(SD 1.x .*\) than this model \(FLUX.1"):
        draw_with = {**common, "controlnet": str(controlnet_of_width(32, tmp_path / "sd15-like"))}
        generate(GenerationRequest(**draw_with, control_image=str(tmp_path / "edges.png")), settings)


def test_a_style_for_other_families_is_refused_and_one_for_flux_runs(flux_run, settings):  # noqa: F811
    result, _ = flux_run
    styles = settings.home / "styles"
    styles.mkdir(exist_ok=True)
    for name, families in (("xl-only", ["sd15", "sdxl"]), ("flux-look", ["flux1"])):
        preset = {"name": name, "title": name, "prompt": "studio light", "families": families}
        (styles / f"{name}.json").write_text(json.dumps(preset))
    common = {"model": result.out, "count": 1, "steps": 2, "detail": False}
    with pytest.raises(
        GenerationError, match="the style xl-only suits SD 1.x and SDXL models and this model is FLUX.1"
    ):
        generate(GenerationRequest(**common, style="xl-only"), settings)
    assert generate(GenerationRequest(**common, style="flux-look"), settings).style == "flux-look"


def test_what_flux_training_does_not_offer_is_refused(flux_run, settings, tmp_path):  # noqa: F811
    _, dataset = flux_run
    common = {"dataset": dataset, "tiny": "flux1", "steps": 1}
    with pytest.raises(TrainingError, match="FLUX.1's flow matching has none"):
        train(TrainConfig(**common, out=tmp_path / "a", snr_gamma=5.0), settings)
    with pytest.raises(TrainingError, match="--train-text-encoder is offered for SD 1.x and SDXL models"):
        train(TrainConfig(**common, out=tmp_path / "b", train_text_encoder=True), settings)
    with pytest.raises(TrainingError, match="kohya names do not fit it"):
        train(TrainConfig(**common, out=tmp_path / "c", export=("kohya",)), settings)
