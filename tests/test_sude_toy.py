"""The shipped toy model of the SuDe experiment draws what it is asked for, and the personalization
loop trains only its LoRA, with SuDe's truncation mask logged."""

from __future__ import annotations

import sys
from pathlib import Path

import numpy as np
import pytest
import torch

BENCHMARKS = Path(__file__).resolve().parents[1] / "benchmarks"
sys.path.insert(0, str(BENCHMARKS))

from toy_diffusion import load_model, sample  # noqa: E402
from toy_personalization import Personalization, personalize  # noqa: E402

from facechain.lab.digit_world import base_digits, caption, category_classifier, inversion, stroke_mass, subject_views  # noqa: E402

MODEL = BENCHMARKS / "results" / "digit_world_model"


@pytest.fixture(autouse=True)
def one_thread():
    torch.set_num_threads(1)


@pytest.mark.slow
def test_shipped_model_draws_the_asked_digit_and_attribute():
    model = load_model(MODEL)
    images, labels = base_digits()
    judge = category_classifier(images[:1400], labels[:1400])
    digits = [0, 3, 7]
    drawn = sample(*model, [caption(d) for d in digits for _ in range(4)], seed=5, steps=20)
    assert (judge.probabilities(drawn).argmax(1) == np.repeat(digits, 4)).mean() >= 0.75
    thick = sample(*model, [caption(7, ("thick",))] * 8, seed=5, steps=20)
    inverted = sample(*model, [caption(7, ("inverted",))] * 8, seed=5, steps=20)
    plain = sample(*model, [caption(7)] * 8, seed=5, steps=20)
    assert np.mean([stroke_mass(i) for i in thick]) > np.mean([stroke_mass(i) for i in plain]) + 0.04
    assert np.mean([inversion(i) for i in inverted]) > 0.6 > 0.3 > np.mean([inversion(i) for i in plain])


def test_personalization_trains_only_the_lora_and_logs_the_sude_mask():
    images, labels = base_digits()
    views = subject_views(images[labels == 7][0])
    base_unet = load_model(MODEL)[2]
    run = Personalization(sude_weight=0.4, steps=3, seed=0)
    tokenizer, text_encoder, unet, scheduler = personalize(MODEL, views, 7, run)
    assert [record["step"] for record in run.log] == [1, 2, 3]
    assert all(0.0 <= record["sude_mask"] <= 1.0 and np.isfinite(record["loss"]) for record in run.log)
    lora = {name: p for name, p in unet.named_parameters() if "lora_" in name}
    assert lora and all(p.requires_grad for p in lora.values())
    lora_b = [p for name, p in lora.items() if "lora_B" in name]
    assert any(p.abs().sum() > 0 for p in lora_b)  # B starts at zero: it moved
    base = dict(base_unet.named_parameters())
    for name, p in unet.named_parameters():
        if "lora_" not in name:
            assert torch.equal(p, base[name.replace(".base_layer", "")]), name
    plain = Personalization(sude_weight=0.0, steps=3, seed=0)
    personalize(MODEL, views, 7, plain)
    assert "sude_mask" not in plain.log[0] and plain.log[0]["loss"] == pytest.approx(run.log[0]["loss"])
