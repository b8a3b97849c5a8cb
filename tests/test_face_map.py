"""The identity map on real faces: the astronaut's photos (one person, augmented) against other
people's faces (the insightface wheel's group photo and Tom Hanks), a cat without a face; and the Map
tab's handler: its image goes into the workspace, a small set gets a labelled PCA map, and a
workspace without photos is refused with a message saying what to do."""

from __future__ import annotations

from pathlib import Path

import gradio as gr
import numpy as np
import pytest
from PIL import Image

from facechain.config import Settings
from facechain.mapping.face_map import build_face_map, map_coordinates
from facechain.ui import AppContext
from facechain.ui.face_map import PHOTOS, PORTRAITS, map_workspace
from tests.conftest import as_array
from tests.test_app import collect, working_context
from tests.test_faces import same_person_variants


def others(group_photo: Image.Image, other_person: Image.Image, analyzer) -> dict[str, Image.Image]:
    """Each face of the group photo as a photo of its own (the box with a margin, enlarged), and Tom Hanks."""
    photos = {"hanks": other_person}
    for number, face in enumerate(analyzer.detect(as_array(group_photo))):
        left, top, right, bottom = face.box
        margin = right - left
        crop = group_photo.crop(tuple(round(v) for v in (left - margin, top - margin, right + margin, bottom + margin)))
        photos[f"group{number}"] = crop.resize((crop.width * 3, crop.height * 3), Image.Resampling.BICUBIC)
    return photos


def write(images: dict[str, Image.Image], folder: Path) -> list[Path]:
    folder.mkdir(parents=True, exist_ok=True)
    for name, image in images.items():
        image.save(folder / f"{name}.png")
    return [folder / f"{name}.png" for name in images]


@pytest.fixture(scope="module")
def mixed_map(tmp_path_factory, analyzer, person, group_photo, other_person):
    from skimage import data

    folder = tmp_path_factory.mktemp("photos")
    astronaut = {f"astronaut-{name}": image for name, image in same_person_variants(person).items()}
    cat = {"cat": Image.fromarray(data.chelsea())}
    paths = write(astronaut | others(group_photo, other_person, analyzer) | cat, folder)
    return build_face_map(paths, folder / "map.png", analyzer)


def test_the_same_persons_photos_land_together(mixed_map):
    assert mixed_map.method == "DLME" and len(mixed_map.faces) == 13
    same = np.array([face.path.name.startswith("astronaut") for face in mixed_map.faces])
    assert same.sum() == 6
    points = np.array([[face.x, face.y] for face in mixed_map.faces])
    distances = np.linalg.norm(points[:, None] - points[None], axis=-1)
    within = distances[np.ix_(same, same)][np.triu_indices(6, 1)]
    assert within.mean() < 0.5 * distances[np.ix_(same, ~same)].mean()
    np.fill_diagonal(distances, np.inf)
    assert same[distances[same].argmin(axis=1)].all()  # each astronaut photo's map neighbour is the astronaut


def test_photos_without_a_face_are_listed_not_drawn(mixed_map):
    assert [(path.name, why) for path, why in mixed_map.without_face] == [("cat.png", "no face found")]
    assert all(face.path.name != "cat.png" for face in mixed_map.faces)
    with Image.open(mixed_map.image) as image:
        assert image.size == (1000, 760)


def test_few_faces_fall_back_to_a_pca_map():
    embeddings = np.random.default_rng(0).normal(size=(5, 128))
    coordinates, method = map_coordinates(embeddings)
    assert method == "PCA" and coordinates.shape == (5, 2)
    assert coordinates[:, 0].var() >= coordinates[:, 1].var()  # the first axis carries the most variation


def test_map_tab_writes_into_the_workspace_and_flags_the_other_person(tmp_path, analyzer, person, other_person):
    with working_context(Settings(face_backend="dlib"), tmp_path) as context:
        token, workspace = context.workspaces.create()
        images = {f"{n:03d}": image for n, image in enumerate(list(same_person_variants(person).values())[:4])}
        write(images | {"004": other_person}, workspace.item("datasets", "set") / "images")
        image, summary, table = collect(map_workspace(context, token, PHOTOS))
    assert Path(image) == workspace.path / "maps" / "identity" / "photos.png" and Path(image).is_file()
    assert "PCA map, not DLME" in summary and "1 outlier" in summary
    assert table[0][1:] == ["004.png", table[0][2], "outlier"] and [row[3] for row in table[1:]] == ["fits"] * 4
    assert table[0][0] == 5  # the number drawn next to the thumbnail


def test_map_tab_refuses_a_workspace_without_photos(tmp_path, person):
    context = AppContext.create(Settings(face_backend="dlib"), tmp_path)
    _, someone_else = context.workspaces.create()
    write({"000": person}, someone_else.item("datasets", "set") / "images")
    empty, _ = context.workspaces.create()
    with pytest.raises(gr.Error, match="No prepared photos in this workspace yet.*Photos tab"):
        next(map_workspace(context, empty, PHOTOS))
    with pytest.raises(gr.Error, match="No generated portraits in this workspace yet.*Generate tab"):
        next(map_workspace(context, empty, PORTRAITS))


def test_maps_read_the_newest_training_set_and_every_output_run_newest_first(tmp_path, person):
    import os

    from facechain.jobs.face_map import workspace_images
    from facechain.workspace import WorkspaceStore

    _, workspace = WorkspaceStore(tmp_path).create()
    older = write({"00-seed1": person}, workspace.item("outputs", "twin-20240101-000000"))
    newer = write({"00-seed7": person, "01-seed8": person}, workspace.item("outputs", "twin-20240102-000000"))
    (newer[0].parent / "results.json").write_text("{}")
    os.utime(older[0].parent, (1, 1))
    assert workspace_images(workspace, "portraits") == newer + older
    assert workspace_images(workspace, "photos") == []
    old_set = write({"000": person}, workspace.item("datasets", "first") / "images")
    new_set = write({"000": person, "001": person}, workspace.item("datasets", "second") / "images")
    os.utime(old_set[0].parent.parent, (1, 1))
    assert workspace_images(workspace, "photos") == new_set
