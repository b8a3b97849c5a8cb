"""The app: workspaces reached by their token, tabs that run their work as jobs, and the server's guard,
through the handlers and through the real server on loopback (gradio_client)."""

from __future__ import annotations

import json
import os
import socket
import time
from contextlib import contextmanager
from pathlib import Path

import pytest
from PIL import Image

from facechain.config import Settings
from facechain.examples import write_example_photos
from facechain.ui import AppContext, build_app, launch


@pytest.fixture(scope="module")
def example_files(tmp_path_factory):
    return write_example_photos(tmp_path_factory.mktemp("uploads"))


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


@contextmanager
def served(settings: Settings, runs: Path, workers: bool = True):
    """The app on a free loopback port with its job workers; yields its URL."""
    app = build_app(settings, runs, workers=workers)
    port = free_port()
    launch(app, "127.0.0.1", port, block=False)
    try:
        yield f"http://127.0.0.1:{port}/"
    finally:
        app.close()
        if app.context.workers is not None:
            app.context.workers.stop()


@contextmanager
def working_context(settings: Settings, runs: Path):
    """An app context with its job workers running (the handlers queue jobs and follow them)."""
    context = AppContext.create(settings, runs)
    context.start_workers()
    try:
        yield context
    finally:
        context.workers.stop()


def collect(updates):
    """The last update of a handler that yields while its job runs."""
    *_, last = updates
    return last


def test_prepare_runs_as_a_job_in_the_workspace_and_reconnecting_shows_it(tmp_path, example_files, analyzer):
    from gradio_client import Client, handle_file

    with served(Settings(face_backend="dlib"), tmp_path) as url:
        client = Client(url, verbose=False)
        token, stored = client.predict("", api_name="/workspace")
        assert token == stored and len(token) >= 32  # 24 random bytes: 192 bits
        uploads = [handle_file(str(example_files[i])) for i in (0, 4, 10)]  # portrait, soft, cat
        gallery, table, summary, report = client.predict(uploads, "ohwx", "astronaut", 20, token, api_name="/prepare")
        assert len(gallery) == 3 and "Kept **2** of 3" in summary and "ohwx, an astronaut" in summary
        assert "(detected: *a woman*)" in summary
        assert {row[0]: row[1] for row in table["data"]}["11_cat.jpg"] == "rejected"

        again = Client(url, verbose=False)  # a reload: a new session, the browser's stored token
        assert again.predict(token, api_name="/workspace")[0] == token
        gallery, table, summary, _ = again.predict(token, api_name="/photos")
        assert "Kept **2** of 3" in summary and [row[1] for row in table["data"]].count("kept") == 2
        _, usage, contents, *_ = again.predict(token, api_name="/contents")
        assert sorted(row[0] for row in contents["data"]) == ["datasets", "photos"] and "MB" in usage

        stranger = Client(url, verbose=False)
        other, _ = stranger.predict("", api_name="/workspace")
        assert other != token and stranger.predict(other, api_name="/photos")[2] == ""
        for forged in ("", "x" * 32, token[:-1], "../" * 12):
            with pytest.raises(Exception, match="workspace token|no workspace has this token"):
                stranger.predict(forged, api_name="/photos")
        assert stranger.predict(forged, api_name="/workspace")[0] not in (forged, token)  # a new one, never theirs


def test_one_workspace_cannot_reach_another_by_any_endpoint(tmp_path, example_files, analyzer):
    """B holds its own token and knows A's names and job ids: B can list, read, change, delete or cancel
    nothing of A's; the file route serves no workspace path and deep links are off."""
    import httpx
    from gradio_client import Client, handle_file

    with served(Settings(face_backend="dlib", home=tmp_path / "home"), tmp_path / "runs") as url:
        a, b = Client(url, verbose=False), Client(url, verbose=False)
        token_a, _ = a.predict("", api_name="/workspace")
        token_b, _ = b.predict("", api_name="/workspace")
        a.predict(
            [handle_file(str(example_files[0])), handle_file(str(example_files[1]))],
            "sks",
            "",
            20,
            token_a,
            api_name="/prepare",
        )
        _, _, contents, _, jobs, _ = a.predict(token_a, api_name="/contents")
        dataset = next(row[1] for row in contents["data"] if row[0] == "datasets")
        job_a = jobs["data"][0][0]

        with pytest.raises(Exception, match="Prepare your photos first"):
            b.predict(dataset, "x", "Tiny offline demo model", 5, 0.0, token_b, api_name="/train")
        for item in (f"datasets/{dataset}", f"photos/{dataset}", f"datasets/../../{dataset}"):
            with pytest.raises(Exception, match="there is no"):
                b.predict(token_b, item, api_name="/delete_item")
        with pytest.raises(Exception, match="there is no model"):
            b.predict(token_b, "models/me", api_name="/download")
        with pytest.raises(Exception, match="no job"):
            b.predict(token_b, job_a, api_name="/cancel_job")
        with pytest.raises(Exception, match="No trained model named"):
            b.predict("../" + dataset, "natural", "", 1, 1, 0.9, 0.25, token_b, api_name="/generate")

        workspace_a = next((tmp_path / "runs" / "workspaces").iterdir(), None)
        assert token_a not in str(list((tmp_path / "runs").rglob("*")))  # only hashes name folders
        with httpx.Client() as http:
            for path in (
                f"{workspace_a}/datasets/{dataset}/report.json",
                "/etc/passwd",
                f"{tmp_path}/runs/jobs.sqlite3",
            ):
                assert http.get(f"{url}gradio_api/file={path}").status_code == 403
            assert http.get(f"{url}gradio_api/deep_link", params={"session_hash": "x"}).status_code == 404
            upload = {"files": ("a.jpg", example_files[0].read_bytes(), "image/jpeg")}
            assert (
                http.post(
                    f"{url}gradio_api/upload", files=upload, headers={"Origin": "https://evil.example"}
                ).status_code
                == 403
            )
        assert a.predict(token_a, api_name="/photos")[2].startswith("Kept **2** of 2")  # A's work is intact


@pytest.mark.slow
def test_upload_train_generate_through_the_server(tmp_path, example_files, analyzer):
    """The whole workflow as an API user sees it: prepare -> train (tiny, a few steps) -> generate, each a
    job; then the workspace panel lists it all and a model downloads as a zip."""
    import zipfile

    from gradio_client import Client, handle_file

    from facechain.ui.generate import NO_CONTROLNET, NO_TEMPLATE
    from facechain.ui.training import TINY_CHOICE

    with served(Settings(face_backend="dlib", home=tmp_path / "home"), tmp_path / "runs") as url:
        client = Client(url, verbose=False)
        token, _ = client.predict("", api_name="/workspace")
        client.predict(
            [handle_file(str(example_files[i])) for i in (0, 1, 4)], "sks", "", 20, token, api_name="/prepare"
        )
        status, plot, models = client.predict(None, "my twin!", TINY_CHOICE, 6, 0.4, token, api_name="/train")
        assert "**Done:** my-twin, 6 steps" in status and "TINY" in status
        assert [row[:3] for row in models["data"]] == [["my-twin", "SD 1.x", 6]]
        assert [point[0] for point in plot["data"]] == [1, 2, 3, 4, 5, 6]  # one loss point per step
        assert client.predict(token, api_name="/models")["value"] == "my-twin"
        gallery, summary, results = client.predict(
            "my-twin", "anime", "smiling", 2, 3, 0.9, 0.25, token, api_name="/generate"
        )
        assert len(gallery) == 2 and "anime style illustration" in summary and "No portrait passed" in summary
        assert sorted(item["caption"].split(" · ")[1] for item in gallery) == ["seed 3", "seed 4"]
        assert [p["flag"] for p in json.loads(Path(results).read_text())["portraits"]] == ["no face found"] * 2
        structure = (
            True,
            0,
            "subject",
            NO_TEMPLATE,
            handle_file(str(example_files[0])),
            NO_CONTROLNET,
            "canny",
            1,
            None,
        )
        gallery, _, results = client.predict(
            "my-twin", "natural", "", 1, 5, 0.9, 0.25, token, 0, *structure, api_name="/generate"
        )
        portrait = json.loads(Path(results).read_text())["portraits"][0]
        assert portrait["faces"][0]["refined"] and "1 face refined" in gallery[0]["caption"]
        assert Image.open(gallery[0]["image"]).size == Image.open(example_files[0]).size  # the template's
        _, _, contents, _, jobs, _ = client.predict(token, api_name="/contents")
        assert sorted(row[0] for row in contents["data"]) == [
            "datasets",
            "models",
            "outputs",
            "outputs",
            "photos",
            "templates",
        ]
        archive = client.predict(token, "models/my-twin", api_name="/download")
        with zipfile.ZipFile(archive) as opened:
            names = set(opened.namelist())
        assert {"my-twin/pytorch_lora_weights.safetensors", "my-twin/README.md", "my-twin/training.json"} <= names
        assert not any("checkpoint" in name for name in names)


def test_training_job_can_be_cancelled_only_by_its_workspace(tmp_path, example_files, analyzer):
    from facechain.ui.generate import generate_portraits
    from facechain.ui.jobs import submit
    from facechain.ui.photos import prepare_uploads
    from facechain.ui.training import TINY_CHOICE, cancel_training, training_params, training_updates

    with working_context(Settings(face_backend="dlib", home=tmp_path / "home"), tmp_path) as context:
        me, mine = context.workspaces.create()
        other, theirs = context.workspaces.create()
        collect(prepare_uploads([example_files[0], example_files[1]], "sks", "", 20, context, me))
        params = training_params(context, mine, None, "../../escape", TINY_CHOICE, 2000, 0.0)
        assert params["name"] == "escape" and params["dataset"] == mine.items("datasets")[0].name
        updates = training_updates(context, mine, submit(context, mine, "train", params))
        status = next(updates)[0]
        while "step" not in status:
            status = next(updates)[0]
        assert cancel_training(context, theirs) == "Nothing is training."
        assert "Stopping" in cancel_training(context, mine)
        final = collect(updates)[0]
        assert final.startswith("**Stopped:** cancelled at") and "resume" in final
        with pytest.raises(Exception, match="Prepare your photos first"):
            training_params(context, theirs, None, "x", TINY_CHOICE, 5, 0.0)
        with pytest.raises(Exception, match="No trained model named 'escape'"):
            collect(generate_portraits(context, other, "escape", "natural", "", 1, 1, 0.9, 0.25))


def radio_choices(app) -> list[str]:
    import gradio as gr

    radios = [block for block in app.blocks.values() if isinstance(block, gr.Radio) and block.label == "Train on"]
    return [value for value, _ in radios[0].choices]


def test_train_tab_offers_the_tiny_model_only_when_it_can_be_built(tmp_path, monkeypatch):
    from facechain.ui import training

    assert training.TINY_CHOICE in radio_choices(build_app(Settings(home=tmp_path), tmp_path / "runs", workers=False))
    monkeypatch.setattr(training, "tiny_model_problem", lambda: "its CLIP tokenizer cannot be built (OSError: gone)")
    app = build_app(Settings(home=tmp_path), tmp_path / "runs", workers=False)
    assert training.TINY_CHOICE not in radio_choices(app)
    notes = [
        block.value
        for block in app.blocks.values()
        if getattr(block, "value", None) and "tiny offline demo model is not offered" in str(block.value)
    ]
    assert notes and "OSError: gone" in notes[0]


@pytest.mark.slow  # two server starts: 11 s
def test_facechain_serve_serves_the_app_and_asks_for_a_login_beyond_loopback(tmp_path):
    """`facechain serve` (like `python app.py`) answers on the asked port with the app's page; listening
    on all interfaces, it asks for a login whose password it prints once."""
    import subprocess
    import sys
    import urllib.error
    import urllib.request

    def start(*options):
        port = free_port()
        server = subprocess.Popen(
            [
                sys.executable,
                "-m",
                "facechain.cli",
                "serve",
                "--port",
                str(port),
                "--runs",
                str(tmp_path / "runs"),
                *options,
            ],
            stdout=subprocess.PIPE,
            stderr=subprocess.DEVNULL,
            text=True,
            env={**os.environ, "GRADIO_ANALYTICS_ENABLED": "False", "FACECHAIN_HOME": str(tmp_path / "home")},
        )
        return server, port

    def fetch(port, path="/"):
        deadline = time.monotonic() + 90
        while time.monotonic() < deadline:
            try:
                with urllib.request.urlopen(f"http://127.0.0.1:{port}{path}", timeout=5) as response:
                    return response.status, response.read().decode()
            except urllib.error.HTTPError as error:
                return error.code, ""
            except OSError:
                time.sleep(0.5)
        return None, ""

    server, port = start()
    try:
        status, page = fetch(port)
        assert status == 200 and "FaceChain Studio" in page
    finally:
        server.terminate()
        server.wait(timeout=30)
    server, port = start("--host", "0.0.0.0")
    try:
        assert fetch(port, "/gradio_api/info")[0] == 401
        server.terminate()
        output = server.communicate(timeout=30)[0]
        assert "user facechain, password " in output
    finally:
        server.kill()
        server.wait(timeout=30)


def test_app_users_choose_among_the_operators_base_models(tmp_path, example_files, analyzer, monkeypatch):
    """No typed model or path reaches the server: a model outside the operator's list is refused without
    saying whether it exists, and the list comes from FACECHAIN_APP_BASE_MODELS."""
    from facechain.ui import training

    monkeypatch.setenv("FACECHAIN_APP_BASE_MODELS", " someone/sdxl-like , /srv/models/realistic ,")
    settings = Settings.from_env()
    assert settings.offered_base_models == ("someone/sdxl-like", "/srv/models/realistic")
    assert Settings(base_model="mine/sd15").offered_base_models == ("mine/sd15",)
    context = AppContext.create(
        Settings(face_backend="dlib", home=tmp_path / "home", app_base_models=("a/b",)), tmp_path
    )
    _, workspace = context.workspaces.create()
    (workspace.item("datasets", "set") / "metadata.jsonl").parent.mkdir(parents=True)
    assert training.training_params(context, workspace, "set", "m", "a/b", 5, 0.0)["base_model"] == "a/b"
    assert "face_loss_weight" not in training.training_params(context, workspace, "set", "m", "a/b", 5, 0.0, 0)
    assert training.training_params(context, workspace, "set", "m", "a/b", 5, 0.0, 4)["face_loss_weight"] == 4.0
    with pytest.raises(Exception, match="face loss weight is 0 .off. or between 1 and 100"):
        training.training_params(context, workspace, "set", "m", "a/b", 5, 0.0, 0.5)
    for probe in ("/root/.ssh", str(tmp_path), "someone/other-model", "../../etc"):
        with pytest.raises(Exception, match="Choose one of the base models this app offers") as refused:
            training.training_params(context, workspace, "set", "m", probe, 5, 0.0)
        assert probe not in str(refused.value)
    app = build_app(Settings(home=tmp_path, app_base_models=("a/b", "c/d")), tmp_path / "runs", workers=False)
    assert radio_choices(app) == ["a/b", "c/d", *training.TINY_CHOICES]


def test_app_users_choose_among_the_operators_controlnets_and_templates(tmp_path, monkeypatch):
    from facechain.ui.generate import NO_CONTROLNET, NO_TEMPLATE, structure_params

    monkeypatch.setenv("FACECHAIN_APP_CONTROLNETS", "lllyasviel/control_v11p_sd15_canny, /srv/cn/pose")
    assert Settings.from_env().app_controlnets == ("lllyasviel/control_v11p_sd15_canny", "/srv/cn/pose")
    context = AppContext.create(Settings(home=tmp_path / "home", app_controlnets=("/srv/cn/pose",)), tmp_path)
    assert structure_params(context, NO_TEMPLATE, None, NO_CONTROLNET, None) == {}
    assert structure_params(context, "astronaut", None, "/srv/cn/pose", None) == {
        "template": "astronaut",
        "controlnet": "/srv/cn/pose",
    }
    refusals = {
        ("../../etc/passwd", None, NO_CONTROLNET, None): "No template is called",
        ("astronaut", "me.jpg", NO_CONTROLNET, None): "not both",
        (NO_TEMPLATE, None, "/root/other", "pose.jpg"): "offers no ControlNet called",
        (NO_TEMPLATE, None, "/srv/cn/pose", None): "needs a template or a control photo",
        (NO_TEMPLATE, None, NO_CONTROLNET, "pose.jpg"): "steers a ControlNet",
    }
    for choices, message in refusals.items():
        with pytest.raises(Exception, match=message):
            structure_params(context, *choices)


def test_the_app_names_each_models_family_and_offers_a_tiny_model_of_each(tmp_path):
    from facechain.diffusion.tiny import ensure_tiny_model
    from facechain.portrait.model_folder import write_training_record
    from facechain.ui import generate, training

    settings = Settings(home=tmp_path / "home")
    with working_context(settings, tmp_path) as context:
        _, workspace = context.workspaces.create()
        (workspace.section("datasets") / "set").mkdir(parents=True)
        params = training.training_params(context, workspace, "set", "m", "Tiny offline demo model (FLUX.1)", 5, 0.0)
        assert params["tiny"] == "flux1" and params["base_model"] is None
        for name, family in (("old", None), ("xl", "sdxl"), ("flux", "flux1")):
            folder = workspace.item("models", name)
            folder.mkdir(parents=True)
            write_training_record(folder, {"steps": 3, "tiny": True, **({"family": family} if family else {})})
        assert sorted(row[:2] for row in training.models_table(workspace)) == [
            ["flux", "FLUX.1"],
            ["old", "SD 1.x"],
            ["xl", "SDXL"],
        ]
        assert sorted(generate.model_choices(workspace)) == [
            ("flux (FLUX.1)", "flux"),
            ("old (SD 1.x)", "old"),
            ("xl (SDXL)", "xl"),
        ]
    here = ensure_tiny_model(tmp_path / "xl-folder", "sdxl")
    status = training.base_model_status({"me/xl": here, "me/elsewhere": None})
    assert "**me/xl** (SDXL), **me/elsewhere**." in status and "Not on this machine yet: me/elsewhere" in status
