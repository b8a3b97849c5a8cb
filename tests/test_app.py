"""The app's Photos tab: through its handler, and through the real server on loopback."""

from __future__ import annotations

import json
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
    gallery, table, summary, report = prepare_uploads(uploads, "sks", "", 20, context,
                                                      SimpleNamespace(session_hash="abc/../../x"), no_progress)
    assert len(gallery) == 2 and "Kept **2** of 3" in summary and "sks, a woman" in summary
    assert Path(report).parent == tmp_path / "sessions" / "abcx" / "dataset"
    assert {row[0]: row[1] for row in table}["11_cat.jpg"] == "rejected"
    other = prepare_uploads([example_files[10]], "sks", "", 20, context, SimpleNamespace(session_hash="other"), no_progress)
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
            [handle_file(str(example_files[0])), handle_file(str(example_files[4]))], "ohwx", "astronaut", 20,
            api_name="/handler")
        assert len(gallery) == 2 and "ohwx, an astronaut" in summary and "(detected: *a woman*)" in summary
        assert [row[1] for row in table["data"]] == ["kept", "kept"]
    finally:
        app.close()
