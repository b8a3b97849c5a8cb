"""``facechain motion`` on motion files in the benchmark layouts: Human3.6M (32 mocap joints) and
HumanEva-I (15 joints) train, evaluate on the test split and predict from a chosen clip; the
control and switch modes; the requested solver and the figures of a run; bad requests get clear errors."""

from __future__ import annotations

import json
import re

import imageio_ffmpeg
import numpy as np
import pytest
from PIL import Image

from facechain.cli import main
from facechain.errors import BadArguments
from facechain.motion.data import H36M_KEPT_JOINTS, MotionDataError, save_plain
from facechain.motion.evaluation import METRICS, plausibility
from facechain.motion.procedural import random_clip
from facechain.motion.scenario import MotionRequest, file_window, load_motion_pipeline, part_features, predict
from facechain.motion.skeleton import H36M, HUMANEVA
from pipelines.schedulers import DEFAULT_MOTION_SOLVER, MOTION_SOLVERS, default_motion_precision

TINY = ["--steps", "3", "--width", "32", "--layers", "2", "--batch-size", "4", "--checkpoint-every", "0"]


def h36m_file(path, rng):
    """Procedural motion in the 32-joint mocap layout (the dropped joints hold noise)."""
    data = {}
    for subject in ["S1", "S5", "S6", "S7", "S8", "S9", "S11"]:
        positions = rng.normal(size=(300, 32, 3)).astype(np.float32)
        positions[:, H36M_KEPT_JOINTS] = random_clip(300, rng)
        data[subject] = {"Walking": positions}
    save_plain(data, path)
    return data


def test_h36m_file_train_eval_predict(tmp_path, capsys):
    data = h36m_file(tmp_path / "h36m.npz", np.random.default_rng(0))
    model = tmp_path / "model"
    assert main(["motion", "train", "--out", str(model), "--data", str(tmp_path / "h36m.npz"), *TINY]) == 0
    assert (
        main(
            [
                "motion",
                "eval",
                str(model),
                "--data",
                str(tmp_path / "h36m.npz"),
                "--windows",
                "3",
                "--samples",
                "2",
                "--steps",
                "2",
                "--json",
                str(tmp_path / "metrics.json"),
            ]
        )
        == 0
    )
    report = json.loads((tmp_path / "metrics.json").read_text())
    assert report["windows"] == 3 and set(report["metrics"]) == {"humanmac", "zero_velocity", "recorded"}
    assert set(report["metrics"]["zero_velocity"]) == set(METRICS)
    truth = report["metrics"]["recorded"]
    assert truth["APD"] == truth["ADE"] == truth["FDE"] == 0  # the recorded futures, scored as one prediction each
    printed = capsys.readouterr().out
    assert "zero velocity" in printed and "recorded futures" in printed and "Cross%" in printed
    gif = tmp_path / "walk.gif"
    assert (
        main(
            [
                "motion",
                "predict",
                str(model),
                "--out",
                str(gif),
                "--data",
                str(tmp_path / "h36m.npz"),
                "--sequence",
                "S9/Walking",
                "--start",
                "40",
                "--samples",
                "2",
                "--steps",
                "2",
            ]
        )
        == 0
    )
    with Image.open(gif) as animation:
        assert animation.size == (3 * 200, 200)  # two futures and the recorded continuation
    figure = r"[\d.]+"
    assert re.search(
        rf"^{re.escape(DEFAULT_MOTION_SOLVER)}, 2 steps, {default_motion_precision()}, sampled in {figure} s: "
        rf"BoneErr% {figure} \(raw {figure}\), "
        rf"Skate {figure} m/s \(raw {figure} m/s\), Cross% {figure} \(raw {figure}\)$",
        capsys.readouterr().out,
        re.MULTILINE,
    )
    video, raw_unipc = tmp_path / "walk.mp4", ["--scheduler", "unipc", "--no-keep-bone-lengths", "--precision", "fp32"]
    assert (
        main(["motion", "predict", str(model), "--out", str(video), "--samples", "1", "--steps", "2", *raw_unipc]) == 0
    )
    line = capsys.readouterr().out.splitlines()[-1]
    assert line.startswith("unipc, 2 steps, fp32, sampled in ") and "Skate" in line and "raw" not in line
    frames, seconds = imageio_ffmpeg.count_frames_and_secs(str(video))
    assert frames == 63 and seconds == pytest.approx(2.5, abs=0.05)  # 125 frames at 50 Hz, every second one shown
    assert main(["motion", "predict", str(model), "--out", str(tmp_path / "walk.avi")]) == 3
    assert "name a .gif or .mp4 file" in capsys.readouterr().err
    window, name = file_window(data, H36M, "S9/Walking", 40)
    expected = data["S9"]["Walking"][40:165, H36M_KEPT_JOINTS]
    assert name == "S9/Walking" and np.allclose(window, (expected[:, 1:] - expected[:, :1]).reshape(125, 48))
    assert (
        main(
            [
                "motion",
                "predict",
                str(model),
                "--out",
                str(gif),
                "--data",
                str(tmp_path / "h36m.npz"),
                "--sequence",
                "S2/Walking",
            ]
        )
        == 3
    )
    assert "no sequence 'S2/Walking'" in capsys.readouterr().err
    assert (
        main(
            ["motion", "predict", str(model), "--out", str(gif), "--data", str(tmp_path / "h36m.npz"), "--start", "290"]
        )
        == 3
    )
    assert "a history needs 25 from frame 290" in capsys.readouterr().err


def test_humaneva_file_builds_a_15_joint_model(tmp_path, capsys):
    rng = np.random.default_rng(1)
    subjects = ["Train/S1", "Train/S2", "Train/S3", "Validate/S1", "Validate/S2", "Validate/S3"]
    walk = np.cumsum(rng.normal(0, 0.01, size=(120, 15, 3)), axis=0).astype(np.float32)
    save_plain({subject: {"Walking 1 chunk0": walk + i} for i, subject in enumerate(subjects)}, tmp_path / "he.npz")
    model = tmp_path / "humaneva"
    assert (
        main(
            ["motion", "train", "--out", str(model), "--dataset", "humaneva", "--data", str(tmp_path / "he.npz"), *TINY]
        )
        == 0
    )
    pipe = load_motion_pipeline(model)
    assert pipe.denoiser.config.joints == 14 and pipe.denoiser.config.coefficients == HUMANEVA.dct_coefficients
    window, _ = file_window({"Validate/S1": {"Walking": walk}}, HUMANEVA)
    run = predict(pipe, window, MotionRequest(samples=2, steps=2))
    assert run.history.shape == (15, 42) and run.futures.shape == (2, 60, 42)
    assert main(["motion", "train", "--out", str(tmp_path / "x"), "--dataset", "humaneva", *TINY]) == 3
    assert "procedural motion is H36M-only" in capsys.readouterr().err


@pytest.fixture(scope="module")
def tiny_pipeline(tmp_path_factory):
    folder = tmp_path_factory.mktemp("motion") / "model"
    assert main(["motion", "train", "--out", str(folder), "--windows", "20", *TINY]) == 0
    return load_motion_pipeline(folder)


def test_modes_hold_what_they_promise(tiny_pipeline):
    from facechain.motion.scenario import SWITCH_FRAMES, procedural_window

    window = procedural_window("walk", 3)
    control = predict(tiny_pipeline, window, MotionRequest(mode="control", part="left_arm", samples=2, steps=5))
    arm = part_features(H36M, "left_arm")
    assert len(arm) == 9 and np.abs(control.futures[..., arm] - window[None, H36M.t_his :, arm]).mean() < 0.05
    assert np.allclose(control.history, window[: H36M.t_his])
    assert control.raw_figures is None  # control mode keeps its recorded part: nothing is restored
    target = procedural_window("run", 1)[-SWITCH_FRAMES:]
    steered = predict(
        tiny_pipeline, window, MotionRequest(mode="switch", switch_to="run", seed=0, samples=2, steps=10)
    ).futures
    free = predict(tiny_pipeline, window, MotionRequest(seed=0, samples=2, steps=10)).futures
    assert np.abs(steered[:, -SWITCH_FRAMES:] - target).mean() < np.abs(free[:, -SWITCH_FRAMES:] - target).mean()
    with pytest.raises(MotionDataError, match="needs 125 frames"):
        predict(tiny_pipeline, window[:40], MotionRequest(mode="control", part="torso"))


def test_predicted_futures_keep_the_history_bone_lengths_unless_asked_not_to(tiny_pipeline):
    from facechain.motion.plausibility import bone_length_error
    from facechain.motion.scenario import procedural_window

    window = procedural_window("walk", 3)
    run = predict(tiny_pipeline, window, MotionRequest(samples=2, steps=5))
    history, kept = run.history, run.futures
    raw = predict(tiny_pipeline, window, MotionRequest(samples=2, steps=5, keep_bone_lengths=False)).futures
    assert bone_length_error(kept, history, H36M) < 1e-5 < 0.01 < bone_length_error(raw, history, H36M)
    bones_kept, bones_raw = (b.reshape(*b.shape[:-1], -1, 3) for b in (kept, raw))
    assert np.allclose(
        bones_kept[..., 0, :] / np.linalg.norm(bones_kept[..., 0, :], axis=-1, keepdims=True),
        bones_raw[..., 0, :] / np.linalg.norm(bones_raw[..., 0, :], axis=-1, keepdims=True),
        atol=1e-5,
    )


def test_the_requested_solver_samples_and_the_pipeline_keeps_its_own(tiny_pipeline):
    from facechain.motion.scenario import procedural_window

    window, own = procedural_window("walk", 3), tiny_pipeline.scheduler
    ddim, dpm = (predict(tiny_pipeline, window, MotionRequest(samples=2, steps=3, solver=s)) for s in ("ddim", "dpm++"))
    assert not np.allclose(ddim.futures, dpm.futures)
    assert tiny_pipeline.scheduler is own  # the next caller samples with the pipeline's own scheduler
    again = predict(tiny_pipeline, window, MotionRequest(samples=2, steps=3, solver="ddim"))
    assert np.array_equal(again.futures, ddim.futures)
    choices = ", ".join(MOTION_SOLVERS)
    with pytest.raises(BadArguments, match=re.escape(f"unknown solver 'euler'; choose from {choices}")):
        MotionRequest(solver="euler")


def test_a_run_reports_its_sampling_time_and_the_figures_of_its_futures(tiny_pipeline):
    from facechain.motion.scenario import procedural_window

    window = procedural_window("walk", 3)
    kept = predict(tiny_pipeline, window, MotionRequest(samples=2, steps=3))
    raw = predict(tiny_pipeline, window, MotionRequest(samples=2, steps=3, keep_bone_lengths=False))
    assert kept.seconds > 0 and raw.seconds > 0
    assert kept.figures == pytest.approx(plausibility(kept.futures, kept.history, H36M))
    assert raw.figures == pytest.approx(plausibility(raw.futures, raw.history, H36M))
    assert kept.raw_figures == pytest.approx(raw.figures)  # the same draw before the restoration
    assert raw.raw_figures is None and kept.figures["BoneErr%"] < 1e-3 < raw.figures["BoneErr%"]
