"""App handlers: a user error is shown as its message with no server traceback; a bug is logged once
with its traceback and shown as a message that says it is one (never Gradio's empty "Error")."""

from __future__ import annotations

import logging

import gradio as gr
import pytest

from facechain.errors import BadArguments
from facechain.portrait.generation.request import GenerationRequest
from facechain.ui.errors import BUG_MESSAGE, user_errors


def test_user_error_is_its_message_without_a_traceback(caplog):
    @user_errors
    def handler(seed):
        return GenerationRequest(model="m", seed=seed)

    with caplog.at_level(logging.DEBUG), pytest.raises(gr.Error) as shown:
        handler(2**70)
    assert "seed must be between 0 and 4294967295" in shown.value.message
    assert shown.value.print_exception is False and not caplog.records


def test_a_bug_is_logged_with_its_traceback_and_said_to_be_one(caplog):
    @user_errors
    def handler():
        return 1 / 0

    with caplog.at_level(logging.ERROR, logger="facechain.ui"), pytest.raises(gr.Error) as shown:
        handler()
    assert shown.value.message == BUG_MESSAGE and shown.value.print_exception is False
    assert len(caplog.records) == 1 and caplog.records[0].exc_info[0] is ZeroDivisionError


def test_generators_and_gradio_signatures_are_kept():
    @user_errors
    def stream(name, request: gr.Request, progress=gr.Progress()):
        yield "started"
        raise BadArguments(f"no model named {name!r}")

    import inspect

    assert list(inspect.signature(stream).parameters) == ["name", "request", "progress"]  # what Gradio reads
    events = stream("x", None)
    assert next(events) == "started"
    with pytest.raises(gr.Error, match="no model named 'x'"):
        next(events)
    own = gr.Error("Prepare your photos first (Photos tab).")

    @user_errors
    def tab_error():
        raise own

    with pytest.raises(gr.Error) as shown:
        tab_error()
    assert shown.value is own and own.print_exception is False


def test_a_bug_in_a_job_is_recorded_as_one_with_its_traceback_in_the_log(tmp_path, monkeypatch, caplog):
    """A job whose code fails (not the user's input) ends "failed" with a message saying it is a bug,
    and its traceback goes to the job's log (the runner's logger), never a silent dead worker."""
    from facechain.config import Settings
    from facechain.jobs import portrait
    from facechain.jobs.runner import BUG, run_job
    from facechain.jobs.store import JobStore
    from facechain.workspace import WorkspaceStore

    def broken(params, workspace, settings, progress):
        progress(1, 3)
        raise KeyError("steps")

    monkeypatch.setattr(portrait, "run_train", broken)  # the kind's function, looked up by name when it runs
    _, workspace = WorkspaceStore(tmp_path).create()
    store = JobStore(tmp_path / "jobs.sqlite3")
    job = store.submit(workspace.id, "train", "gpu", {"name": "m"})
    store.claim("gpu")
    with caplog.at_level(logging.ERROR, logger="facechain.jobs.runner"):
        assert run_job(tmp_path, job.id, Settings(home=tmp_path)) == 1
    ended = store.get(job.id)
    assert (ended.status, ended.error, ended.step, ended.total) == ("failed", BUG, 1, 3)
    assert [record.exc_info[0] for record in caplog.records] == [KeyError]
