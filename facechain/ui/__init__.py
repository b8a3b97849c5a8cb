"""The Gradio app: one module per tab, registered in ``TABS``; each tab is a thin layer over the
Python API and keeps a browser session's files in that session's own folder."""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path

import gradio as gr

from ..config import Settings
from . import photos

TABS = (photos,)
"""Adding a tab: a module with ``TITLE`` and ``build(context)``, listed here."""


@dataclass(frozen=True)
class AppContext:
    """What every tab shares: settings and the folder under which each session gets its own."""

    settings: Settings
    runs_root: Path

    def session_dir(self, request: gr.Request | None) -> Path:
        """This browser session's folder. Only the session hash (reduced to [A-Za-z0-9_-]) names it,
        so nothing a user types reaches the path."""
        session = re.sub(r"[^A-Za-z0-9_-]", "", getattr(request, "session_hash", None) or "") or "local"
        return self.runs_root / "sessions" / session


def build_app(settings: Settings | None = None, runs_root: str | Path = "runs") -> gr.Blocks:
    context = AppContext(settings or Settings.from_env(), Path(runs_root))
    with gr.Blocks(title="FaceChain Studio") as app:
        gr.Markdown("# FaceChain Studio\nPersonalized portraits from a few photos of yourself.")
        for tab in TABS:
            with gr.Tab(tab.TITLE):
                tab.build(context)
    return app
