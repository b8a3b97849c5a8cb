"""The persistent job queue: fair claims, queue positions that match them, per-owner limits, cancel,
recovery of jobs whose process died, and atomic claims across processes."""

from __future__ import annotations

import multiprocessing
import os
import subprocess
import sys
import time

import pytest

from facechain.jobs.store import MAX_ATTEMPTS, STALE_SECONDS, JobError, JobStore, TooManyJobs


@pytest.fixture()
def store(tmp_path):
    return JobStore(tmp_path / "jobs.sqlite3", max_unfinished_per_owner=10)


def test_a_job_goes_from_queued_to_succeeded_with_its_result(store):
    job = store.submit("ann", "generate", "gpu", {"model": "me", "count": 2})
    assert (job.status, job.params, job.attempts) == ("queued", {"model": "me", "count": 2}, 0)
    claimed = store.claim("gpu", "host:1")
    assert (claimed.id, claimed.status, claimed.attempts, claimed.worker) == (job.id, "running", 1, "host:1")
    assert store.claim("gpu") is None and store.claim("cpu") is None
    store.report(job.id, 3, 10, "image 1/2")
    assert store.get(job.id).fraction == 0.3
    assert store.finish(job.id, "succeeded", {"output": "me-1"})
    done = store.get(job.id)
    assert (done.status, done.result, done.done) == ("succeeded", {"output": "me-1"}, True)
    assert not store.finish(job.id, "failed", error="late")  # a finished job is not finished twice


def test_one_user_queueing_many_jobs_gets_turns_with_everybody_else(store):
    ann = [store.submit("ann", "train", "gpu", {"n": i}) for i in range(3)]
    time.sleep(0.01)
    bob = store.submit("bob", "train", "gpu", {})
    cat = store.submit("cat", "train", "gpu", {})
    predicted = store.queue_order("gpu")
    assert [store.position(job) for job in (ann[0], bob, cat, ann[1], ann[2])] == [1, 2, 3, 4, 5]
    claimed = []
    while (job := store.claim("gpu")) is not None:
        claimed.append(job.id)
        store.finish(job.id, "succeeded", {})
    assert claimed == predicted == [ann[0].id, bob.id, cat.id, ann[1].id, ann[2].id]


def test_a_user_with_a_running_job_waits_behind_users_with_none(store):
    first = store.submit("ann", "train", "gpu", {})
    store.claim("gpu")
    second = store.submit("ann", "train", "gpu", {})
    other = store.submit("bob", "train", "gpu", {})
    assert store.queue_order("gpu") == [other.id, second.id]
    assert store.claim("gpu").id == other.id and first.status == "queued"


def test_owners_have_a_limit_of_unfinished_jobs(tmp_path):
    store = JobStore(tmp_path / "jobs.sqlite3", max_unfinished_per_owner=2)
    store.submit("ann", "prepare", "cpu", {})
    store.submit("ann", "prepare", "cpu", {})
    running = store.claim("cpu")
    with pytest.raises(TooManyJobs, match="you have 2 unfinished jobs, the most this server allows"):
        store.submit("ann", "prepare", "cpu", {})
    store.submit("bob", "prepare", "cpu", {})  # the limit is per owner
    store.finish(running.id, "succeeded", {})
    store.submit("ann", "prepare", "cpu", {})


def test_cancel_a_queued_job_at_once_a_running_one_by_request_and_never_anothers(store):
    queued = store.submit("ann", "generate", "gpu", {})
    assert store.cancel(queued.id).status == "cancelled" and store.claim("gpu") is None
    running = store.submit("ann", "train", "gpu", {})
    store.claim("gpu")
    with pytest.raises(JobError, match="no job"):
        store.cancel(running.id, owner="bob")
    assert not store.get(running.id).cancel_requested
    asked = store.cancel(running.id, owner="ann")
    assert asked.status == "running" and asked.cancel_requested and store.beat(running.id)
    with pytest.raises(JobError, match="no job 'nope'"):
        store.get("nope")


def test_a_job_whose_process_died_is_interrupted_then_run_again_and_fails_after_max_attempts(store):
    job = store.submit("ann", "train", "gpu", {})
    store.claim("gpu")
    store.report(job.id, 40, 100)
    assert store.recover() == []  # its heartbeat is fresh
    now = time.time() + STALE_SECONDS + 1
    (recovered,) = store.recover(now=now)
    assert (recovered.status, recovered.message) == ("interrupted", "interrupted at step 40; runs again")
    assert store.position(recovered) == 1
    assert not store.finish(job.id, "succeeded", {})  # the dead attempt's late word does not count
    for attempt in range(2, MAX_ATTEMPTS + 1):
        assert store.claim("gpu").attempts == attempt
        (recovered,) = store.recover(now=time.time() + STALE_SECONDS + 1)
    assert recovered.status == "failed" and f"died {MAX_ATTEMPTS} times" in recovered.error


def test_a_dead_process_on_this_machine_is_noticed_before_its_heartbeat_ages(store):
    job = store.submit("ann", "prepare", "cpu", {})
    store.claim("cpu")
    process = subprocess.Popen([sys.executable, "-c", "pass"])
    process.wait()
    store.started(job.id, process.pid)
    assert store.recover(alive=lambda pid: True) == []
    (recovered,) = store.recover(alive=lambda pid: pid != process.pid)
    assert recovered.status == "interrupted"
    assert store.cancel(job.id).status == "cancelled"  # an interrupted job waits, so it cancels at once
    cancelled = store.submit("ann", "prepare", "cpu", {})
    store.claim("cpu")
    store.cancel(cancelled.id)
    store.started(cancelled.id, process.pid)
    assert store.recover(alive=lambda pid: False)[0].status == "cancelled"  # it was asked to stop anyway


def claim_all(path: str, out) -> None:
    store = JobStore(path)
    mine = []
    while (job := store.claim("cpu", f"worker-{os.getpid()}")) is not None:
        mine.append(job.id)
    out.put(mine)


def test_claims_are_atomic_across_processes(tmp_path):
    store = JobStore(tmp_path / "jobs.sqlite3", max_unfinished_per_owner=100)
    submitted = {store.submit(f"user{i % 5}", "prepare", "cpu", {}).id for i in range(60)}
    context = multiprocessing.get_context("spawn")
    out = context.Queue()
    workers = [context.Process(target=claim_all, args=(str(store.path), out)) for _ in range(3)]
    for worker in workers:
        worker.start()
    claimed = [out.get(timeout=60) for _ in workers]
    for worker in workers:
        worker.join(timeout=60)
    every = [job for part in claimed for job in part]
    assert sorted(every) == sorted(submitted) and len(set(every)) == len(every)  # each exactly once


def test_a_dispatched_job_is_taken_once_and_a_stale_message_never_runs(store):
    """The broker's rule (``JobStore.take``): the message of the current dispatch runs once; a redelivery
    runs only after its holder stopped beating; a message of an earlier dispatch never runs."""
    from facechain.jobs.store import DISPATCHED

    job = store.submit("ann", "train", "gpu", {})
    store.claim("gpu", DISPATCHED, "first")
    assert store.waiting_dispatch("gpu") and store.recover(now=time.time() + 3600) == []  # waits in the broker
    assert not store.take(job.id, "other", "w1:1")
    assert store.take(job.id, "first", "w1:1") and not store.waiting_dispatch("gpu")
    assert not store.take(job.id, "first", "w2:2")  # redelivered while w1 still beats: dropped
    later = time.time() + store.stale_seconds + 1
    (interrupted,) = store.recover(now=later)
    assert interrupted.status == "interrupted" and interrupted.dispatch is None
    store.claim("gpu", DISPATCHED, "second")
    assert not store.take(job.id, "first", "w2:2")  # the old dispatch's message, delivered late
    assert store.take(job.id, "second", "w2:2") and store.get(job.id).attempts == 2


def test_turns_count_starts_of_the_same_slot_class_only(store):
    """Ann's photos being prepared (a cpu job) does not send her training behind Bob's later one."""
    old = store.submit("bob", "train", "gpu", {})
    store.claim("gpu")
    store.finish(old.id, "succeeded", {})
    ann_train = store.submit("ann", "train", "gpu", {})
    store.submit("bob", "train", "gpu", {})
    store.submit("ann", "prepare", "cpu", {})
    store.claim("cpu")  # Ann's most recent start, in the other class
    assert store.claim("gpu").id == ann_train.id  # Bob already had a turn in the gpu class
