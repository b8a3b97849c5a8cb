"""LoRA training on the tiny offline model: learning, loading into diffusers, exact resume, errors."""

from __future__ import annotations

import json
import math
from pathlib import Path

import pytest
import torch
from PIL import Image
from safetensors.torch import load_file

from facechain.cli import main
from facechain.config import Settings
from facechain.diffusion.base_model import BaseModelUnavailable
from facechain.errors import ExitCode
from facechain.examples import astronaut, framed
from facechain.portrait import TrainConfig, train
from facechain.portrait.model_folder import LORA_FILE
from facechain.portrait.training.config import TrainingError, TrainingOutOfMemory
from facechain.portrait.training.data import DatasetError


@pytest.fixture(scope="module")
def settings(tmp_path_factory) -> Settings:
    return Settings(home=tmp_path_factory.mktemp("facechain-home"))


@pytest.fixture(scope="module")
def dataset(tmp_path_factory) -> Path:
    """A small prepared-style dataset: four framings of the astronaut, captions, report.json."""
    folder = tmp_path_factory.mktemp("dataset")
    (folder / "images").mkdir()
    person = astronaut()
    lines = []
    for i, box in enumerate([(100, 20, 356, 276), (80, 0, 380, 300), (120, 40, 340, 260), (90, 10, 370, 290)]):
        framed(person, *box).resize((128, 128)).save(folder / "images" / f"{i:03d}.png")
        lines.append(json.dumps({"file_name": f"images/{i:03d}.png", "text": "sks, a woman"}))
    (folder / "metadata.jsonl").write_text("\n".join(lines) + "\n")
    (folder / "report.json").write_text(json.dumps({"trigger": "sks", "class_phrase": "a woman"}))
    return folder


def lora(path: Path) -> dict[str, torch.Tensor]:
    return load_file(str(path / LORA_FILE))


def test_training_lowers_the_loss_and_the_lora_changes_diffusers_output(dataset, settings, tmp_path):
    result = train(
        TrainConfig(
            dataset=dataset,
            out=tmp_path / "model",
            tiny=True,
            steps=40,
            learning_rate=1e-2,
            sude_weight=0.4,
            checkpoint_every=100,
        ),
        settings,
    )
    (start_step, start), (end_step, end) = result.eval_losses[0], result.eval_losses[-1]
    assert (start_step, end_step) == (0, 40) and end < 0.95 * start
    steps = [json.loads(line) for line in (tmp_path / "model" / "train_log.jsonl").read_text().splitlines()]
    assert [s["step"] for s in steps if "loss" in s] == list(range(1, 41))
    assert all("sude_loss" in s and "sude_mask" in s for s in steps if "loss" in s)
    card = json.loads((tmp_path / "model" / "training.json").read_text())
    assert card["tiny"] and "TINY" in card["notice"] and card["class_prompt"] == "a woman"
    readme = (tmp_path / "model" / "README.md").read_text()
    assert "TINY OFFLINE MODEL" in readme and "| SuDe weight | 0.4 |" in readme and "| steps | 40 |" in readme
    assert Image.open(tmp_path / "model" / "validation.png").size == (4 * 64, 64)
    assert Image.open(tmp_path / "model" / "loss_curve.png").size == (640, 360)

    from diffusers import StableDiffusionPipeline

    pipe = StableDiffusionPipeline.from_pretrained(settings.home / "tiny-sd")
    pipe.set_progress_bar_config(disable=True)

    def render():
        return pipe(
            "sks, a woman",
            num_inference_steps=3,
            height=64,
            width=64,
            output_type="np",
            generator=torch.Generator().manual_seed(0),
        ).images[0]

    before = render()
    pipe.load_lora_weights(tmp_path / "model")
    after = render()
    assert abs(after - before).mean() > 1e-3
    pipe.unload_lora_weights()
    assert abs(render() - before).max() < 1e-5


@pytest.mark.slow
@pytest.mark.parametrize("family", ["sd15", "sdxl", "flux1"])
def test_resumed_run_ends_with_the_same_weights(dataset, settings, tmp_path, family):
    def config(out, **extra):
        return TrainConfig(
            dataset=dataset,
            out=out,
            tiny=family,
            steps=12,
            learning_rate=5e-3,
            checkpoint_every=4,
            gradient_accumulation=2,
            sude_weight=0.4,
            **extra,
        )

    train(config(tmp_path / "straight"), settings)

    def interrupt(step, total, message):
        if step == 10:
            raise KeyboardInterrupt

    with pytest.raises(KeyboardInterrupt):
        train(config(tmp_path / "resumed"), settings, progress=interrupt)
    checkpoints = sorted(p.name for p in (tmp_path / "resumed" / "checkpoints").iterdir())
    assert checkpoints == ["step-0000004", "step-0000008"] and not (tmp_path / "resumed" / LORA_FILE).exists()
    result = train(config(tmp_path / "resumed", resume=True), settings)
    assert result.steps == 12
    straight, resumed = lora(tmp_path / "straight"), lora(tmp_path / "resumed")
    assert straight.keys() == resumed.keys()
    assert all(torch.equal(straight[key], resumed[key]) for key in straight)
    log = [json.loads(line)["step"] for line in (tmp_path / "resumed" / "train_log.jsonl").read_text().splitlines()]
    assert log == [0, *range(1, 13), 12]  # evaluation at 0, every step once, evaluation at the end


def test_checkpoints_keep_the_newest(dataset, settings, tmp_path):
    train(
        TrainConfig(
            dataset=dataset,
            out=tmp_path / "m",
            tiny=True,
            steps=7,
            checkpoint_every=2,
            keep_checkpoints=1,
            sude_weight=0,
        ),
        settings,
    )
    assert [p.name for p in (tmp_path / "m" / "checkpoints").iterdir()] == ["step-0000006"]


def test_clear_errors(dataset, settings, tmp_path, monkeypatch):
    (tmp_path / "empty").mkdir()
    with pytest.raises(DatasetError, match="no metadata.jsonl.*facechain prepare"):
        train(TrainConfig(dataset=tmp_path / "empty", out=tmp_path / "a", tiny=True), settings)
    bare = tmp_path / "bare"
    (bare / "images").mkdir(parents=True)
    Image.new("RGB", (64, 64)).save(bare / "images" / "0.png")
    (bare / "metadata.jsonl").write_text('{"file_name": "images/0.png", "text": "sks"}\n')
    with pytest.raises(DatasetError, match="--class-prompt"):
        train(TrainConfig(dataset=bare, out=tmp_path / "b", tiny=True), settings)
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    with pytest.raises(BaseModelUnavailable, match="--tiny"):
        train(TrainConfig(dataset=dataset, out=tmp_path / "c", base_model="someone/not-cached-model"), settings)
    with pytest.raises(TrainingError, match="no checkpoint"):
        train(TrainConfig(dataset=dataset, out=tmp_path / "d", tiny=True, resume=True), settings)
    (tmp_path / "e" / "checkpoints" / "step-0000004").mkdir(parents=True)
    (tmp_path / "e" / "checkpoints" / "step-0000004" / "meta.json").write_text('{"step": 4}')
    with pytest.raises(TrainingError, match="earlier run: pass --resume"):
        train(TrainConfig(dataset=dataset, out=tmp_path / "e", tiny=True), settings)


def test_cli_train(dataset, settings, tmp_path, capsys, monkeypatch):
    monkeypatch.setenv("FACECHAIN_HOME", str(settings.home))
    assert (
        main(["train", str(dataset), "--out", str(tmp_path / "m"), "--tiny", "--steps", "3", "--sude-weight", "0"]) == 0
    )
    printed = capsys.readouterr()
    assert "LoRA:" in printed.out and "tiny offline model" in printed.err
    assert (tmp_path / "m" / LORA_FILE).is_file()
    assert main(["train", str(tmp_path), "--out", str(tmp_path / "x"), "--tiny"]) == 3
    assert "no metadata.jsonl" in capsys.readouterr().err


@pytest.mark.slow
def test_two_processes_under_accelerate_launch(dataset, settings, tmp_path):
    import os
    import subprocess
    import sys

    out = tmp_path / "ddp"
    command = [
        sys.executable,
        "-m",
        "accelerate.commands.launch",
        "--cpu",
        "--num_processes",
        "2",
        "--num_machines",
        "1",
        "--mixed_precision",
        "no",
        "--dynamo_backend",
        "no",
        "-m",
        "facechain.cli",
        "train",
        str(dataset),
        "--out",
        str(out),
        "--tiny",
        "--steps",
        "4",
        "--checkpoint-every",
        "2",
    ]
    env = {**os.environ, "FACECHAIN_HOME": str(settings.home), "OMP_NUM_THREADS": "1"}
    finished = subprocess.run(command, env=env, capture_output=True, text=True, timeout=300)
    assert finished.returncode == 0, finished.stderr[-3000:]
    assert finished.stdout.count("LoRA:") == 1
    assert (out / LORA_FILE).is_file() and (out / "checkpoints" / "step-0000002").is_dir()
    steps = [json.loads(line)["step"] for line in (out / "train_log.jsonl").read_text().splitlines()]
    assert steps == [0, 1, 2, 3, 4, 4]


def test_kohya_export_loads_in_diffusers_like_the_original(dataset, settings, tmp_path):
    from diffusers import StableDiffusionPipeline

    from facechain.portrait.model_folder import KOHYA_FILE

    train(
        TrainConfig(
            dataset=dataset,
            out=tmp_path / "m",
            tiny=True,
            steps=6,
            learning_rate=1e-2,
            rank=4,
            alpha=8,
            train_text_encoder=True,
            sude_weight=0,
            export=("kohya",),
        ),
        settings,
    )
    kohya = load_file(str(tmp_path / "m" / KOHYA_FILE))
    assert any(
        k.startswith("lora_unet_down_blocks_0_attentions_0_transformer_blocks_0_attn1_to_q.lora_down") for k in kohya
    )
    assert any(k.startswith("lora_te_text_model_encoder_layers_0_self_attn_q_proj.lora_up") for k in kohya)
    assert {float(v) for k, v in kohya.items() if k.endswith(".alpha")} == {8.0}

    def render(lora_path):
        pipe = StableDiffusionPipeline.from_pretrained(settings.home / "tiny-sd")
        pipe.set_progress_bar_config(disable=True)
        plain = pipe(
            "sks, a woman",
            num_inference_steps=3,
            height=64,
            width=64,
            output_type="np",
            generator=torch.Generator().manual_seed(1),
        ).images[0]
        pipe.load_lora_weights(lora_path)
        return plain, pipe(
            "sks, a woman",
            num_inference_steps=3,
            height=64,
            width=64,
            output_type="np",
            generator=torch.Generator().manual_seed(1),
        ).images[0]

    plain, with_diffusers_file = render(tmp_path / "m")
    _, with_kohya_file = render(tmp_path / "m" / KOHYA_FILE)
    assert abs(with_diffusers_file - plain).mean() > 1e-3
    assert abs(with_kohya_file - with_diffusers_file).max() < 1e-4


def test_prior_preservation_generates_class_images_and_adds_their_loss(dataset, settings, tmp_path):
    result = train(
        TrainConfig(
            dataset=dataset,
            out=tmp_path / "m",
            tiny=True,
            steps=3,
            prior_preservation=True,
            num_class_images=2,
            sude_weight=0,
            validation_images=0,
        ),
        settings,
    )
    assert sorted(p.name for p in (tmp_path / "m" / "class_images").iterdir()) == ["class-0000.png", "class-0001.png"]
    assert all("prior_loss" in entry for entry in result.log if "loss" in entry)
    assert "2 class images, weight 1.0" in (tmp_path / "m" / "README.md").read_text()


def test_out_of_memory_says_which_flags_help(dataset, settings, tmp_path, monkeypatch):
    import facechain.portrait.training.trainer as trainer

    def exhausted(*args, **kwargs):
        raise torch.OutOfMemoryError("CUDA out of memory. Tried to allocate 2.00 GiB")

    monkeypatch.setattr(trainer, "load_pixels", exhausted)
    with pytest.raises(TrainingOutOfMemory, match="--gradient-checkpointing.*--mixed-precision") as caught:
        train(TrainConfig(dataset=dataset, out=tmp_path / "m", tiny=True, steps=2, sude_weight=0), settings)
    assert caught.value.exit_code == ExitCode.ENVIRONMENT  # the machine, not the arguments


@pytest.mark.parametrize("precision", ["bf16", pytest.param("fp16", marks=pytest.mark.slow)])  # fp16 is slow on a CPU
def test_mixed_precision_trains_and_validates(dataset, settings, tmp_path, precision):
    result = train(
        TrainConfig(
            dataset=dataset,
            out=tmp_path / "m",
            tiny=True,
            steps=2,
            mixed_precision=precision,
            validation_images=1,
            validation_steps=2,
            sude_weight=0.4,
        ),
        settings,
    )
    losses = [entry["loss"] for entry in result.log if "loss" in entry]
    assert len(losses) == 2 and all(math.isfinite(loss) for loss in losses)
    assert result.lora_file.is_file() and (tmp_path / "m" / "validation.png").is_file()


def test_default_checkpoints_follow_the_run_length(dataset, settings, tmp_path):
    config = TrainConfig(dataset=".", out=".")
    assert [config.checkpoint_interval(n) for n in (3, 12, 50, 499, 1600)] == [1, 3, 10, 100, 100]
    assert TrainConfig(dataset=".", out=".", checkpoint_every=7).checkpoint_interval(1600) == 7
    out = tmp_path / "m"
    train(TrainConfig(dataset=dataset, out=out, tiny=True, steps=10, sude_weight=0, validation_images=0), settings)
    assert [p.name for p in (out / "checkpoints").iterdir()] == ["step-0000006", "step-0000008"]  # every 2, newest 2


def test_resume_of_a_finished_run_says_it_is_finished(dataset, settings, tmp_path, capsys, monkeypatch):
    out = tmp_path / "m"
    train(TrainConfig(dataset=dataset, out=out, tiny=True, steps=3, sude_weight=0, validation_images=0), settings)
    with pytest.raises(TrainingError, match=r"holds a finished run \(3 steps.*nothing to resume"):
        train(TrainConfig(dataset=dataset, out=out, tiny=True, steps=3, resume=True), settings)
    monkeypatch.setenv("FACECHAIN_HOME", str(settings.home))
    assert main(["train", str(dataset), "--out", str(out), "--tiny", "--steps", "3", "--resume"]) == 3
    assert "finished run" in capsys.readouterr().err


def test_after_a_resume_the_live_plot_and_the_card_show_the_whole_run(dataset, settings, tmp_path):
    from facechain.portrait.model_folder import logged_losses

    def config(**extra):
        return TrainConfig(
            dataset=dataset,
            out=tmp_path / "m",
            tiny=True,
            steps=12,
            checkpoint_every=4,
            sude_weight=0,
            validation_images=0,
            **extra,
        )

    def interrupt(step, total, message):
        if step == 10:
            raise KeyboardInterrupt

    with pytest.raises(KeyboardInterrupt):
        train(config(), settings, progress=interrupt)
    assert [step for step, _ in logged_losses(tmp_path / "m")] == list(range(1, 10))  # up to the interruption
    train(config(resume=True), settings)
    assert [step for step, _ in logged_losses(tmp_path / "m")] == list(range(1, 13))
    readme = (tmp_path / "m" / "README.md").read_text()
    assert "(step 0) ->" in readme and "(step 12)" in readme  # evaluation loss from the first run's start


def test_a_second_run_into_the_same_folder_is_refused_and_names_the_first(
    dataset, settings, tmp_path, capsys, monkeypatch
):
    import subprocess
    import sys

    out = tmp_path / "m"
    holder = subprocess.Popen(
        [
            sys.executable,
            "-c",
            "import sys, time\nfrom pathlib import Path\nfrom facechain.folder_lock import locked_folder\n"
            f"with locked_folder(Path({str(out)!r}), 'facechain train'):\n"
            "    print('held', flush=True); time.sleep(60)",
        ],
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        assert holder.stdout.readline().strip() == "held"
        monkeypatch.setenv("FACECHAIN_HOME", str(settings.home))
        assert main(["train", str(dataset), "--out", str(out), "--tiny", "--steps", "2"]) == 3
        err = capsys.readouterr().err
        assert f"in use by facechain train (process {holder.pid}" in err and not (out / LORA_FILE).exists()
    finally:
        holder.kill()
        holder.wait()
    train(TrainConfig(dataset=dataset, out=out, tiny=True, steps=2, sude_weight=0, validation_images=0), settings)
    assert (out / LORA_FILE).is_file()  # the lock died with its process: no stale lock


def test_parallel_model_loads_leave_torch_intact(settings):
    """Loads from several threads (training's, generation's and the motion pipeline's) must not leave
    torch's empty-weight initialisation installed: a new Linear afterwards has real weights."""
    import threading

    from facechain.config import SHIPPED_MOTION_MODEL
    from facechain.diffusion.base_model import resolve_base_model
    from facechain.motion.scenario import load_motion_pipeline
    from facechain.portrait.generation.generate import PipelineCache
    from facechain.portrait.training.trainer import load_models

    tiny = resolve_base_model(None, settings, tiny=True)
    config = TrainConfig(dataset=".", out=".", tiny=True)
    loads = [
        lambda: load_models(tiny, config),
        lambda: PipelineCache().get(tiny),
        lambda: load_motion_pipeline(SHIPPED_MOTION_MODEL),
    ] * 2
    failures = []

    def run(load):
        try:
            load()
        except Exception as error:  # collected: an exception in a thread would otherwise pass unseen
            failures.append(error)

    threads = [threading.Thread(target=run, args=(load,)) for load in loads]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=120)
    assert not failures
    assert torch.nn.Linear(4, 4).weight.device.type == "cpu"
