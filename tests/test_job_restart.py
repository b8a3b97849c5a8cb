"""Restarts lose nothing: the app's server (a real `facechain serve` process) and its job process are
killed with SIGKILL in the middle of a training job and the server is started again; the job is noticed as
interrupted, runs again from its newest checkpoint, and ends with the weights of an uninterrupted run."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time

import pytest
from safetensors.torch import load_file

from facechain.config import Settings
from facechain.examples import write_example_photos
from facechain.jobs.store import JobStore
from facechain.portrait import prepare
from facechain.workspace import WorkspaceStore
from tests.test_app import free_port

pytestmark = pytest.mark.slow  # two server starts and two short trainings: about 60 s

PARAMS = {"tiny": True, "steps": 30, "sude_weight": 0.4, "checkpoint_every": 5, "validation_images": 0}


def start_server(runs, settings: Settings) -> subprocess.Popen:
    return subprocess.Popen(
        [sys.executable, "-m", "facechain.cli", "serve", "--port", str(free_port()), "--runs", str(runs)],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        env={**os.environ, **settings.to_env(), "GRADIO_ANALYTICS_ENABLED": "False"},
        start_new_session=True,
    )


def kill_everything(server: subprocess.Popen, pid: int | None) -> None:
    """What a machine or container restart does: the server and the job process it started (in a session
    of its own, so a Ctrl-C in the server's terminal is not the job's) die with SIGKILL."""
    os.killpg(server.pid, signal.SIGKILL)
    if pid is not None:
        os.kill(pid, signal.SIGKILL)
    server.wait()


def wait_for(condition, seconds: float, what: str):
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        value = condition()
        if value:
            return value
        time.sleep(0.2)
    raise AssertionError(f"timed out waiting for {what}")


def test_a_server_killed_mid_training_resumes_the_job_after_restart(tmp_path, analyzer):
    settings = Settings(face_backend="dlib", home=tmp_path / "home")
    runs = tmp_path / "runs"
    _, workspace = WorkspaceStore(runs).create()
    photos = write_example_photos(tmp_path / "photos")
    prepare([photos[i] for i in (0, 1, 4)], workspace.item("datasets", "set"), settings=settings)
    jobs = JobStore(runs / "jobs.sqlite3")
    job = jobs.submit(workspace.id, "train", "gpu", {"dataset": "set", "name": "twin", **PARAMS})

    server = start_server(runs, settings)
    try:
        wait_for(lambda: jobs.get(job.id).step >= 12, 180, "training past its second checkpoint")
        kill_everything(server, jobs.get(job.id).pid)
        killed_at = jobs.get(job.id)
        assert killed_at.status == "running" and killed_at.step < PARAMS["steps"]  # nobody recorded an end
        assert not (workspace.item("models", "twin") / "training.json").exists()

        server = start_server(runs, settings)
        done = wait_for(lambda: (j := jobs.get(job.id)).done and j, 240, "the job to end after the restart")
        assert (done.status, done.attempts, done.result["steps"]) == ("succeeded", 2, PARAMS["steps"])
    finally:
        kill_everything(server, None)

    assert_weights_of_an_uninterrupted_run(
        workspace.item("models", "twin"), workspace.item("datasets", "set"), PARAMS, settings, tmp_path
    )


def assert_weights_of_an_uninterrupted_run(model, dataset, params: dict, settings: Settings, scratch) -> None:
    """The job's LoRA equals, tensor for tensor, one trained in this process in one go with ``params``."""
    from facechain.portrait import train
    from facechain.portrait.training.config import TrainConfig

    reference = scratch / "uninterrupted"
    train(TrainConfig(dataset=dataset, out=reference, **params), settings)
    resumed = load_file(model / "pytorch_lora_weights.safetensors")
    expected = load_file(reference / "pytorch_lora_weights.safetensors")
    assert resumed.keys() == expected.keys()
    assert all((resumed[key] == expected[key]).all() for key in expected)
