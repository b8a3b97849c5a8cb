"""The Gradio app: one module per tab, registered in ``TABS``; each tab is a thin layer over the
Python API. A user's files live in their workspace (``facechain.workspace``), reached only with its
token, which the browser keeps (``gr.BrowserState``) and every handler receives as an input; long work
(prepare, train, generate) runs as jobs (``facechain.jobs``) in worker processes, so it survives a
closed page and a server restart."""

from __future__ import annotations

import logging
from dataclasses import dataclass
from pathlib import Path

import gradio as gr

from .. import quiet
from ..config import Settings
from ..jobs.broker import BrokerDispatcher
from ..jobs.store import JobStore
from ..jobs.supervisor import EmbeddedWorkers, parse_slots
from ..workspace import Workspace, WorkspaceError, WorkspaceStore, safe_name
from . import face_map, generate, lab, motion, photos, training, workspace_tab
from .guard import oauth_enabled

TABS = (photos, training, generate, face_map, motion, lab, workspace_tab)
"""Adding a tab: a module with ``TITLE`` and ``build(context, token)``, listed here."""
STORAGE_KEY = "facechain-workspace"
log = logging.getLogger(__name__)


@dataclass
class AppContext:
    """What every tab shares: settings, the workspaces and the job queue under ``runs_root``."""

    settings: Settings
    runs_root: Path
    workspaces: WorkspaceStore
    jobs: JobStore
    workers: EmbeddedWorkers | BrokerDispatcher | None = None

    @classmethod
    def create(cls, settings: Settings, runs_root: Path) -> AppContext:
        """The stores under ``runs_root``, with the operator's limits from ``settings``."""
        runs_root = Path(runs_root)
        workspaces = WorkspaceStore(runs_root, settings.workspace_max_mb * 1_000_000, settings.workspace_max_age_days)
        return cls(settings, runs_root, workspaces, JobStore(runs_root / "jobs.sqlite3", settings.max_jobs))

    def workspace(self, token: str) -> Workspace:
        """The workspace of ``token`` (the browser's hidden input); a clear error for any other value.
        The Gradio session hash plays no part."""
        return self.workspaces.open(token)

    def start_workers(self, slots: dict[str, int] | None = None) -> EmbeddedWorkers | BrokerDispatcher:
        """The app's own worker processes, or, with a broker in the settings, its dispatcher to Celery workers."""
        if self.settings.broker:
            self.workers = BrokerDispatcher(self.runs_root, self.settings.broker, workspaces=self.workspaces)
        else:
            self.workers = EmbeddedWorkers(self.runs_root, self.settings, slots, workspaces=self.workspaces)
        self.workers.start()
        return self.workers


def restore_workspace(context: AppContext, stored: str | None, account: str | None = None) -> tuple[str, str]:
    """On page load: the logged-in account's workspace; else the browser's stored token if it still names
    an anonymous workspace (an account's token is not kept after logging out); else a new workspace.
    Returns (token for the handlers, token to store in the browser)."""
    if account:
        token, _ = context.workspaces.for_account(account)
        return token, token
    if stored:
        try:
            if context.workspace(stored).anonymous or not oauth_enabled():
                return stored, stored
        except WorkspaceError:  # expired or deleted: a fresh workspace
            log.info("a browser's stored workspace is gone; it gets a new one")
    token, _ = context.workspaces.create()
    return token, token


def build_app(
    settings: Settings | None = None,
    runs_root: str | Path = "runs",
    workers: bool = True,
    context: AppContext | None = None,
) -> gr.Blocks:
    """The app. With ``workers``, its embedded job workers start too (``app.context.workers``; stop them
    with ``app.context.workers.stop()`` when the app is closed outside ``serve``)."""
    quiet.install()
    context = context or AppContext.create(settings or Settings.from_env(), Path(runs_root))
    with gr.Blocks(title="FaceChain Studio", delete_cache=(3600, 86400)) as app:
        gr.Markdown(
            "# FaceChain Studio\nPersonalized portraits from a few photos of yourself, motion "
            "prediction, and a lab of recognition methods."
        )
        # the browser's copy of the token. Key and "secret" are fixed so a restarted server still reads what
        # browsers stored (Gradio makes random ones per process otherwise); Gradio sends the secret to the
        # page, so it hides nothing: the token is as safe as the browser's storage for this site.
        stored = gr.BrowserState("", storage_key=STORAGE_KEY, secret=STORAGE_KEY)
        token = gr.Textbox(visible=False, label="workspace")
        if oauth_enabled():
            gr.LoginButton()

            def load(stored_token, profile: gr.OAuthProfile | None):
                return restore_workspace(context, stored_token, profile.username if profile else None)

        else:

            def load(stored_token):
                return restore_workspace(context, stored_token)

        for tab in TABS:
            with gr.Tab(tab.TITLE):
                tab.build(context, token)

        app.load(load, stored, [token, stored], api_name="workspace")
        token.change(
            lambda value: value, token, stored, api_visibility="undocumented"
        )  # start over / switch: remembered
    if workers:
        context.start_workers(parse_slots(context.settings.job_slots))
    app.context = context
    return app


def launch(app: gr.Blocks, host: str | None = None, port: int | None = None, auth=None, block: bool = True):
    """Serve ``app`` behind the request guard (``guard.RequestGuard``: no deep links, bounded same-origin
    uploads), with no run history in the browser (it would keep the workspace token) and uploads up to
    25 MB a file. Returns Gradio's (server app, local URL, share URL) when not ``block``."""
    from starlette.middleware import Middleware

    from .guard import RequestGuard

    launched = app.queue(default_concurrency_limit=8).launch(
        server_name=host,
        server_port=port,
        max_file_size="25mb",
        auth=auth,
        run_history=False,
        prevent_thread_lock=True,
        quiet=not block,
        app_kwargs={"middleware": [Middleware(RequestGuard)]},
    )
    if block:
        app.block_thread()
    return launched


def serve(host: str | None = None, port: int | None = None, runs_root: str | Path = "runs", no_auth: bool = False):
    """Build the app with its job workers and serve it until interrupted.

    Args:
        host: address to listen on; None: GRADIO_SERVER_NAME, else 127.0.0.1.
        port: port; None: GRADIO_SERVER_PORT, else 7860.
        runs_root: folder of the workspaces and the job queue.
        no_auth: serve beyond loopback without a login (only behind a proxy that authenticates; also
            FACECHAIN_NO_AUTH=1). Otherwise FACECHAIN_AUTH's users, or a printed random password.
    """
    import os

    from .guard import login

    host = host or os.environ.get("GRADIO_SERVER_NAME") or "127.0.0.1"
    auth = login(host, no_auth or os.environ.get("FACECHAIN_NO_AUTH") == "1")
    app = build_app(runs_root=runs_root)
    try:
        launch(app, host, port, auth)
    finally:
        app.context.workers.stop()


__all__ = ["AppContext", "TABS", "build_app", "launch", "restore_workspace", "safe_name", "serve"]
