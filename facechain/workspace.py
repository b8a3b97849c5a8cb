"""App workspaces: each app user's photos, training sets, models and portraits, in a folder only their
secret reaches.

Why: a Gradio session hash is chosen by the client and changes on every reload, so it can neither
keep a user's work nor protect it. A workspace is named by a server-issued token instead
(``secrets.token_urlsafe(24)``: 192 random bits, kept in the user's browser), or, on Spaces with Hugging
Face login, by a token the server derives from the account (``for_account``). On disk the folder is the
SHA-256 of the token, truncated to 128 bits, so listing the runs folder reveals no token; nothing a user
types ever becomes part of a path (names are reduced by ``safe_name``).

Layout of ``<runs>/workspaces/<id>/``::

    photos/<set>/        uploaded originals of one Prepare
    datasets/<set>/      the training set prepare made from them
    models/<name>/       trained models (``facechain.portrait.model_folder``)
    outputs/<name>/      generations (portraits + results.json); maps/, motion/, lab/ likewise
    .last-seen           touched on every visit; anonymous workspaces unseen for ``max_age`` are removed

The CLI and the Python API never use workspaces: they take plain folders.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import os
import re
import secrets
import shutil
import time
import zipfile
from dataclasses import dataclass
from pathlib import Path

from .atomic import staged_file
from .errors import BadArguments

TOKEN_BYTES = 24
TOKEN_PATTERN = re.compile(r"[A-Za-z0-9_-]{32,64}")
ID_HEX = 32  # 128 bits of the key's SHA-256 name the folder
SECTIONS = ("photos", "templates", "datasets", "models", "outputs", "maps", "motion", "lab")
MODEL_DOWNLOAD_FILES = (
    "pytorch_lora_weights.safetensors",
    "lora_kohya.safetensors",
    "README.md",
    "training.json",
    "validation.png",
    "loss_curve.png",
    "reference.png",
)
"""What a model's zip holds: the LoRA (diffusers and kohya layouts) and its model card with pictures; never
checkpoints or class images."""


class WorkspaceError(BadArguments):
    """A workspace that cannot be used as asked: unknown token, full, or a name that is not there."""


class UnknownWorkspace(WorkspaceError):
    """A token that names no workspace (mistyped, deleted, or removed after long disuse)."""


class QuotaExceeded(WorkspaceError):
    """The workspace would hold more than the operator allows."""


def safe_name(text: str, default: str = "model") -> str:
    """A user's name for something as a file name: letters, digits, dash, underscore, at most 40."""
    name = re.sub(r"[^A-Za-z0-9_-]+", "-", (text or "").strip()).strip("-")[:40]
    return name or default


def folder_bytes(path: Path) -> int:
    return sum(f.stat().st_size for f in path.rglob("*") if f.is_file() and not f.is_symlink()) if path.exists() else 0


@dataclass(frozen=True)
class Item:
    """One thing in a workspace, as the workspace panel lists it."""

    section: str
    name: str
    modified: float
    bytes: int


@dataclass(frozen=True)
class Workspace:
    id: str
    path: Path
    anonymous: bool

    def section(self, section: str) -> Path:
        if section not in SECTIONS:
            raise WorkspaceError(f"no section '{section}' in a workspace; there are {', '.join(SECTIONS)}")
        return self.path / section

    def item(self, section: str, name: str) -> Path:
        """The folder of ``name`` in ``section``; the name is reduced to a safe file name first."""
        return self.section(section) / safe_name(name)

    def existing(self, section: str, name: str) -> Path:
        path = self.item(section, name)
        if not path.is_dir():
            raise WorkspaceError(f"there is no {section[:-1] if section.endswith('s') else section} '{name}' here")
        return path

    def touch(self) -> None:
        (self.path / ".last-seen").touch()

    def items(self, section: str | None = None) -> list[Item]:
        """Everything in the workspace (or one section), newest first within each section; half-written
        folders (hidden staging names) are not listed."""
        found = []
        for name in [section] if section else SECTIONS:
            folder = self.section(name)
            if not folder.is_dir():
                continue
            entries = [p for p in folder.iterdir() if p.is_dir() and not p.name.startswith(".")]
            entries.sort(key=lambda p: p.stat().st_mtime, reverse=True)
            found += [Item(name, p.name, p.stat().st_mtime, folder_bytes(p)) for p in entries]
        return found

    def usage(self) -> int:
        return folder_bytes(self.path)

    def delete(self, section: str, name: str) -> None:
        shutil.rmtree(self.existing(section, name))

    def model_zip(self, name: str) -> Path:
        """A zip of model ``name`` for download (LoRA, kohya file, model card), written whole."""
        model = self.existing("models", name)
        target = self.path / "downloads" / f"{model.name}.zip"
        with staged_file(target) as staging, zipfile.ZipFile(staging, "w", zipfile.ZIP_DEFLATED) as archive:
            for file in MODEL_DOWNLOAD_FILES:
                if (model / file).is_file():
                    archive.write(model / file, f"{model.name}/{file}")
        return target


@dataclass(frozen=True)
class WorkspaceStore:
    """The workspaces under ``<root>/workspaces``, with the operator's limits.

    max_bytes: the most one workspace may hold (uploads are refused past it, with what to delete).
    max_age_days: anonymous workspaces unseen this long are removed by ``cleanup`` (account ones are kept).
    """

    root: Path
    max_bytes: int = 5 * 1024**3
    max_age_days: float = 30.0

    @property
    def folder(self) -> Path:
        return Path(self.root) / "workspaces"

    @staticmethod
    def key_id(key: str) -> str:
        return hashlib.sha256(key.encode()).hexdigest()[:ID_HEX]

    def create(self) -> tuple[str, Workspace]:
        """A new anonymous workspace and its token (shown to the user once; only its hash is stored)."""
        token = secrets.token_urlsafe(TOKEN_BYTES)
        workspace = Workspace(self.key_id(token), self.folder / self.key_id(token), anonymous=True)
        workspace.path.mkdir(parents=True)
        (workspace.path / ".anonymous").touch()
        workspace.touch()
        return token, workspace

    def open(self, token: str) -> Workspace:
        """The workspace of ``token``; ``UnknownWorkspace`` when there is none (never creates one)."""
        if not isinstance(token, str) or not TOKEN_PATTERN.fullmatch(token):
            raise UnknownWorkspace("this is not a workspace token: start over, or paste the whole token")
        path = self.folder / self.key_id(token)
        if not path.is_dir():
            raise UnknownWorkspace(
                "no workspace has this token (deleted, or removed after long disuse): start over for a new one"
            )
        workspace = Workspace(path.name, path, anonymous=(path / ".anonymous").exists())
        workspace.touch()
        return workspace

    def secret(self) -> bytes:
        """The server's key for account tokens: ``FACECHAIN_SECRET``, else 32 random bytes kept in
        ``<root>/.secret`` (readable by the server's user only), made on first use."""
        configured = os.environ.get("FACECHAIN_SECRET")
        if configured:
            return configured.encode()
        path = Path(self.root) / ".secret"
        if not path.is_file():
            path.parent.mkdir(parents=True, exist_ok=True)
            with staged_file(path) as staging:
                staging.write_bytes(secrets.token_bytes(32))
                staging.chmod(0o600)
        return path.read_bytes()

    def for_account(self, username: str) -> tuple[str, Workspace]:
        """The token and workspace of a logged-in Hugging Face account (made on first use, never expires).
        The token is an HMAC of the account name under the server's secret: only the server can derive
        it, and only for a user the OAuth login vouched for; like any token it opens the workspace in
        another browser too."""
        digest = hmac.new(self.secret(), f"account:{username}".encode(), hashlib.sha256).digest()
        token = base64.urlsafe_b64encode(digest[:TOKEN_BYTES]).decode()
        path = self.folder / self.key_id(token)
        path.mkdir(parents=True, exist_ok=True)
        workspace = Workspace(path.name, path, anonymous=False)
        workspace.touch()
        return token, workspace

    def by_id(self, workspace_id: str) -> Workspace:
        """The workspace a job belongs to (jobs record the id, never the token)."""
        if not re.fullmatch(rf"[0-9a-f]{{{ID_HEX}}}", workspace_id or ""):
            raise UnknownWorkspace(f"'{workspace_id}' is not a workspace id")
        path = self.folder / workspace_id
        if not path.is_dir():
            raise UnknownWorkspace(f"workspace {workspace_id} no longer exists")
        return Workspace(workspace_id, path, anonymous=(path / ".anonymous").exists())

    def check_room(self, workspace: Workspace, incoming: int) -> None:
        """Refuse ``incoming`` more bytes past the limit, saying how much is used and what to do."""
        used = workspace.usage()
        if used + incoming > self.max_bytes:
            raise QuotaExceeded(
                f"this workspace holds {used / 1e6:.0f} MB of its {self.max_bytes / 1e6:.0f} MB; these files need "
                f"{incoming / 1e6:.1f} MB more. Delete photo sets, models or portraits you no longer need "
                "(Workspace tab)"
            )

    def delete(self, workspace: Workspace) -> None:
        shutil.rmtree(workspace.path, ignore_errors=True)

    def cleanup(self, now: float | None = None, busy: frozenset[str] = frozenset()) -> list[str]:
        """Remove anonymous workspaces unseen for ``max_age_days`` (except ``busy`` ones, which have jobs);
        returns their ids."""
        now = time.time() if now is None else now
        removed = []
        for path in self.folder.iterdir() if self.folder.is_dir() else []:
            seen = path / ".last-seen"
            if not (path / ".anonymous").exists() or path.name in busy:
                continue
            last = seen.stat().st_mtime if seen.exists() else path.stat().st_mtime
            if now - last > self.max_age_days * 86400:
                shutil.rmtree(path, ignore_errors=True)
                removed.append(path.name)
        return removed


__all__ = [
    "Item",
    "QuotaExceeded",
    "UnknownWorkspace",
    "Workspace",
    "WorkspaceError",
    "WorkspaceStore",
    "safe_name",
]
