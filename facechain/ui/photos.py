"""Photos tab: upload photos into the workspace, get the curated training set (a prepare job) and the reason
for every decision; the newest training set is shown again when the page is opened."""

from __future__ import annotations

import json
import re
import secrets
import shutil
import time
from pathlib import Path

import gradio as gr

from ..atomic import staged_folder
from ..portrait.dataset.prepare import PhotoReport
from ..wording import plural
from ..workspace import safe_name
from .errors import user_errors
from .jobs import ended, follow, submit, waiting_text

TITLE = "Photos"
MAX_UPLOADS = 40
REQUEST_PIXELS = 400_000_000
"""Pixels the photos of one Prepare click may decode together; the photos past it are rejected unread,
each with the reason (``prepare(max_request_pixels=...)``). 30 photos, the most the tab asks for, from a
12-megapixel phone decode 366 MP, and JPEGs over 4096 px decode at 1/2 scale or less (``facechain.images``),
so ordinary uploads fit. What it stops is one click of many 100-megapixel PNGs, which decode at full size
however small the file: three fit, 6-9 s on one core including face detection (before photos were
reduced while decoded, one took 11-12 s), and a fourth is refused until another click."""


def thumbnailable(path: str) -> bool:
    """Whether an uploaded file can be shown as a thumbnail (a rejected non-image cannot)."""
    from PIL import Image

    try:
        with Image.open(path) as image:
            image.verify()
        return True
    except Exception:  # verify raises whatever the damage provokes: IndexError for a PNG with no pixel data
        return False


def decisions_table(photos) -> list[list[str]]:
    rows = []
    for photo in photos:
        detail = (
            photo.reason
            or f"{photo.output}  (identity distance {photo.identity_distance:.2f}, sharpness {photo.sharpness:.0f})"
        )
        rows.append([Path(photo.source).name, photo.status, detail])
    return rows


def upload_name(original: str, taken: set[str]) -> str:
    """The file name an upload keeps in the workspace: its own name made safe, numbered if repeated."""
    path = Path(original)
    suffix = re.sub(r"[^a-z0-9.]", "", path.suffix.lower())[:6]
    stem, name, number = safe_name(path.stem, "photo"), "", 1
    while not name or name in taken:
        name = f"{stem}{f'-{number}' if number > 1 else ''}{suffix}"
        number += 1
    taken.add(name)
    return name


def store_uploads(context, workspace, files) -> str:
    """Copy the uploads into a new photo set of the workspace (within its quota); returns the set's name."""
    if not files:
        raise gr.Error("Upload a few photos of yourself first.")
    if len(files) > MAX_UPLOADS:
        raise gr.Error(f"{len(files)} files uploaded; at most {MAX_UPLOADS} are examined. Pick your best photos.")
    paths = [Path(f) for f in files]  # the File component hands over paths in Gradio's upload folder
    context.workspaces.check_room(workspace, sum(p.stat().st_size for p in paths))
    name = f"{time.strftime('%Y%m%d-%H%M%S')}-{secrets.token_hex(2)}"
    taken: set[str] = set()
    with staged_folder(workspace.item("photos", name)) as staging:
        for path in paths:
            shutil.copyfile(path, staging / upload_name(path.name, taken))
    return name


def dataset_view(workspace, name: str | None):
    """(gallery, decisions table, summary, report file) of a prepared training set; empty for none."""
    if name is None or not (workspace.item("datasets", name) / "report.json").is_file():
        return [], [], "", None
    out = workspace.item("datasets", name)
    report = json.loads((out / "report.json").read_text(encoding="utf-8"))
    photos = [PhotoReport(**photo) for photo in report["photos"]]
    kept = sorted((p for p in photos if p.status == "kept"), key=lambda p: p.order)
    gallery = [(str(out / p.output), f"kept {p.order:03d} · {Path(p.source).name}") for p in kept]
    gallery += [
        (p.source, f"rejected · {Path(p.source).name}: {p.reason}")
        for p in photos
        if p.status != "kept" and Path(p.source).is_file() and thumbnailable(p.source)
    ]
    detected = report["detected_class_phrase"]
    detected = "" if report["class_phrase"] == detected else f" (detected: *{detected}*)"
    summary = (
        f"Kept **{len(kept)}** of {plural(len(photos), 'photo')}. Caption: **{report['caption']}**{detected}. "
        f"Reference face: {Path(report['reference']).name}. If the class phrase is wrong, type the right "
        "one and prepare again."
    )
    summary += "".join(f"\n\n⚠️ {w}" for w in report["warnings"])
    return gallery, decisions_table(photos), summary, str(out / "report.json")


def newest_dataset(workspace) -> str | None:
    found = workspace.items("datasets")
    return found[0].name if found else None


def prepare_uploads(files, trigger: str, class_word: str, max_photos: float, context, token: str, progress=None):
    """Handler of the Prepare button: stores the uploads as a photo set, queues the prepare job, follows
    it, and yields (gallery, decisions table, summary, report file)."""
    workspace = context.workspace(token)
    photos = store_uploads(context, workspace, files)
    queued = submit(
        context,
        workspace,
        "prepare",
        {
            "photos": photos,
            "trigger": trigger or "sks",
            "class_word": class_word or "",
            "max_photos": int(max_photos),
            "max_request_pixels": REQUEST_PIXELS,
        },
    )
    for job in follow(context, queued, progress, "photo"):
        if not job.done:
            yield gr.skip(), gr.skip(), waiting_text(context, job), gr.skip()
    result = ended(job).result
    if result["dataset"] is None:
        photos = [PhotoReport(**photo) for photo in result["photos"]]
        yield [], decisions_table(photos), f"**No usable photo.** {result['error']}", None
        return
    yield dataset_view(workspace, result["dataset"])


def build(context, token) -> None:
    with gr.Row():
        with gr.Column(scale=1):
            uploads = gr.File(label="Photos of one person (3-30)", file_count="multiple", type="filepath")
            trigger = gr.Textbox(label="Trigger word", value="sks")
            class_word = gr.Textbox(
                label="Class word (empty: detected from the photos)", placeholder="e.g. woman, old man"
            )
            max_photos = gr.Slider(1, 30, value=20, step=1, label="Keep at most")
            run = gr.Button("Prepare training set", variant="primary")
        with gr.Column(scale=2):
            summary = gr.Markdown()
            gallery = gr.Gallery(label="Kept (aligned crops), then rejected with the reason", columns=5, height="auto")
            table = gr.Dataframe(headers=["photo", "status", "detail"], label="Every photo and why", wrap=True)
            report = gr.File(label="report.json")

    @user_errors
    def handler(files, trigger_text, class_text, keep, token_value, progress=gr.Progress()):
        yield from prepare_uploads(files, trigger_text, class_text, keep, context, token_value, progress)

    @user_errors
    def show(token_value):
        workspace = context.workspace(token_value)
        return dataset_view(workspace, newest_dataset(workspace))

    run.click(
        handler,
        [uploads, trigger, class_word, max_photos, token],
        [gallery, table, summary, report],
        api_name="prepare",
    )
    token.change(show, token, [gallery, table, summary, report], api_name="photos")
