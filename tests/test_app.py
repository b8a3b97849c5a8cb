"""The app's Photos tab: through its handler, and through the real server on loopback."""

from __future__ import annotations

import json
import os
import socket
from pathlib import Path
from types import SimpleNamespace

import pytest

from facechain.config import Settings
from facechain.examples import write_example_photos
from facechain.ui import AppContext, build_app
from facechain.ui.photos import prepare_uploads


@pytest.fixture(scope="module")
def example_files(tmp_path_factory):
    return write_example_photos(tmp_path_factory.mktemp("uploads"))


def no_progress(*args, **kwargs):
    return None


def test_sessions_get_their_own_folders(tmp_path, example_files, analyzer):
    context = AppContext(Settings(face_backend="dlib"), tmp_path)
    uploads = [example_files[0], example_files[2], example_files[10]]  # portrait, mirrored, cat
    gallery, table, summary, report = prepare_uploads(
        uploads, "sks", "", 20, context, SimpleNamespace(session_hash="abc/../../x"), no_progress
    )
    assert [caption.split(" ·")[0] for _, caption in gallery] == ["kept 000", "kept 001", "rejected"]
    assert (
        gallery[2][1].endswith("11_cat.jpg: no face found")
        and "Kept **2** of 3" in summary
        and "sks, a woman" in summary
    )
    assert Path(report).parent == tmp_path / "sessions" / "abcx" / "dataset"
    assert {row[0]: row[1] for row in table}["11_cat.jpg"] == "rejected"
    other = prepare_uploads(
        [example_files[10]], "sks", "", 20, context, SimpleNamespace(session_hash="other"), no_progress
    )
    assert other[0] == [] and "No usable photo" in other[2] and "no face found" in other[2]
    assert json.loads(Path(report).read_text())["kept"] == 2  # the other session left this one alone


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def test_upload_and_prepare_through_the_server(tmp_path, example_files, analyzer):
    from gradio_client import Client, handle_file

    app = build_app(Settings(face_backend="dlib"), tmp_path)
    port = free_port()
    app.queue().launch(server_name="127.0.0.1", server_port=port, prevent_thread_lock=True, quiet=True)
    try:
        client = Client(f"http://127.0.0.1:{port}/", verbose=False)
        gallery, table, summary, report = client.predict(
            [handle_file(str(example_files[0])), handle_file(str(example_files[4]))],
            "ohwx",
            "astronaut",
            20,
            api_name="/prepare",
        )
        assert len(gallery) == 2 and "ohwx, an astronaut" in summary and "(detected: *a woman*)" in summary
        assert [row[1] for row in table["data"]] == ["kept", "kept"]
    finally:
        app.close()


@pytest.mark.slow
def test_upload_train_generate_through_the_server(tmp_path, example_files, analyzer):
    """The whole workflow as an API user sees it: prepare -> train (tiny, a few steps) -> generate."""
    from gradio_client import Client, handle_file

    from facechain.ui.training import TINY_CHOICE

    app = build_app(Settings(face_backend="dlib", home=tmp_path / "home"), tmp_path / "runs")
    port = free_port()
    app.queue().launch(server_name="127.0.0.1", server_port=port, prevent_thread_lock=True, quiet=True)
    try:
        client = Client(f"http://127.0.0.1:{port}/", verbose=False)
        client.predict([handle_file(str(example_files[i])) for i in (0, 1, 4)], "sks", "", 20, api_name="/prepare")
        status, plot, models = client.predict("my twin!", TINY_CHOICE, 6, 0.4, False, api_name="/train")
        assert "**Done:** my-twin, 6 steps" in status and "TINY" in status
        assert [row[:2] for row in models["data"]] == [["my-twin", 6]]
        assert [point[0] for point in plot["data"]] == [1, 2, 3, 4, 5, 6]  # one loss point per step
        choices = client.predict(api_name="/models")
        assert choices["value"] == "my-twin"
        gallery, summary, results = client.predict("my-twin", "anime", "smiling", 2, 3, 0.9, 0.25, api_name="/generate")
        assert len(gallery) == 2 and "anime style illustration" in summary and "No portrait passed" in summary
        assert sorted(item["caption"].split(" · ")[1] for item in gallery) == ["seed 3", "seed 4"]
        portraits = json.loads(Path(results).read_text())["portraits"]
        assert [p["flag"] for p in portraits] == ["no face found"] * 2
        sessions = list((tmp_path / "runs" / "sessions").iterdir())
        assert (
            len(sessions) == 1 and (sessions[0] / "models" / "my-twin" / "pytorch_lora_weights.safetensors").is_file()
        )
    finally:
        app.close()


def test_training_can_be_cancelled_and_sessions_stay_apart(tmp_path, example_files, analyzer):
    from facechain.ui.generate import generate_portraits
    from facechain.ui.training import TINY_CHOICE, cancel_training, run_training, training_config

    context = AppContext(Settings(face_backend="dlib", home=tmp_path / "home"), tmp_path)
    me, other = SimpleNamespace(session_hash="me"), SimpleNamespace(session_hash="other")
    prepare_uploads([example_files[0], example_files[1]], "sks", "", 20, context, me, no_progress)
    config = training_config(context, me, "../../escape", TINY_CHOICE, 2000, 0.0, False)
    assert config.out == tmp_path / "sessions" / "me" / "models" / "escape"
    updates = run_training(context, me, config)
    status = next(updates)[0]
    while "step 0/" in status or "?" in status:
        status = next(updates)[0]
    assert cancel_training(context, other) == "Nothing is training."
    assert "Stopping" in cancel_training(context, me)
    final = list(updates)[-1][0]
    assert final.startswith("**Stopped:** cancelled at step") and "Resume" in final
    with pytest.raises(Exception, match="Prepare your photos first"):
        training_config(context, other, "x", TINY_CHOICE, 5, 0.0, False)
    with pytest.raises(Exception, match="No trained model named 'escape'"):
        generate_portraits(context, other, "escape", "natural", "", 1, 1, 0.9, 0.25)


def radio_choices(app) -> list[str]:
    import gradio as gr

    radios = [block for block in app.blocks.values() if isinstance(block, gr.Radio) and block.label == "Train on"]
    return [value for value, _ in radios[0].choices]


def test_train_tab_offers_the_tiny_model_only_when_it_can_be_built(tmp_path, monkeypatch):
    from facechain.ui import training

    assert training.TINY_CHOICE in radio_choices(build_app(Settings(home=tmp_path), tmp_path / "runs"))
    monkeypatch.setattr(training, "tiny_model_problem", lambda: "its CLIP tokenizer cannot be built (OSError: gone)")
    app = build_app(Settings(home=tmp_path), tmp_path / "runs")
    assert training.TINY_CHOICE not in radio_choices(app)
    notes = [
        block.value
        for block in app.blocks.values()
        if getattr(block, "value", None) and "tiny offline demo model is not offered" in str(block.value)
    ]
    assert notes and "OSError: gone" in notes[0]


def test_facechain_serve_serves_the_app(tmp_path):
    """`facechain serve` (like `python app.py`) answers on the asked port with the app's page."""
    import subprocess
    import sys
    import time
    import urllib.request

    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    server = subprocess.Popen(
        [sys.executable, "-m", "facechain.cli", "serve", "--port", str(port), "--runs", str(tmp_path / "runs")],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        env={**os.environ, "GRADIO_ANALYTICS_ENABLED": "False", "FACECHAIN_HOME": str(tmp_path / "home")},
    )
    try:
        deadline, page = time.monotonic() + 90, None
        while page is None and time.monotonic() < deadline and server.poll() is None:
            try:
                with urllib.request.urlopen(f"http://127.0.0.1:{port}/", timeout=5) as response:
                    page = response.read().decode()
            except OSError:
                time.sleep(0.5)
        assert page is not None and "FaceChain Studio" in page
    finally:
        server.terminate()
        server.wait(timeout=30)


def test_app_users_choose_among_the_operators_base_models(tmp_path, example_files, analyzer, monkeypatch):
    """No typed model or path reaches the server: a model outside the operator's list is refused without
    saying whether it exists, and the list comes from FACECHAIN_APP_BASE_MODELS."""
    from facechain.ui import training

    monkeypatch.setenv("FACECHAIN_APP_BASE_MODELS", " someone/sdxl-like , /srv/models/realistic ,")
    settings = Settings.from_env()
    assert settings.offered_base_models == ("someone/sdxl-like", "/srv/models/realistic")
    assert Settings(base_model="mine/sd15").offered_base_models == ("mine/sd15",)
    context = AppContext(Settings(face_backend="dlib", home=tmp_path / "home", app_base_models=("a/b",)), tmp_path)
    me = SimpleNamespace(session_hash="me")
    prepare_uploads([example_files[0], example_files[1]], "sks", "", 20, context, me, no_progress)
    assert training.training_config(context, me, "m", "a/b", 5, 0.0, False).base_model == "a/b"
    for probe in ("/root/.ssh", str(tmp_path), "someone/other-model", "../../etc"):
        with pytest.raises(Exception, match="Choose one of the base models this app offers") as refused:
            training.training_config(context, me, "m", probe, 5, 0.0, False)
        assert probe not in str(refused.value)
    choices = radio_choices(build_app(Settings(home=tmp_path, app_base_models=("a/b", "c/d")), tmp_path / "runs"))
    assert choices == ["a/b", "c/d", training.TINY_CHOICE]
