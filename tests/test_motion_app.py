"""The Motion tab: procedural and uploaded starts, each workspace's animations in its own folder, the
run's solver and figures in the summary, clear errors for corrupt, pickled or wrong-shape uploads and an
unknown solver; through the real server; and the model that ships with the package predicts better than
holding the last pose."""

from __future__ import annotations

import re
from pathlib import Path

import gradio as gr
import numpy as np
import pytest
from PIL import Image, ImageSequence

from facechain.cli import main
from facechain.config import Settings
from facechain.errors import BadArguments
from facechain.jobs.motion import run_motion
from facechain.motion.data import save_plain
from facechain.motion.procedural import random_clip
from facechain.ui import AppContext, build_app, launch
from facechain.ui.motion import predict_motion
from facechain.workspace import UnknownWorkspace
from pipelines.schedulers import DEFAULT_MOTION_SOLVER, MOTION_SOLVERS, default_motion_precision
from tests.test_app import working_context

DEFAULTS = dict(
    source="procedural",
    motion="walk",
    upload=None,
    sequence="",
    start=0,
    samples=2,
    mode="predict",
    part="right_leg",
    switch_to="run",
    solver=DEFAULT_MOTION_SOLVER,
    steps=3,
    seed=0,
    keep_bone_lengths=True,
)


@pytest.fixture(scope="module")
def motion_settings(tmp_path_factory):
    folder = tmp_path_factory.mktemp("motion") / "model"
    assert (
        main(
            [
                "motion",
                "train",
                "--out",
                str(folder),
                "--windows",
                "20",
                "--steps",
                "3",
                "--width",
                "32",
                "--layers",
                "2",
                "--batch-size",
                "4",
                "--checkpoint-every",
                "0",
            ]
        )
        == 0
    )
    return Settings(motion_model=folder)


def run(context, token: str, **changes):
    values = {**DEFAULTS, **changes}
    *_, last = predict_motion(context, token, *values.values())
    return last


@pytest.mark.slow  # two motion jobs, each a process loading the model: 14 s
def test_procedural_and_uploaded_motion(tmp_path, motion_settings):
    with working_context(motion_settings, tmp_path) as context:
        predict_in_two_workspaces(context, tmp_path)


def predict_in_two_workspaces(context, tmp_path):
    (one, first), (two, second) = context.workspaces.create(), context.workspaces.create()
    gif, summary = run(context, one, mode="control", part="left_leg")
    assert Path(gif).parent.parent == first.path / "motion"
    assert "procedural walk" in summary and "keeping the left leg" in summary
    assert "| | futures shown |" in summary and "raw" not in summary  # control mode restores nothing
    with Image.open(gif) as animation:
        assert animation.size == (3 * 200, 200)
        # 63 frames of 40 ms; Pillow merges frames that repeat the one before (an untrained model's far-off futures
        # shrink the view), so the playing time is what is fixed
        assert sum(frame.info["duration"] for frame in ImageSequence.Iterator(animation)) == 63 * 40
    upload = tmp_path / "mine.npz"
    save_plain({"me": {"dance": random_clip(60, np.random.default_rng(0))}}, upload)
    gif, summary = run(
        context, two, source="upload", upload=str(upload), samples=1, mode="switch", switch_to="idle", solver="dpm++"
    )
    assert Path(gif).parent.parent == second.path / "motion" and "me/dance" in summary and "toward idle" in summary
    assert "Sampled with **dpm++**, 3 steps" in summary
    with Image.open(gif) as animation:
        assert animation.size == (2 * 200, 200)  # one future and the 35 recorded frames
    assert len(list(first.path.glob("motion/*/*.gif"))) == len(list(second.path.glob("motion/*/*.gif"))) == 1


def test_bad_uploads_get_clear_errors(tmp_path, motion_settings):
    context = AppContext.create(motion_settings, tmp_path)
    bad, workspace = context.workspaces.create()
    corrupt = tmp_path / "corrupt.npz"
    corrupt.write_bytes(b"PK\x03\x04 not really a zip")
    pickled = tmp_path / "data_3d_h36m.npz"
    np.savez(pickled, positions_3d=np.array({"S1": {"a": np.zeros((30, 17, 3))}}, dtype=object))
    flat = tmp_path / "flat.npz"
    np.savez(flat, **{"me/walk": np.zeros((30, 51))})
    joints = tmp_path / "joints.npz"
    np.savez(joints, **{"me/walk": np.zeros((30, 20, 3))})
    short = tmp_path / "short.npz"
    np.savez(short, **{"me/walk": np.zeros((10, 17, 3))})
    for path, message in [
        (corrupt, "not a readable .npz"),
        (pickled, "only opened for a file you trust"),
        (flat, "must be named 'subject/action' and hold (frames, joints, 3)"),
        (joints, "expected 17 joints"),
        (short, "a history needs 25"),
    ]:
        with pytest.raises(gr.Error, match=re.escape(message)) as raised:
            run(context, bad, source="upload", upload=str(path))
        assert str(tmp_path) not in str(raised.value)  # the server's paths stay hidden
    with pytest.raises(gr.Error, match="Upload a motion file"):
        run(context, bad, source="upload")
    assert not (workspace.path / "motion").exists()
    with pytest.raises(UnknownWorkspace, match="no workspace has this token"):
        run(context, "x" * 32)
    params = {**DEFAULTS, "solver": "euler", "run": "x"}
    with pytest.raises(
        BadArguments, match=re.escape(f"unknown solver 'euler'; choose from {', '.join(MOTION_SOLVERS)}")
    ):
        run_motion(params, workspace, motion_settings, lambda *_: None)


def test_motion_through_the_server(tmp_path, motion_settings):
    from gradio_client import Client

    from tests.test_app import free_port

    app = build_app(motion_settings, tmp_path)
    port = free_port()
    launch(app, "127.0.0.1", port, block=False)
    try:
        client = Client(f"http://127.0.0.1:{port}/", verbose=False)
        token, _ = client.predict("", api_name="/workspace")
        gif, summary = client.predict(
            *{**DEFAULTS, "motion": "run", "samples": 3, "steps": 10}.values(), token, api_name="/motion"
        )
        with Image.open(gif) as animation:
            assert animation.size == (4 * 200, 200)
        assert "procedural run" in summary and "3 futures of 100 frames (2 s)" in summary
        precision = default_motion_precision()  # the default, auto, is the machine's
        assert re.search(
            rf"Sampled with \*\*{re.escape(DEFAULT_MOTION_SOLVER)}\*\*, 10 steps, {precision}, in [\d.]+ s\.", summary
        )
        assert "| | shown (bone lengths restored) | raw (the model's own) |" in summary
        for label in ("bone length error (%)", "foot skating (m/s)", "leg crossing (%)"):
            assert re.search(rf"\| {re.escape(label)} \| [\d.]+ \| [\d.]+ \|", summary)
    finally:
        app.close()
        app.context.workers.stop()


def test_the_shipped_model_beats_holding_the_last_pose():
    from facechain.motion.evaluation import ZeroVelocity, evaluate
    from facechain.motion.scenario import load_motion_pipeline
    from facechain.motion.skeleton import H36M
    from facechain.motion.training import procedural_windows

    pipe = load_motion_pipeline(Settings().motion_model)
    windows = procedural_windows(8, H36M, np.random.default_rng(2026))
    ours = evaluate(pipe, windows, H36M, samples=10, steps=20)
    still = evaluate(ZeroVelocity(), windows, H36M, samples=1, steps=1)
    assert ours["ADE"] < 0.8 * still["ADE"] and ours["FDE"] < 0.8 * still["FDE"] and ours["APD"] > 0.1
