"""The memory options of training: cached latents and prompts change nothing but the random crop (a
cached run equals the uncached run with whole-photo views, to the bit) and the encoders never run during
the steps; half-precision base weights with float32 LoRA weights; 8-bit Adam and the --low-vram preset;
the up-front memory estimate and the refusal that names the flags that would fit."""

from __future__ import annotations

import json
import struct
from dataclasses import replace
from pathlib import Path

import pytest
import torch

import facechain.portrait.training.trainer as trainer
from facechain.diffusion.architectures import architecture
from facechain.diffusion.families import FAMILIES
from facechain.portrait import TrainConfig, train
from facechain.portrait.training.config import TrainingError
from facechain.portrait.training.memory import GIB, estimate, fit_problem, remedies
from tests.test_train import dataset, lora, settings  # noqa: F401  (module fixtures)


def config(dataset, out, **extra) -> TrainConfig:  # noqa: F811
    return TrainConfig(
        dataset=dataset,
        out=out,
        tiny=True,
        steps=4,
        sude_weight=0.4,
        face_loss_weight=3.0,
        validation_images=0,
        **extra,
    )


def test_cached_latents_and_prompts_train_exactly_as_whole_photo_views(dataset, settings, tmp_path, monkeypatch):  # noqa: F811
    monkeypatch.setattr(trainer, "CROP_SCALE", 1.0)  # the uncached run with the cached run's views
    train(config(dataset, tmp_path / "plain"), settings)
    monkeypatch.undo()

    built = trainer.Trainer(config(dataset, tmp_path / "cached", cache_latents=True, cache_text=True), settings)

    def not_again(*args, **kwargs):
        raise AssertionError("an encoder ran after its outputs were cached")

    monkeypatch.setattr(built.vae, "encode", not_again)
    monkeypatch.setattr(built.text_encoder, "forward", not_again)
    assert built.parked == [built.vae, built.text_encoder]
    built.run()
    plain, cached = lora(tmp_path / "plain"), lora(tmp_path / "cached")
    assert plain.keys() == cached.keys()
    assert all(torch.equal(plain[key], cached[key]) for key in plain)


def test_cached_latents_refuse_a_photo_that_is_not_square(dataset, settings, tmp_path):  # noqa: F811
    from PIL import Image

    wide = tmp_path / "wide"
    wide.mkdir()
    Image.new("RGB", (80, 64), "gray").save(wide / "a.png")
    (wide / "metadata.jsonl").write_text('{"file_name": "a.png", "text": "sks, a woman"}\n')
    with pytest.raises(TrainingError, match="a.png is 80x64"):
        train(
            TrainConfig(dataset=wide, out=tmp_path / "m", tiny=True, steps=1, sude_weight=0, cache_latents=True),
            settings,
        )


def test_half_precision_base_weights_keep_the_lora_in_float32(dataset, settings, tmp_path):  # noqa: F811
    built = trainer.Trainer(config(dataset, tmp_path / "m", mixed_precision="bf16"), settings)
    unet = built.accelerator.unwrap_model(built.wrapped["unet"])
    dtypes = {("lora_" in name, parameter.dtype) for name, parameter in unet.named_parameters()}
    assert dtypes == {(False, torch.bfloat16), (True, torch.float32)}
    assert all(parameter.dtype == torch.float32 for parameter in built.parameters)


def test_low_vram_is_a_preset_and_8_bit_adam_needs_cuda(dataset, settings, tmp_path):  # noqa: F811
    preset = TrainConfig(dataset=".", out=".", low_vram=True)
    assert (preset.gradient_checkpointing, preset.cache_latents, preset.cache_text) == (True, True, True)
    assert preset.mixed_precision == "bf16"
    assert TrainConfig(dataset=".", out=".", low_vram=True, mixed_precision="fp16").mixed_precision == "fp16"
    assert not TrainConfig(dataset=".", out=".", low_vram=True, train_text_encoder=True).cache_text
    assert trainer.adamw(preset, torch.device("cpu")) is torch.optim.AdamW  # no 8-bit Adam off CUDA
    with pytest.raises(TrainingError, match="--cache-text keeps the text encoders frozen"):
        TrainConfig(dataset=".", out=".", cache_text=True, train_text_encoder=True)
    with pytest.raises(TrainingError, match="adamw8bit runs on a CUDA GPU and this run is on cpu: use adamw"):
        train(config(dataset, tmp_path / "m", optimizer="adamw8bit"), settings)


def header_only(path: Path, count: int) -> None:
    """A safetensors file whose header declares ``count`` float32 parameters, with no data: enough for
    the estimate, which reads headers only."""
    path.parent.mkdir(parents=True, exist_ok=True)
    header = json.dumps({"w": {"dtype": "F32", "shape": [count], "data_offsets": [0, 4 * count]}}).encode()
    path.write_bytes(struct.pack("<Q", len(header)) + header)


@pytest.fixture(scope="module")
def full_size(tmp_path_factory):
    """Full-size SDXL and FLUX.1 model folders of configs and weightless headers (the denoisers' published
    parameter counts; the encoders' and VAEs' of the same order as the real ones)."""
    folders = {}
    for name, others in (
        ("sdxl", {"vae": 83_653_863, "text_encoder": 123_060_480, "text_encoder_2": 694_659_840}),
        ("flux1", {"vae": 83_819_683, "text_encoder": 123_060_480, "text_encoder_2": 4_762_310_656}),
    ):
        folder, built = tmp_path_factory.mktemp(name), architecture(name)
        denoiser = folder / built.denoiser_name
        header_only(denoiser / "weights.safetensors", built.denoiser_parameters)
        (denoiser / "config.json").write_text(json.dumps(dict(built.denoiser.config)))
        for part, count in others.items():
            header_only(folder / part / "weights.safetensors", count)
        folders[name] = folder
    return folders


def test_each_memory_flag_lowers_the_estimate(full_size):
    sdxl, plain = FAMILIES["sdxl"], TrainConfig(dataset=".", out=".")
    steps = [plain]
    for _, change in remedies(plain):
        steps.append(replace(steps[-1], **change))
    estimates = [estimate(full_size["sdxl"], sdxl, config, 1024) for config in steps]
    assert all(later < earlier for earlier, later in zip(estimates, estimates[1:]))
    # the weights alone, by hand: 2.567G UNet + 0.818G text + 0.084G VAE parameters in float32
    assert estimates[0] > (2_567_463_684 + 817_720_320 + 83_653_863) * 4
    # activations grow with the batch and with the pixels, linearly (attention as the CUDA kernels keep it:
    # with the N x N probabilities they would grow 16-fold from 256 to 512 px in the largest blocks)
    one, two = (estimate(full_size["sdxl"], sdxl, replace(plain, batch_size=b), 512) for b in (1, 2))
    small = estimate(full_size["sdxl"], sdxl, plain, 256)
    assert 0.7 < (one - small) / (two - one) < 0.8  # a quarter of the pixels: 3/4 of the activations gone


def test_a_run_that_cannot_fit_is_refused_naming_the_flags_that_fit(full_size):
    sdxl, flux = FAMILIES["sdxl"], FAMILIES["flux1"]
    plain = TrainConfig(dataset=".", out=".")
    assert fit_problem(full_size["sdxl"], sdxl, plain, 1024, 200 * GIB) is None
    problem = fit_problem(full_size["sdxl"], sdxl, plain, 1024, 24 * GIB)
    assert (
        problem.startswith("this run needs about")
        and "(SDXL at 1024 px, batch 1): add --gradient-checkpointing" in problem
    )
    flux_problem = fit_problem(full_size["flux1"], flux, plain, 1024, 24 * GIB)
    assert "even with --gradient-checkpointing --cache-latents --cache-text --mixed-precision bf16" in flux_problem
    assert "smaller --resolution" in flux_problem  # FLUX.1's 11.9G base weights alone are 22 GiB in bf16
