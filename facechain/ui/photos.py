"""Photos tab: upload photos, get the curated training set and the reason for every decision."""

from __future__ import annotations

from pathlib import Path

import gradio as gr

from ..portrait import NoUsablePhotos, prepare
from ..wording import plural
from .errors import user_errors
from .progress import gradio_progress

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


def prepare_uploads(
    files, trigger: str, class_word: str, max_photos: float, context, request: gr.Request | None, progress=gr.Progress()
):
    """Handler of the Prepare button: (gallery, decisions table, summary, report file)."""
    if not files:
        raise gr.Error("Upload a few photos of yourself first.")
    if len(files) > MAX_UPLOADS:
        raise gr.Error(f"{len(files)} files uploaded; at most {MAX_UPLOADS} are examined. Pick your best photos.")
    out = context.session_dir(request) / "dataset"
    paths = [Path(f) for f in files]  # the File component hands over file paths
    try:
        result = prepare(
            paths,
            out,
            trigger=trigger or "sks",
            class_word=(class_word or "").strip() or None,
            max_photos=int(max_photos),
            overwrite=True,
            settings=context.settings,
            max_request_pixels=REQUEST_PIXELS,
            progress=gradio_progress(progress, "photo"),
        )
    except NoUsablePhotos as error:
        summary = f"**No usable photo.** {error}"
        return [], decisions_table(error.photos), summary, None
    gallery = [(str(out / p.output), f"kept {p.order:03d} · {Path(p.source).name}") for p in result.kept]
    gallery += [
        (p.source, f"rejected · {Path(p.source).name}: {p.reason}")
        for p in result.photos
        if p.status != "kept" and thumbnailable(p.source)
    ]
    detected = (
        "" if result.class_phrase == result.detected_class_phrase else f" (detected: *{result.detected_class_phrase}*)"
    )
    summary = (
        f"Kept **{len(result.kept)}** of {plural(len(result.photos), 'photo')}. Caption: "
        f"**{result.caption}**{detected}. "
        f"Reference face: {Path(result.reference).name}. If the class phrase is wrong, type the right "
        "one and prepare again."
    )
    warnings = "".join(f"\n\n⚠️ {w}" for w in result.warnings)
    return gallery, decisions_table(result.photos), summary + warnings, str(out / "report.json")


def build(context) -> None:
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
    def handler(files, trigger_text, class_text, keep, request: gr.Request, progress=gr.Progress()):
        return prepare_uploads(files, trigger_text, class_text, keep, context, request, progress)

    run.click(
        handler, [uploads, trigger, class_word, max_photos], [gallery, table, summary, report], api_name="prepare"
    )
