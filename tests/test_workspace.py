"""Workspaces: unguessable tokens stored only as hashes, contents with sizes, delete, model zip, quota,
and the removal of abandoned anonymous workspaces."""

from __future__ import annotations

import hashlib
import os
import zipfile

import pytest

from facechain.workspace import QuotaExceeded, UnknownWorkspace, WorkspaceError, WorkspaceStore, safe_name


def test_tokens_are_random_and_only_their_hash_names_the_folder(tmp_path):
    store = WorkspaceStore(tmp_path)
    made = [store.create() for _ in range(20)]
    tokens = {token for token, _ in made}
    assert len(tokens) == 20 and all(len(token) == 32 for token in tokens)  # 24 bytes, base64url: 192 bits
    for token, workspace in made:
        assert workspace.id == hashlib.sha256(token.encode()).hexdigest()[:32] and workspace.anonymous
        assert store.open(token).path == workspace.path
        assert token not in str(list(tmp_path.rglob("*")))
    token = made[0][0]
    for wrong in ("", "short", token[:-1] + ("A" if token[-1] != "A" else "B"), "../" * 11, None, 12345):
        with pytest.raises(UnknownWorkspace):
            store.open(wrong)
    with pytest.raises(UnknownWorkspace):
        store.by_id("../" + made[0][1].id[3:])
    assert store.by_id(made[0][1].id).path == made[0][1].path


def test_account_tokens_are_derived_by_the_server_only_and_never_expire(tmp_path, monkeypatch):
    import base64
    import hmac

    monkeypatch.delenv("FACECHAIN_SECRET", raising=False)
    store = WorkspaceStore(tmp_path)
    token, first = store.for_account("ann")
    assert store.for_account("ann") == (token, first) and not first.anonymous
    assert store.open(token).path == first.path and not store.open(token).anonymous
    assert store.for_account("bob")[1].path != first.path
    secret = (tmp_path / ".secret").read_bytes()
    assert len(secret) == 32 and (tmp_path / ".secret").stat().st_mode & 0o777 == 0o600
    expected = hmac.new(secret, b"account:ann", "sha256").digest()[:24]
    assert token == base64.urlsafe_b64encode(expected).decode()  # HMAC under the server's secret, 192 bits
    assert WorkspaceStore(tmp_path / "elsewhere").for_account("ann")[0] != token  # another server, another key
    monkeypatch.setenv("FACECHAIN_SECRET", "operator-secret")
    assert store.for_account("ann")[0] != token


def test_contents_sizes_delete_and_model_zip(tmp_path):
    _, workspace = WorkspaceStore(tmp_path).create()
    model = workspace.item("models", "me")
    (model / "checkpoints" / "step-2").mkdir(parents=True)
    for name, size in (("pytorch_lora_weights.safetensors", 1000), ("README.md", 10), ("training.json", 5)):
        (model / name).write_bytes(b"x" * size)
    (model / "checkpoints" / "step-2" / "state.safetensors").write_bytes(b"y" * 500)
    photos = workspace.item("photos", "set")
    photos.mkdir(parents=True)
    (photos / "a.jpg").write_bytes(b"z" * 300)
    (workspace.section("outputs") / ".half-written.partial-1").mkdir(parents=True)  # never listed
    os.utime(photos, (1, 1))
    listed = [(item.section, item.name, item.bytes) for item in workspace.items()]
    assert listed == [("photos", "set", 300), ("models", "me", 1515)]
    with zipfile.ZipFile(workspace.model_zip("me")) as archive:
        assert sorted(archive.namelist()) == ["me/README.md", "me/pytorch_lora_weights.safetensors", "me/training.json"]
    with pytest.raises(WorkspaceError, match="there is no model 'you'"):
        workspace.model_zip("you")
    workspace.delete("photos", "set")
    assert [item.name for item in workspace.items()] == ["me"]
    with pytest.raises(WorkspaceError, match="no section 'secrets'"):
        workspace.items("secrets")
    assert workspace.item("models", "../../etc/passwd").parent == workspace.section("models")


def test_quota_refuses_with_what_is_used_and_what_to_do(tmp_path):
    store = WorkspaceStore(tmp_path, max_bytes=1_000_000)
    _, workspace = store.create()
    (workspace.path / "photos" / "s").mkdir(parents=True)
    (workspace.path / "photos" / "s" / "a.jpg").write_bytes(b"x" * 600_000)
    store.check_room(workspace, 300_000)
    with pytest.raises(QuotaExceeded, match=r"holds 1 MB of its 1 MB; these files need 0.5 MB more. Delete"):
        store.check_room(workspace, 500_000)


def test_cleanup_removes_only_abandoned_anonymous_workspaces_without_jobs(tmp_path):
    store = WorkspaceStore(tmp_path, max_age_days=30)
    _, old = store.create()
    _, busy = store.create()
    _, fresh = store.create()
    _, account = store.for_account("ann")
    month_ago = 1e9 - 31 * 86400
    for workspace in (old, busy, account):
        os.utime(workspace.path / ".last-seen", (month_ago, month_ago))
    os.utime(fresh.path / ".last-seen", (1e9, 1e9))
    assert store.cleanup(now=1e9, busy=frozenset({busy.id})) == [old.id]
    assert not old.path.exists() and busy.path.exists() and fresh.path.exists() and account.path.exists()


@pytest.mark.parametrize(
    "text, name",
    [("my twin!", "my-twin"), ("../../etc", "etc"), ("", "model"), ("ä" * 5, "model"), ("a" * 60, "a" * 40)],
)
def test_safe_name(text, name):
    assert safe_name(text) == name


def test_page_load_gives_the_account_workspace_when_logged_in_and_never_after_logout(tmp_path, monkeypatch):
    from facechain.config import Settings
    from facechain.ui import AppContext, restore_workspace

    context = AppContext.create(Settings(), tmp_path)
    anonymous, _ = restore_workspace(context, "")
    assert restore_workspace(context, anonymous) == (anonymous, anonymous)  # a reload keeps it
    assert restore_workspace(context, "x" * 32)[0] not in ("x" * 32, anonymous)  # gone: a new one
    monkeypatch.setenv("SYSTEM", "spaces")
    monkeypatch.setenv("OAUTH_CLIENT_ID", "client")
    account, stored = restore_workspace(context, anonymous, account="ann")
    assert account == stored == context.workspaces.for_account("ann")[0] != anonymous
    after_logout, _ = restore_workspace(context, account)  # the browser still holds the account's token
    assert after_logout not in (account, anonymous) and context.workspace(after_logout).anonymous
    assert restore_workspace(context, anonymous)[0] == anonymous


def test_a_space_with_hugging_face_login_offers_it_instead_of_a_password(tmp_path, monkeypatch):
    import gradio as gr

    from facechain.config import Settings
    from facechain.ui import build_app
    from facechain.ui.guard import login

    monkeypatch.delenv("FACECHAIN_AUTH", raising=False)
    assert login("0.0.0.0") is not None and login("127.0.0.1") is None
    app = build_app(Settings(home=tmp_path), tmp_path / "runs", workers=False)
    assert not any(isinstance(block, gr.LoginButton) for block in app.blocks.values())
    monkeypatch.setenv("SYSTEM", "spaces")
    monkeypatch.setenv("SPACE_ID", "someone/facechain-studio")
    monkeypatch.setenv("OAUTH_CLIENT_ID", "client")
    for name in ("OAUTH_CLIENT_ID", "OAUTH_CLIENT_SECRET", "OAUTH_SCOPES", "OPENID_PROVIDER_URL"):
        monkeypatch.setattr(f"gradio.oauth.{name}", "set by Spaces")  # gradio reads them once, on import
    assert login("0.0.0.0") is None
    app = build_app(Settings(home=tmp_path), tmp_path / "runs", workers=False)
    assert any(isinstance(block, gr.LoginButton) for block in app.blocks.values())
    monkeypatch.setenv("FACECHAIN_AUTH", "ann:secret")
    assert login("0.0.0.0") == [("ann", "secret")]
