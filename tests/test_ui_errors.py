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


def test_a_bug_in_a_training_job_is_logged_with_its_traceback(tmp_path, monkeypatch, caplog):
    import facechain.portrait.training.trainer as trainer
    from facechain.config import Settings
    from facechain.portrait.training.config import TrainConfig
    from facechain.ui.jobs import TrainingJob

    def broken(*args, **kwargs):
        raise KeyError("steps")

    monkeypatch.setattr(trainer, "train", broken)
    with caplog.at_level(logging.ERROR, logger="facechain.ui"):
        job = TrainingJob(TrainConfig(dataset=tmp_path, out=tmp_path / "m", tiny=True), Settings(home=tmp_path)).start()
        job.thread.join(timeout=30)
    assert job.error.startswith(BUG_MESSAGE) and "KeyError" in job.error
    assert [record.exc_info[0] for record in caplog.records] == [KeyError]
