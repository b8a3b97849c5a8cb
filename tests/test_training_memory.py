"""The memory options of training: cached latents and prompts change nothing but the random crop (a
cached run equals the uncached run with whole-photo views, to the bit) and the encoders never run during
the steps; half-precision base weights with float32 LoRA weights; 8-bit Adam and the --low-vram preset."""

from __future__ import annotations

import pytest
import torch

import facechain.portrait.training.trainer as trainer
from facechain.portrait import TrainConfig, train
from facechain.portrait.training.config import TrainingError
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
