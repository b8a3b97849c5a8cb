"""What the web server refuses before Gradio sees it, and who may log in.

Gradio 6.31's routes, as a probe of the app found them (2026-12-04/06):
- ``/gradio_api/deep_link?session_hash=X`` writes every input value of session X, the hidden workspace
  token included, to a file under the upload folder that anyone may fetch and nothing deletes, and
  ``/?deep_link=...`` serves it back. It cannot be switched off by a parameter: it is refused here.
- ``/gradio_api/upload`` takes up to 1000 files per request, of any total size, from any origin (the
  CORS layer only decides which response headers go out). Here a request is refused when it is larger
  than ``MAX_UPLOAD_REQUEST_BYTES`` (or does not say its size), or when a browser sends it from a page
  of another site (its ``Origin`` names another host than the one it talks to).
- Every route but a few is open when ``launch`` has no ``auth``; ``login`` below turns it on when the
  server listens beyond loopback.
"""

from __future__ import annotations

import logging
import os
import secrets
from urllib.parse import parse_qs, urlsplit

from ..errors import BadArguments

log = logging.getLogger(__name__)
MAX_UPLOAD_REQUEST_BYTES = 400_000_000
"""One upload request: the Photos tab's 40 files of at most 25 MB each would be 1 GB, but photos from a
phone are 2-6 MB, so 40 of them fit in 240 MB; motion files are at most 50 MB."""
LOOPBACK = ("127.0.0.1", "localhost", "::1")


class RequestGuard:
    """ASGI middleware: no deep links; bounded, same-origin uploads."""

    def __init__(self, app):
        self.app = app

    async def __call__(self, scope, receive, send):
        if scope["type"] == "http":
            refusal = self.refusal(scope)
            if refusal is not None:
                status, text = refusal
                await send(
                    {"type": "http.response.start", "status": status, "headers": [(b"content-type", b"text/plain")]}
                )
                await send({"type": "http.response.body", "body": text.encode()})
                return
        await self.app(scope, receive, send)

    @staticmethod
    def refusal(scope) -> tuple[int, str] | None:
        path = scope.get("path", "")
        if path.endswith("/gradio_api/deep_link") or "deep_link" in parse_qs(scope.get("query_string", b"").decode()):
            return 404, "deep links are off on this server"
        if scope.get("method") == "POST" and path.endswith("/gradio_api/upload"):
            headers = {key.decode().lower(): value.decode() for key, value in scope.get("headers", [])}
            origin = headers.get("origin")
            if origin and origin != "null" and urlsplit(origin).netloc != headers.get("host"):
                return 403, "uploads come only from this app's own pages"
            length = headers.get("content-length")
            if length is None or not length.isdigit() or int(length) > MAX_UPLOAD_REQUEST_BYTES:
                return 413, f"an upload request may carry at most {MAX_UPLOAD_REQUEST_BYTES // 1_000_000} MB"
        return None


def credentials(text: str) -> list[tuple[str, str]]:
    """``"ann:secret,bob:other"`` -> [("ann", "secret"), ("bob", "other")]."""
    pairs = []
    for part in filter(None, (p.strip() for p in text.split(","))):
        user, _, password = part.partition(":")
        if not user or not password:
            raise BadArguments("FACECHAIN_AUTH: write user:password pairs separated by commas, e.g. ann:long-secret")
        pairs.append((user, password))
    return pairs


def oauth_enabled() -> bool:
    """Hugging Face login: on a Space whose README sets ``hf_oauth: true``, Spaces provides the OAuth client
    (``OAUTH_CLIENT_ID``) and Gradio's LoginButton signs users in with their account."""
    return os.environ.get("SYSTEM") == "spaces" and bool(os.environ.get("OAUTH_CLIENT_ID"))


def login(host: str, no_auth: bool = False) -> list[tuple[str, str]] | None:
    """Who may use the app: ``FACECHAIN_AUTH`` when set; else, beyond loopback, one user "facechain"
    with a random password printed once to the server's console (Gradio's login page asks for it);
    None (open) on loopback, on a Space with Hugging Face login (accounts sign in there; visitors who do
    not get anonymous workspaces), or with ``no_auth`` (behind a proxy that authenticates)."""
    configured = os.environ.get("FACECHAIN_AUTH", "")
    if configured and not no_auth:
        return credentials(configured)
    if no_auth or host in LOOPBACK or oauth_enabled():
        return None
    password = secrets.token_urlsafe(12)
    print(
        f"The app listens on {host}, beyond this machine, so it asks for a login: user facechain, password "
        f"{password} (set your own with FACECHAIN_AUTH=user:password; --no-auth only behind an "
        "authenticating proxy)",
        flush=True,
    )
    return [("facechain", password)]


__all__ = ["MAX_UPLOAD_REQUEST_BYTES", "RequestGuard", "credentials", "login", "oauth_enabled"]
