"""``facechain serve``: the web app, the same as ``python app.py`` (the Hugging Face Spaces entry point)."""

from __future__ import annotations

import argparse
import os
from pathlib import Path

from .common import add_command


def add_serve_command(commands) -> None:
    serve = add_command(
        commands,
        "serve",
        "serve the web app (Photos, Train, Generate, Map, Motion, Lab)",
        "Serve the FaceChain Studio web app in the browser, the same app as `python app.py`. Each browser "
        "gets a workspace under --runs, kept across reloads by a token the browser stores; prepare, train "
        "and generate run as jobs in worker processes (FACECHAIN_SLOTS). Beyond loopback the app asks for a "
        "login: FACECHAIN_AUTH=user:password, else a random password printed at start.",
    )
    serve.add_argument("--host", help="address to listen on (default: GRADIO_SERVER_NAME, else 127.0.0.1)")
    serve.add_argument("--port", type=int, help="port (default: GRADIO_SERVER_PORT, else 7860)")
    serve.add_argument(
        "--runs",
        type=Path,
        default=Path(os.environ.get("FACECHAIN_RUNS", "runs")),
        help="folder of the workspaces and the job queue (default: FACECHAIN_RUNS, else ./runs)",
    )
    serve.add_argument(
        "--no-auth",
        action="store_true",
        help="no login even beyond loopback (only behind a proxy that authenticates; also FACECHAIN_NO_AUTH=1)",
    )
    serve.set_defaults(run=run_serve)


def run_serve(args: argparse.Namespace) -> int:
    from ..errors import EnvironmentProblem
    from ..validation import check_between

    check_between("--port", args.port, 1, 65535)
    from ..ui import serve  # gradio: after the arguments are checked

    try:
        serve(host=args.host, port=args.port, runs_root=args.runs, no_auth=args.no_auth)
    except OSError as error:  # the address is taken or cannot be bound
        where = f"{args.host or 'the default host'}:{args.port or 'the default port'}"
        raise EnvironmentProblem(f"cannot listen on {where} ({error}); choose another --port or --host") from None
    return 0
