"""Portrait generation on the tiny offline model with a trained tiny LoRA: seeds reproduce, adapter
weights act without touching the base model, bad LoRAs are refused, results are written whole."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import numpy as np
import pytest
import torch
from safetensors.torch import save_file

from facechain.cli import main
from facechain.config import Settings
from facechain.examples import astronaut, framed
from facechain.portrait import TrainConfig, train
from facechain.portrait.generation.generate import PipelineCache, generate, loaded_adapters, write_generation
from facechain.portrait.generation.lora_files import LoraError, find_lora
from facechain.portrait.generation.request import GenerationError, GenerationRequest
from facechain.portrait.model_folder import LORA_FILE, NotATrainedModel, TrainedModel


@pytest.fixture(scope="module")
def settings(tmp_path_factory) -> Settings:
    return Settings(home=tmp_path_factory.mktemp("facechain-home"), face_backend="dlib")


def make_dataset(folder: Path, trigger: str) -> Path:
    (folder / "images").mkdir(parents=True)
    person, lines = astronaut(), []
    for i, box in enumerate([(100, 20, 356, 276), (80, 0, 380, 300), (120, 40, 340, 260)]):
        framed(person, *box).resize((128, 128)).save(folder / "images" / f"{i:03d}.png")
        lines.append(json.dumps({"file_name": f"images/{i:03d}.png", "text": f"{trigger}, a woman"}))
    (folder / "metadata.jsonl").write_text("\n".join(lines) + "\n")
    (folder / "report.json").write_text(
        json.dumps(
            {
                "trigger": trigger,
                "class_phrase": "a woman",
                "reference": "photos/a.jpg",
                "photos": [{"source": "photos/a.jpg", "output": "images/000.png"}],
            }
        )
    )
    return folder


@pytest.fixture(scope="module")
def model(tmp_path_factory, settings) -> Path:
    out = tmp_path_factory.mktemp("trained") / "model"
    train(
        TrainConfig(
            dataset=make_dataset(tmp_path_factory.mktemp("ds"), "sks"),
            out=out,
            tiny=True,
            steps=15,
            learning_rate=2e-2,
            sude_weight=0,
            validation_images=0,
        ),
        settings,
    )
    return out


@pytest.fixture(scope="module")
def style_lora(tmp_path_factory, settings) -> Path:
    """A second tiny LoRA, trained on other captions, standing in for a style LoRA."""
    out = tmp_path_factory.mktemp("style") / "model"
    train(
        TrainConfig(
            dataset=make_dataset(tmp_path_factory.mktemp("ds2"), "zwx"),
            out=out,
            tiny=True,
            steps=15,
            learning_rate=3e-2,
            sude_weight=0,
            validation_images=0,
            seed=3,
        ),
        settings,
    )
    return out / LORA_FILE


def pixels(result) -> dict[int, np.ndarray]:
    return {p.seed: np.asarray(p.image, dtype=np.int16) for p in result.portraits}


def request(model: Path, **options) -> GenerationRequest:
    return GenerationRequest(model=model, steps=4, **{"count": 3, "seed": 11, **options})


def test_generation_returns_every_image_flagged_and_reproduces(model, settings):
    first = generate(request(model), settings)
    assert sorted(p.seed for p in first.portraits) == [11, 12, 13]
    assert all(p.flag == "no face found" and p.score is None for p in first.portraits)  # the tiny model draws noise
    assert first.all_flagged and "TINY" in first.notice
    assert first.prompt.startswith("sks, a woman, natural light portrait")
    again = generate(request(model), settings)
    alone = generate(request(model, count=1, seed=12), settings)
    assert all(np.array_equal(pixels(first)[s], pixels(again)[s]) for s in (11, 12, 13))
    assert np.abs(pixels(first)[12] - pixels(alone)[12]).max() <= 2  # its own seed (batched math differs in rounding)


def test_person_weight_acts_and_leaves_the_base_model_untouched(model, settings):
    from diffusers import StableDiffusionPipeline

    from pipelines import PORTRAIT_SOLVERS

    plain = StableDiffusionPipeline.from_pretrained(
        settings.home / "tiny-sd", safety_checker=None, requires_safety_checker=False
    )
    plain.scheduler = PORTRAIT_SOLVERS["dpm++"].build(plain.scheduler.config)
    plain.set_progress_bar_config(disable=True)
    result = generate(request(model, count=1, person_weight=0.0), settings)
    base = plain(
        result.prompt,
        negative_prompt=result.negative_prompt,
        height=64,
        width=64,
        num_inference_steps=4,
        guidance_scale=7.0,
        generator=torch.Generator().manual_seed(11),
    ).images[0]
    without = pixels(result)[11]
    assert np.abs(without - np.asarray(base, dtype=np.int16)).max() <= 1
    with_person = pixels(generate(request(model, count=1, person_weight=1.0), settings))[11]
    assert np.abs(with_person - without).mean() > 1.0
    back = pixels(generate(request(model, count=1, person_weight=0.0), settings))[11]
    assert np.array_equal(back, without)  # nothing was merged into the base weights


def test_style_lora_and_style_weight(model, settings, style_lora):
    base = pixels(generate(request(model, count=1), settings))[11]
    styled = generate(request(model, count=1, style_lora=str(style_lora), style_weight=1.0), settings)
    assert np.abs(pixels(styled)[11] - base).mean() > 1.0
    off = generate(request(model, count=1, style_lora=str(style_lora), style_weight=0.0), settings)
    assert np.abs(pixels(off)[11] - base).max() <= 1


def test_bad_loras_are_refused_by_name(tmp_path, model, settings):
    pickled = tmp_path / "style.bin"
    torch.save({"lora_A": torch.zeros(2)}, pickled)
    with pytest.raises(LoraError, match=r"only \.safetensors"):
        generate(request(model, style_lora=str(pickled)), settings)
    corrupt = tmp_path / "corrupt.safetensors"
    corrupt.write_bytes(b"\x10\x00\x00\x00\x00\x00\x00\x00{not json")
    with pytest.raises(LoraError, match="not a readable safetensors"):
        find_lora(corrupt)
    unrelated = tmp_path / "weights.safetensors"
    save_file({"conv.weight": torch.zeros(2)}, str(unrelated))
    with pytest.raises(LoraError, match="no LoRA tensors"):
        find_lora(unrelated)
    with pytest.raises(LoraError, match="no such LoRA file"):
        find_lora(tmp_path / "missing.safetensors")
    with pytest.raises(NotATrainedModel, match="not a trained model folder"):
        TrainedModel.open(tmp_path)
    with pytest.raises(GenerationError, match="needs an LCM-LoRA"):
        generate(request(model, scheduler="lcm"), settings)
    with pytest.raises(GenerationError, match="count must be between"):
        generate(request(model, count=0), settings)


def test_switching_people_drops_the_previous_adapter(model, settings, tmp_path):
    other = tmp_path / "other"
    shutil.copytree(model, other)
    cache = PipelineCache()
    generate(request(model, count=1), settings, cache=cache)
    generate(request(other, count=1), settings, cache=cache)
    people = [name for name in loaded_adapters(cache.pipe) if name.startswith("person-")]
    assert len(people) == 1


def test_cli_generate_writes_ranked_results_and_protects_other_folders(model, settings, tmp_path, monkeypatch, capsys):
    monkeypatch.setenv("FACECHAIN_HOME", str(settings.home))
    monkeypatch.setenv("FACECHAIN_FACE_BACKEND", "dlib")
    out = tmp_path / "out"
    assert (
        main(
            ["generate", str(model), "--out", str(out), "-n", "2", "--seed", "5", "--steps", "3", "--style", "headshot"]
        )
        == 0
    )
    results = json.loads((out / "results.json").read_text())
    assert [p["seed"] for p in results["portraits"]] == [5, 6] and results["style"] == "headshot"
    assert all((out / p["file"]).is_file() for p in results["portraits"]) and results["all_flagged"]
    assert "no portrait passed the face checks" in capsys.readouterr().err
    precious = tmp_path / "precious"
    precious.mkdir()
    (precious / "thesis.tex").write_text("years of work")
    assert main(["generate", str(model), "--out", str(precious), "-n", "1", "--steps", "2"]) == 3
    assert (precious / "thesis.tex").read_text() == "years of work"
    assert main(["generate", str(model), "--out", str(out), "--style", "no-such-style"]) == 3


def test_write_generation_replaces_an_earlier_output(model, settings, tmp_path):
    result = generate(request(model, count=2), settings)
    write_generation(result, tmp_path / "out")
    write_generation(generate(request(model, count=1), settings), tmp_path / "out")
    assert sorted(p.name for p in (tmp_path / "out").iterdir()) == ["00-seed11.png", "results.json"]


def test_lcm_scheduler_uses_its_lora_and_few_steps(model, settings, style_lora):
    from diffusers import LCMScheduler

    cache = PipelineCache()
    result = generate(
        GenerationRequest(model=model, count=1, seed=2, scheduler="lcm", lcm_lora=str(style_lora)),
        settings,
        cache=cache,
    )
    assert (result.settings["steps"], result.settings["guidance"]) == (8, 2.0)
    assert isinstance(cache.pipe.scheduler, LCMScheduler)
    assert {name.split("-")[0] for name in cache.pipe.get_active_adapters()} == {"person", "lcm"}
    generate(request(model, count=1), settings, cache=cache)  # back to DPM-Solver++, LCM adapter off
    assert {name.split("-")[0] for name in cache.pipe.get_active_adapters()} == {"person"}


def test_portrait_pipeline_loads_only_checked_safetensors_and_set_adapters_means_exactly_these(
    model, settings, tmp_path
):
    from pipelines import LoraFileError, PortraitPipeline

    pipe = PortraitPipeline.from_pretrained(
        settings.home / "tiny-sd", safety_checker=None, requires_safety_checker=False
    )
    pipe.set_progress_bar_config(disable=True)

    def image():
        return np.asarray(
            pipe(
                "sks, a woman", height=64, width=64, num_inference_steps=3, generator=torch.Generator().manual_seed(3)
            ).images[0],
            dtype=np.int16,
        )

    base = image()
    pickled = tmp_path / "lora.bin"
    pickled.write_bytes(b"not opened")
    with pytest.raises(LoraFileError, match="only .safetensors"):
        pipe.load_lora_weights(pickled, adapter_name="pickled")
    with pytest.raises(LoraFileError, match="no such LoRA file"):  # a mistyped path is not sent to the hub
        pipe.load_lora_weights(str(tmp_path / "typo.safetensors"), adapter_name="typo")
    pipe.load_lora_weights(str(model), adapter_name="folder")  # a folder: its pytorch_lora_weights.safetensors
    pipe.load_lora_weights(model / LORA_FILE, adapter_name="file")  # the same file by its path
    pipe.set_adapters(["folder"], [1.0])
    with_person = image()
    pipe.set_adapters(["file"], [1.0])
    assert np.array_equal(image(), with_person)  # the same weights, loaded either way
    pipe.set_adapters([])  # every LoRA off: the base model's image again
    assert np.array_equal(image(), base) and not np.array_equal(with_person, base)


def test_min_likeness_samples_new_seeds_until_its_budget_and_says_so(model, settings, tmp_path):
    """The tiny model draws no faces, so no portrait passes: every round runs, with seeds following on."""
    result = generate(request(model, count=2, seed=5, min_likeness=50, max_tries=3), settings)
    assert (result.settings["tries"], result.settings["passed"], result.settings["min_likeness"]) == (3, 0, 50)
    assert len(result.portraits) == 2 and {p.seed for p in result.portraits} <= set(range(5, 11))
    assert "only 0 of 2 portraits reached 50% likeness in 3 sampling rounds (--max-tries 3)" in result.notice
    assert result.likeness_photos == 3 and result.own_consistency > 0.9  # the training set's crops set the scale
    moved = tmp_path / "model"
    shutil.copytree(model, moved)
    info = json.loads((moved / "training.json").read_text())
    info["config"]["dataset"] = str(tmp_path / "gone")
    (moved / "training.json").write_text(json.dumps(info))
    # the training set is gone, but the first generation kept its embeddings in the model folder
    kept = generate(request(moved, count=1, min_likeness=50, max_tries=1), settings)
    assert (kept.likeness_photos, kept.own_consistency) == (3, pytest.approx(result.own_consistency))
    (moved / "identity-dlib.safetensors").unlink()
    with pytest.raises(GenerationError, match="--min-likeness needs the person's training photos"):
        generate(request(moved, count=1, min_likeness=50), settings)
    with pytest.raises(GenerationError, match="max tries must be between 1 and 10"):
        request(model, min_likeness=50, max_tries=0)


def test_pipelines_are_placed_on_the_gpu_in_half_precision_when_there_is_one(model, settings, monkeypatch):  # noqa: F811
    """No GPU here: CUDA's answers are replaced, and the placement is checked with the CPU standing in
    for the GPU's device; generation then runs on a bfloat16 pipeline."""
    from facechain.diffusion import placement

    monkeypatch.setattr(torch.cuda, "is_available", lambda: True)
    monkeypatch.setattr(torch.cuda, "is_bf16_supported", lambda: True)
    assert placement.inference_placement() == ("cuda", torch.bfloat16)
    monkeypatch.setattr(torch.cuda, "is_bf16_supported", lambda: False)
    assert placement.inference_placement() == ("cuda", torch.float16)
    monkeypatch.setattr(placement, "inference_placement", lambda: ("cpu", torch.bfloat16))
    cache = PipelineCache()
    made = generate(GenerationRequest(model=model, count=1, steps=2, seed=1, detail=False), settings, cache=cache)
    assert cache.pipe.unet.dtype == torch.bfloat16 and cache.pipe.vae.dtype == torch.bfloat16
    assert made.portraits[0].image.size == (64, 64)


def test_identity_embeddings_are_measured_once_until_a_photo_changes(model, analyzer):  # noqa: F811
    import os

    from facechain.portrait.generation.generate import identity_embeddings

    class Counting:
        """``analyzer`` with every method call counted."""

        calls = 0

        def __getattr__(self, name):
            found = getattr(analyzer, name)
            if not callable(found):
                return found

            def counted(*args, **kwargs):
                Counting.calls += 1
                return found(*args, **kwargs)

            return counted

    trained, engine = TrainedModel.open(model), Counting()
    trained.identity_embeddings_file(analyzer.name).unlink(missing_ok=True)  # other tests' generations kept one
    photos = trained.identity_photos
    first = identity_embeddings(trained, engine)
    measured = Counting.calls
    assert len(first) and measured >= len(photos)
    assert np.array_equal(identity_embeddings(trained, engine), first) and Counting.calls == measured  # read back
    stat = photos[0].stat()
    os.utime(photos[0], ns=(stat.st_atime_ns, stat.st_mtime_ns + 10**9))
    assert np.array_equal(identity_embeddings(trained, engine), first) and Counting.calls > measured  # measured again
