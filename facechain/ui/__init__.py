"""The Gradio app: one module per tab, registered in ``TABS``; each tab is a thin layer over the
Python API and keeps a browser session's files in that session's own folder."""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from pathlib import Path

import gradio as gr

from .. import quiet
from ..config import Settings
from ..portrait.model_folder import trained_models
from . import face_map, generate, lab, motion, photos, training

TABS = (photos, training, generate, face_map, motion, lab)
"""Adding a tab: a module with ``TITLE`` and ``build(context)``, listed here."""


@dataclass(frozen=True)
class AppContext:
    """What every tab shares: settings and the folder under which each session gets its own."""

    settings: Settings
    runs_root: Path
    jobs: dict = field(default_factory=dict)  # session folder -> its TrainingJob

    def session_dir(self, request: gr.Request | None) -> Path:
        """This browser session's folder. Only the session hash (reduced to [A-Za-z0-9_-]) names it,
        so nothing a user types reaches the path."""
        session = re.sub(r"[^A-Za-z0-9_-]", "", getattr(request, "session_hash", None) or "") or "local"
        return self.runs_root / "sessions" / session

    def model_dir(self, request: gr.Request | None, name: str) -> Path:
        """The session's model folder for a user-given name (reduced to a safe file name)."""
        return self.session_dir(request) / "models" / safe_name(name)

    def session_models(self, request: gr.Request | None) -> list[dict]:
        """The session's trained models (finished runs), newest first."""
        found = trained_models(self.session_dir(request) / "models")
        return [
            {
                "name": path.name,
                "steps": info["steps"],
                "base_model": "tiny demo" if info.get("tiny") else info["base_model"],
            }
            for path, info in found
        ]


def safe_name(text: str) -> str:
    """A user's name for something as a file name: letters, digits, dash, underscore, at most 40."""
    name = re.sub(r"[^A-Za-z0-9_-]+", "-", (text or "").strip()).strip("-")[:40]
    return name or "model"


def build_app(settings: Settings | None = None, runs_root: str | Path = "runs") -> gr.Blocks:
    quiet.install()
    context = AppContext(settings or Settings.from_env(), Path(runs_root))
    with gr.Blocks(title="FaceChain Studio") as app:
        gr.Markdown(
            "# FaceChain Studio\nPersonalized portraits from a few photos of yourself, motion "
            "prediction, and a lab of recognition methods."
        )
        for tab in TABS:
            with gr.Tab(tab.TITLE):
                tab.build(context)
    return app


def serve(host: str | None = None, port: int | None = None, runs_root: str | Path = "runs") -> None:
    """Build the app and serve it until interrupted: one event of a kind at a time (training and
    generation use the whole machine), uploads up to 25 MB.

    Args:
        host: address to listen on; None: GRADIO_SERVER_NAME, else 127.0.0.1.
        port: port; None: GRADIO_SERVER_PORT, else 7860.
        runs_root: folder of the sessions' photos, models and outputs.
    """
    app = build_app(runs_root=runs_root).queue(default_concurrency_limit=1)
    app.launch(server_name=host, server_port=port, max_file_size="25mb")


__all__ = ["AppContext", "TABS", "build_app", "safe_name", "serve"]
