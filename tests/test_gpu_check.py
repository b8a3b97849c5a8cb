"""benchmarks/gpu_check.py in its CPU mode, on the tiny models: every arm of both families is measured over
exactly its steps, the ratios are the measured times divided, the two generation arms draw the same images,
and the LoRA the run trained loads into the plain diffusers pipeline and changes what it draws; a reference
script given with --reference-dir runs as it is in a child process, with the run's settings, under the
same step clock."""

from __future__ import annotations

import io
import json
import math
import sys
from contextlib import redirect_stdout
from pathlib import Path

import numpy as np
import pytest
import torch

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "benchmarks"))
import gpu_check  # noqa: E402

TRAINING_ARMS = ("train_ours", "train_sude", "train_reference")
GENERATION_ARMS = ("generate_ours", "generate_plain")
STAND_IN = """
import json, sys
from pathlib import Path

import torch

arguments = dict(zip(sys.argv[1::2], sys.argv[2::2]))
out = Path(arguments["--output_dir"])
out.mkdir(parents=True)
(out / "seen.json").write_text(json.dumps({"cwd": str(Path.cwd()), "arguments": arguments}))
weight = torch.nn.Parameter(torch.ones(4))
optimizer = torch.optim.AdamW([weight], lr=1e-4)
for _ in range(int(arguments["--max_train_steps"])):
    weight.square().sum().backward()
    optimizer.step()
    optimizer.zero_grad()
"""
"""Stands in for diffusers' train_dreambooth_lora_sdxl.py: records what it was given, then trains."""


@pytest.fixture(scope="module")
def run(tmp_path_factory):
    """(results, the JSON written, the printed table, the work folder) of one CPU-mode run: about 20 s on
    2 cores, so the tests that read it are slow ones."""
    torch.set_num_threads(1)
    folder = tmp_path_factory.mktemp("gpu-check")
    out, work = folder / "gpu_check.json", folder / "work"
    with pytest.MonkeyPatch.context() as patch, redirect_stdout(io.StringIO()) as printed:
        patch.setenv("FACECHAIN_HOME", str(folder / "home"))
        results = gpu_check.main(["--cpu", "--out", str(out), "--work", str(work)])
    return results, json.loads(out.read_text()), printed.getvalue(), work


@pytest.mark.slow
def test_every_arm_of_both_families_is_measured_over_its_steps(run):
    results, written, table, _ = run
    assert written == results
    assert (results["mode"], results["memory"], results["reference"]) == ("cpu", "peak RSS (VmHWM)", "restated")
    assert set(results["families"]) == {"sd15", "sdxl"}
    steps = results["warmup_steps"] + results["timed_steps"]
    for family, found in results["families"].items():
        assert set(found["arms"]) == {*TRAINING_ARMS, *GENERATION_ARMS}, family
        for name in TRAINING_ARMS:
            arm = found["arms"][name]
            assert arm["steps"] == steps, (family, name)  # the clock saw this arm's optimizer steps, no others
            assert 0 < arm["seconds_per_step"] < 60 and arm["peak_mb"] > 100, (family, name)
            assert arm["label"] in table
            assert (arm.get("estimated_mb", 0) > 0) == (name != "train_reference")  # the trainer's estimate: ours
        for name in GENERATION_ARMS:
            arm = found["arms"][name]
            assert 0 < arm["seconds_per_image"] < 60 and arm["peak_mb"] > 100, (family, name)
            assert arm["label"] in table
        assert "restated" in found["arms"]["train_reference"]["label"]
        assert found["arms"]["generate_ours"]["loaded_on"] == "cpu float32"
        assert found["max_pixel_difference"] == 0, family  # like for like: the same LoRA, prompts, solver, seeds


@pytest.mark.slow
def test_ratios_are_the_measured_times_divided(run):
    for found in run[0]["families"].values():
        arms, ratios = found["arms"], found["ratios"]
        assert ratios == {
            "train_ours_over_reference": pytest.approx(
                arms["train_ours"]["seconds_per_step"] / arms["train_reference"]["seconds_per_step"], rel=1e-12
            ),
            "train_sude_over_ours": pytest.approx(
                arms["train_sude"]["seconds_per_step"] / arms["train_ours"]["seconds_per_step"], rel=1e-12
            ),
            "generate_ours_over_plain": pytest.approx(
                arms["generate_ours"]["seconds_per_image"] / arms["generate_plain"]["seconds_per_image"], rel=1e-12
            ),
        }
        assert all(math.isfinite(ratio) and ratio > 0 for ratio in ratios.values())


@pytest.mark.slow
@pytest.mark.parametrize("family", ["sd15", "sdxl"])
def test_the_trained_lora_loads_and_changes_the_plain_pipeline(run, family):
    import diffusers

    from facechain.diffusion.families import FAMILIES

    results, _, _, work = run
    trained = work / family / gpu_check.OUR_RUN
    assert json.loads((trained / "training.json").read_text())["steps"] == results["timed_steps"] + 1
    pipe = getattr(diffusers, FAMILIES[family].pipeline).from_pretrained(work / "models" / family)
    pipe.set_progress_bar_config(disable=True)

    def draw():
        return pipe("sks, a woman", num_inference_steps=2, output_type="np", generator=torch.manual_seed(3)).images

    before = draw()
    pipe.load_lora_weights(trained)
    with_lora = draw()
    pipe.disable_lora()
    assert np.array_equal(draw(), before)  # the difference below is the LoRA's, not run-to-run noise
    assert np.abs(with_lora - before).max() > 1e-6


def test_a_reference_script_runs_as_it_is_in_a_child_under_the_step_clock(tmp_path):
    from facechain.config import Settings

    (tmp_path / "train_dreambooth_lora_sdxl.py").write_text(STAND_IN)
    plan = gpu_check.Plan(torch.device("cpu"), 1, 2, 1, 1, tmp_path, Settings(home=tmp_path), tmp_path, sys.executable)
    model, images, out = tmp_path / "model", tmp_path / "images", tmp_path / "out"
    row = gpu_check.reference_script("sdxl", model, images, "sks, a woman", out, plan)
    assert row["steps"] == 3 and row["seconds_per_step"] > 0 and row["peak_mb"] > 0
    seen = json.loads((out / "seen.json").read_text())
    assert seen["cwd"] == str(tmp_path)
    assert seen["arguments"] == {
        "--pretrained_model_name_or_path": str(model),
        "--instance_data_dir": str(images),
        "--instance_prompt": "sks, a woman",
        "--output_dir": str(out),
        "--resolution": "64",
        "--train_batch_size": "1",
        "--max_train_steps": "3",
        "--learning_rate": "0.0001",
        "--lr_scheduler": "constant",
        "--lr_warmup_steps": "0",
        "--rank": "4",
        "--seed": "42",
        "--checkpointing_steps": "100000",
        "--mixed_precision": "no",
    }
