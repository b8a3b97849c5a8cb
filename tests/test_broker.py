"""Workers on other machines through Celery and a real Redis server (Debian's redis-server on a free
loopback port, started here and stopped after): jobs of two users all complete exactly once in the right
workspaces, and a worker killed mid-training has its job finished by the other worker, from the newest
checkpoint, with the weights of an uninterrupted run."""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
import sys
from pathlib import Path

import pytest
from safetensors.torch import load_file

from facechain.config import Settings
from facechain.examples import write_example_photos
from facechain.jobs.store import JobStore
from facechain.workspace import WorkspaceStore
from tests.test_app import free_port
from tests.test_job_restart import assert_weights_of_an_uninterrupted_run, wait_for

REDIS = shutil.which("redis-server")
pytestmark = [
    pytest.mark.skipif(REDIS is None, reason="needs Debian's redis-server: apt install redis-server (CI installs it)"),
    pytest.mark.slow,  # a Redis server, two Celery workers and a short training: about 60 s
]
STALE = 6.0
TRAIN = {"tiny": True, "steps": 30, "sude_weight": 0.4, "checkpoint_every": 5, "validation_images": 0}


@pytest.fixture()
def redis_url(tmp_path):
    celery = pytest.importorskip("celery", reason="the workers extra (celery[redis]) is not installed")
    assert celery
    port = free_port()
    server = subprocess.Popen(
        [REDIS, "--port", str(port), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no", "--dir", str(tmp_path)],
        stdout=subprocess.DEVNULL,
    )
    import redis

    client = redis.Redis(port=port)
    wait_for(lambda: _pings(client), 20, "redis-server to answer")
    yield f"redis://127.0.0.1:{port}/0"
    server.terminate()
    server.wait(timeout=20)


def _pings(client) -> bool:
    try:
        return client.ping()
    except Exception:
        return False


def start_worker(url: str, runs, settings: Settings) -> subprocess.Popen:
    return subprocess.Popen(
        [
            sys.executable,
            "-m",
            "facechain.cli",
            "worker",
            "--broker",
            url,
            "--runs",
            str(runs),
            "--slots",
            "gpu=1,cpu=1",
        ],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        env={**os.environ, **settings.to_env(), "FACECHAIN_JOB_STALE_SECONDS": str(STALE)},
        start_new_session=True,
    )


def crash(worker: subprocess.Popen) -> None:
    """A machine crash: the `facechain worker` process and everything it started (its Celery workers, each
    in a process group of its own with its jobs' processes) die with SIGKILL."""
    children = Path(f"/proc/{worker.pid}/task/{worker.pid}/children").read_text().split()
    os.killpg(worker.pid, signal.SIGKILL)
    for child in map(int, children):
        os.killpg(child, signal.SIGKILL)
    worker.wait()


def test_two_workers_run_two_users_jobs_exactly_once_and_survive_a_crash(tmp_path, redis_url, monkeypatch, analyzer):
    from facechain.jobs.broker import BrokerDispatcher

    monkeypatch.setenv("FACECHAIN_JOB_STALE_SECONDS", str(STALE))
    settings = Settings(face_backend="dlib", home=tmp_path / "home")
    runs = tmp_path / "runs"
    workspaces = WorkspaceStore(runs)
    (_, ann), (_, bob) = workspaces.create(), workspaces.create()
    photos = write_example_photos(tmp_path / "photos")
    for workspace, picks in ((ann, (0, 1, 4)), (bob, (0, 2))):
        folder = workspace.item("photos", "set")
        folder.mkdir(parents=True)
        for i in picks:
            shutil.copy(photos[i], folder)
    jobs = JobStore(runs / "jobs.sqlite3")
    prepared = [jobs.submit(w.id, "prepare", "cpu", {"photos": "set"}) for w in (ann, bob)]

    dispatcher = BrokerDispatcher(runs, redis_url).start()
    workers = [start_worker(redis_url, runs, settings) for _ in range(2)]
    try:
        wait_for(lambda: all(jobs.get(j.id).done for j in prepared), 120, "both prepare jobs")
        assert [jobs.get(j.id).status for j in prepared] == ["succeeded", "succeeded"]
        training = jobs.submit(ann.id, "train", "gpu", {"dataset": "set", "name": "twin", **TRAIN})
        short = jobs.submit(bob.id, "train", "gpu", {"dataset": "set", "name": "twin", **TRAIN, "steps": 4})
        running = wait_for(
            lambda: (j := jobs.get(training.id)).step >= 12 and j.status == "running" and j,
            180,
            "training past step 12",
        )
        victim = next(w for w in workers if w.poll() is None and _runs(w, running.worker))
        crash(victim)
        done = wait_for(lambda: (j := jobs.get(training.id)).done and j, 240, "the training to end on the other worker")
        assert (done.status, done.attempts, done.result["steps"]) == ("succeeded", 2, TRAIN["steps"])
        assert done.worker != running.worker  # finished by the other worker
        wait_for(lambda: jobs.get(short.id).done, 120, "bob's training")
        assert jobs.get(short.id).status == "succeeded"
    finally:
        dispatcher.stop()
        for worker in workers:
            if worker.poll() is None:
                os.killpg(worker.pid, signal.SIGTERM)
                worker.wait(timeout=60)

    for job in [*prepared, training, short]:
        log = (runs / "jobs" / "logs" / f"{job.id}.log").read_text()
        assert log.count(f"job {job.id} succeeded") == 1  # ran to completion exactly once
    assert (ann.item("models", "twin") / "training.json").is_file()
    assert (bob.item("models", "twin") / "training.json").is_file()  # each user's model in their own workspace
    assert load_file(bob.item("models", "twin") / "pytorch_lora_weights.safetensors").keys()

    assert_weights_of_an_uninterrupted_run(
        ann.item("models", "twin"), ann.item("datasets", "set"), TRAIN, settings, tmp_path
    )


def _runs(worker: subprocess.Popen, job_worker: str) -> bool:
    """Whether the Celery worker process named in a job's row is a child of this `facechain worker`."""
    pid = int(job_worker.split(":")[1])
    try:
        return os.getpgid(pid) != os.getpgid(worker.pid) and _parent(pid) == worker.pid
    except ProcessLookupError:
        return False


def _parent(pid: int) -> int:
    with open(f"/proc/{pid}/stat") as stat:
        return int(stat.read().rsplit(")", 1)[1].split()[1])
