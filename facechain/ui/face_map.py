"""Map tab: the workspace's prepared photos or generated portraits laid out in 2-D by identity (DLME),
so clusters and outliers show at a glance, with a table of the faces farthest from the median
identity. Only the workspace's own files are read; the map image is written into it."""

from __future__ import annotations

import gradio as gr

from ..jobs.face_map import MAX_FACES, workspace_images
from ..mapping.face_map import MIN_DLME_FACES, FaceMap, MappedFace
from .errors import user_errors
from .jobs import ended, follow, submit, waiting_text

TITLE = "Map"
PHOTOS = "My prepared photos"
PORTRAITS = "My generated portraits"
SOURCES = {PHOTOS: "photos", PORTRAITS: "portraits"}


def missing_message(source: str) -> str:
    if source == PHOTOS:
        return "No prepared photos in this workspace yet: upload your photos in the Photos tab and prepare them first."
    return "No generated portraits in this workspace yet: make some in the Generate tab first."


def summary_text(face_map, total: int) -> str:
    lines = []
    if face_map.method == "PCA":
        lines.append(
            f"**PCA map, not DLME:** only {len(face_map.faces)} faces, and DLME needs at least "
            f"{MIN_DLME_FACES}. Positions show the two main directions in which the faces differ."
        )
    elif face_map.faces:
        lines.append(
            f"**Identity map of {len(face_map.faces)} faces (DLME).** Photos of one person gather; "
            "a face far from the rest is someone else or a poor likeness."
        )
    outliers = face_map.outliers
    lines.append(
        f"**{len(outliers)} outlier(s)** (framed red): farther from the median identity than two photos "
        "of one person usually are."
        if outliers
        else "No outliers: every face is close to the median identity."
    )
    if face_map.without_face:
        listed = ", ".join(f"{path.name} ({why})" for path, why in face_map.without_face)
        lines.append(f"Not on the map: {listed}.")
    if total >= MAX_FACES:
        lines.append(f"Only the first {MAX_FACES} images were mapped.")
    return "\n\n".join(lines)


def outlier_table(face_map) -> list[list]:
    """Every face, farthest from the median identity first: (number on the map, file, distance, verdict)."""
    return [
        [face.number, face.path.name, round(face.identity_distance, 3), "outlier" if face.outlier else "fits"]
        for face in face_map.farthest_first()
    ]


def face_map_of(workspace, result: dict) -> FaceMap:
    """The map a face-map job described (its paths relative to the workspace)."""
    return FaceMap(
        [MappedFace(**{**face, "path": workspace.path / face["path"]}) for face in result["faces"]],
        result["method"],
        [(workspace.path / path, why) for path, why in result["without_face"]],
        workspace.path / result["image"] if result["image"] else None,
    )


def map_workspace(context, token: str, source: str, progress=None):
    """Handler of Draw map: queue the job, follow it, yield (map image path, summary, outlier table)."""
    workspace = context.workspace(token)
    if source not in SOURCES:
        raise gr.Error(f"Choose what to map: {PHOTOS} or {PORTRAITS}.")
    images = workspace_images(workspace, SOURCES[source])
    if not images:
        raise gr.Error(missing_message(source))
    queued = submit(context, workspace, "face_map", {"source": SOURCES[source]})
    for job in follow(context, queued, progress, "photo"):
        if not job.done:
            yield gr.skip(), waiting_text(context, job), gr.skip()
    face_map = face_map_of(workspace, ended(job).result)
    if not face_map.faces:
        raise gr.Error(f"No face found in any of the {len(images)} images, so there is nothing to map.")
    yield str(face_map.image), summary_text(face_map, len(images)), outlier_table(face_map)


def build(context, token) -> None:
    with gr.Row():
        with gr.Column(scale=1):
            source = gr.Radio([PHOTOS, PORTRAITS], value=PHOTOS, label="Map")
            run = gr.Button("Draw map", variant="primary")
            gr.Markdown(
                "Each face is placed by its identity embedding: the same person's photos land together, "
                "someone else lands apart. Map distances are relative (a map of one person still spreads "
                "out); outliers are decided in the table, by distance to the median identity. With fewer "
                f"than {MIN_DLME_FACES} faces the map is a simple PCA projection, and says so."
            )
        with gr.Column(scale=2):
            summary = gr.Markdown()
            image = gr.Image(label="Identity map", show_label=False, type="filepath")  # the map carries its title
            table = gr.Dataframe(
                headers=["#", "photo", "distance to median identity", "verdict"],
                label="Faces, farthest from the median identity first",
                wrap=True,
            )

    @user_errors
    def handler(which, token_value, progress=gr.Progress()):
        yield from map_workspace(context, token_value, which, progress)

    run.click(
        handler,
        [source, token],
        [image, summary, table],
        api_name="face_map",
    )
