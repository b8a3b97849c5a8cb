"""HumanMAC denoiser and pipeline on procedural motion: a short training run beats the zero-velocity
baseline, sampling keeps the observed history (mask completion) and a controlled body part, other
diffusers schedulers drive it, and the model saves and loads with ModelMixin."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from facechain.motion.config import MotionTrainConfig
from facechain.motion.metrics import ade
from facechain.motion.skeleton import H36M
from facechain.motion.training import RandomWindows, augment, procedural_windows, train_denoiser
from models.humanmac import HumanMACDenoiser
from pipelines import HumanMACPipeline
from pipelines.humanmac import default_scheduler

T_HIS, T_PRED = H36M.t_his, H36M.t_pred


# The tests of this trained model are marked slow: its 2000 training steps take about half a minute.
@pytest.fixture(scope="module")
def trained():
    torch.manual_seed(0)
    denoiser = HumanMACDenoiser(joints=16, coefficients=20, width=64, layers=2, heads=4, feed_forward=128, dropout=0.0)
    scheduler = default_scheduler()
    windows = procedural_windows(300, H36M, np.random.default_rng(0))
    ema, losses = train_denoiser(
        denoiser,
        scheduler,
        RandomWindows(windows, windows.shape[1]),
        MotionTrainConfig(steps=2000, batch_size=32, learning_rate=1e-3),
    )
    pipe = HumanMACPipeline(ema, scheduler)
    pipe.set_progress_bar_config(disable=True)
    return pipe, losses


@pytest.fixture(scope="module")
def held_out():
    return torch.from_numpy(procedural_windows(20, H36M, np.random.default_rng(99)))


@pytest.mark.slow
def test_training_learns_and_beats_zero_velocity(trained, held_out):
    pipe, losses = trained
    assert np.mean(losses[-50:]) < 0.1 * np.mean(losses[:20])
    out = pipe(
        held_out[:, :T_HIS], T_PRED, num_samples=10, num_inference_steps=20, generator=torch.Generator().manual_seed(0)
    )
    assert out.futures.shape == (20, 10, T_PRED, 48) and out.clips.shape == (20, 10, T_HIS + T_PRED, 48)
    truth = held_out.numpy()
    ours = np.mean([ade(out.futures[i].numpy(), truth[i, T_HIS:]) for i in range(20)])
    last_pose = np.mean(
        [ade(np.repeat(truth[i, T_HIS - 1][None, None], T_PRED, 1), truth[i, T_HIS:]) for i in range(20)]
    )
    assert ours < 0.95 * last_pose


@pytest.mark.slow
def test_sampling_keeps_the_history_and_a_controlled_part(trained, held_out):
    pipe, _ = trained
    clips = held_out[:4]
    out = pipe(
        clips[:, :T_HIS], T_PRED, num_samples=3, num_inference_steps=20, generator=torch.Generator().manual_seed(1)
    )
    assert (out.clips[:, :, :T_HIS] - clips[:, None, :T_HIS]).abs().mean() < 0.02
    right_leg = [3 * (joint - 1) + axis for joint in H36M.part("right_leg") for axis in range(3)]
    controlled = pipe(
        clips[:, :T_HIS],
        T_PRED,
        num_samples=3,
        num_inference_steps=20,
        control_features=right_leg,
        control_motion=clips,
        generator=torch.Generator().manual_seed(1),
    )
    leg_error = (controlled.clips[..., right_leg] - clips[:, None][..., right_leg]).abs().mean()
    free_error = (out.clips[..., right_leg] - clips[:, None][..., right_leg]).abs().mean()
    assert leg_error < 0.03 and leg_error < 0.5 * free_error
    with pytest.raises(ValueError, match="control_motion"):
        pipe(clips[:, :T_HIS], T_PRED, num_samples=1, num_inference_steps=2, control_features=right_leg)


@pytest.mark.slow
def test_motion_switch_steers_the_ending_to_the_target(trained, held_out):
    pipe, _ = trained
    history, target = held_out[:4, :T_HIS], held_out[4:8, -10:]
    free = pipe(history, T_PRED, num_samples=3, num_inference_steps=20, generator=torch.Generator().manual_seed(3))
    steered = pipe(
        history,
        T_PRED,
        num_samples=3,
        num_inference_steps=20,
        target=target,
        generator=torch.Generator().manual_seed(3),
    )

    def miss(out):
        return (out.futures[:, :, -10:] - target[:, None]).abs().mean()

    assert miss(steered) < 0.5 * miss(free)
    assert (steered.clips[:, :, :T_HIS] - history[:, None]).abs().mean() < 0.02


@pytest.mark.slow
def test_evaluation_matches_direct_metrics(trained, held_out):
    from facechain.motion.evaluation import ZeroVelocity, evaluate

    windows = held_out.numpy()
    still = evaluate(ZeroVelocity(), windows, H36M, samples=1, steps=1)
    expected = np.mean(
        [ade(np.repeat(windows[i, T_HIS - 1][None, None], T_PRED, 1), windows[i, T_HIS:]) for i in range(len(windows))]
    )
    assert still["ADE"] == pytest.approx(expected) and still["APD"] == 0.0
    ours = evaluate(trained[0], windows[:6], H36M, samples=5, steps=10)
    assert ours["APD"] > 0 and all(np.isfinite(value) for value in ours.values())  # K > 1 futures differ


@pytest.mark.slow
def test_other_schedulers_and_save_load(trained, held_out, tmp_path):
    from facechain.cli import build_parser
    from pipelines import MOTION_SOLVERS

    for command in (["eval"], ["predict", "--out", "x"]):  # the CLI offers exactly these solvers
        with pytest.raises(SystemExit):
            build_parser().parse_args(["motion", *command, "--scheduler", "euler"])
        for kind in MOTION_SOLVERS:
            assert build_parser().parse_args(["motion", *command, "--scheduler", kind]).scheduler == kind
    pipe, _ = trained
    for kind in MOTION_SOLVERS:  # none diverges at the cosine schedule's last step (see pipelines/schedulers.py)
        other = HumanMACPipeline(pipe.denoiser, pipe.scheduler)
        other.scheduler = MOTION_SOLVERS[kind].build(pipe.scheduler.config)
        other.set_progress_bar_config(disable=True)
        out = other(
            held_out[:2, :T_HIS],
            T_PRED,
            num_samples=2,
            num_inference_steps=20,
            generator=torch.Generator().manual_seed(2),
        )
        assert (out.clips[:, :, :T_HIS] - held_out[:2, None, :T_HIS]).abs().mean() < 0.03, kind
        assert (out.futures - held_out[:2, None, T_HIS:]).abs().mean() < 0.5, kind
    pipe.denoiser.save_pretrained(tmp_path / "denoiser")
    loaded = HumanMACDenoiser.from_pretrained(tmp_path / "denoiser")
    x, condition = torch.randn(2, 20, 48), torch.randn(2, 20, 48)
    with torch.no_grad():  # (attention takes another kernel with grad: equal up to rounding)
        assert torch.allclose(
            loaded(x, torch.tensor([10, 500]), condition),
            pipe.denoiser(x, torch.tensor([10, 500]), condition),
            atol=1e-5,
        )
    assert (tmp_path / "denoiser" / "diffusion_pytorch_model.safetensors").is_file()


def test_augmentation_keeps_bone_geometry():
    windows = torch.from_numpy(procedural_windows(8, H36M, np.random.default_rng(5)))
    moved = augment(windows, H36M, torch.Generator().manual_seed(0))
    norms = windows.reshape(8, -1, 16, 3).norm(dim=-1).sort(dim=-1).values
    assert torch.allclose(moved.reshape(8, -1, 16, 3).norm(dim=-1).sort(dim=-1).values, norms, atol=1e-5)
    assert not torch.allclose(moved, windows)


def test_cli_trains_saves_and_predicts_a_gif(tmp_path, capsys):
    from PIL import Image

    from facechain.cli import main

    model = tmp_path / "motion"
    assert (
        main(
            [
                "motion",
                "train",
                "--out",
                str(model),
                "--steps",
                "5",
                "--windows",
                "20",
                "--width",
                "32",
                "--layers",
                "2",
                "--batch-size",
                "4",
            ]
        )
        == 0
    )
    assert (model / "denoiser" / "diffusion_pytorch_model.safetensors").is_file()
    gif = tmp_path / "pred.gif"
    assert main(["motion", "predict", str(model), "--out", str(gif), "--samples", "2", "--steps", "3"]) == 0
    with Image.open(gif) as animation:
        assert animation.size == (600, 200) and animation.n_frames == 63  # 2 futures + the recorded motion
    assert (
        main(["motion", "eval", str(model), "--windows", "3", "--samples", "2", "--steps", "2", "--scheduler", "dpm++"])
        == 0
    )
    printed = capsys.readouterr().out
    assert "APD" in printed and "HumanMAC (this model)" in printed and "zero velocity" in printed
    assert main(["motion", "predict", str(tmp_path), "--out", str(gif)]) == 3
    assert "not a motion pipeline folder" in capsys.readouterr().err


def test_paper_configuration_has_the_official_models_parameter_count():
    """Width 512, 8 layers, 8 heads, FFN 1024 on H36M (16 joints, 20 coefficients): 28,401,712
    parameters, exactly the count of the official MotionTransformer (measured by benchmarks/motion_bench.py)."""
    denoiser = HumanMACDenoiser(joints=16, coefficients=20, width=512, layers=8, heads=8, feed_forward=1024)
    assert sum(p.numel() for p in denoiser.parameters()) == 28_401_712
