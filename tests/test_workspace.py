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


def test_account_workspaces_are_stable_and_never_anonymous(tmp_path):
    store = WorkspaceStore(tmp_path)
    first = store.for_account("ann")
    assert store.for_account("ann") == first and not first.anonymous
    assert store.for_account("bob").path != first.path


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
    account = store.for_account("ann")
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
