"""The dlib face engine on real photos: detection, landmarks, embedding threshold, attributes."""

from __future__ import annotations

import numpy as np
import pytest
from PIL import Image, ImageFilter

from facechain.config import Settings
from facechain.faces import BackendUnavailable, CropSpec, align_face, load_analyzer, resolve_backend, roll_degrees
from facechain.faces.align import ARCFACE_TEMPLATE, similarity_transform
from facechain.faces.insightface_backend import InsightFaceAnalyzer, to_face
from tests.conftest import as_array


def same_person_variants(person: Image.Image) -> dict[str, Image.Image]:
    return {
        "original": person,
        "mirrored": person.transpose(Image.Transpose.FLIP_LEFT_RIGHT),
        "turned": person.rotate(15, resample=Image.Resampling.BICUBIC, fillcolor=(255, 255, 255)),
        "cropped": person.crop((60, 0, 460, 400)),
        "soft": person.filter(ImageFilter.GaussianBlur(1.0)),
        "enlarged": person.resize((900, 900), Image.Resampling.BICUBIC),
    }


def test_one_face_with_landmarks_and_attributes(analyzer, person):
    faces = analyzer.detect(as_array(person))
    assert len(faces) == 1
    face = faces[0]
    left, top, right, bottom = face.box
    eye_left, eye_right, nose, mouth_left, mouth_right = face.landmarks
    assert 150 < left < right < 290 and 50 < top < bottom < 200
    assert eye_left[0] < nose[0] < eye_right[0] and mouth_left[0] < mouth_right[0]
    assert eye_left[1] < nose[1] < mouth_left[1]
    assert abs(np.linalg.norm(face.embedding) - 1.0) < 1e-5
    assert face.gender == "female" and 0.5 < face.gender_confidence <= 1.0
    assert 15 < face.age < 60


def test_hog_false_face_is_removed_by_verification(analyzer, person):
    """dlib's HOG at this scale reports a second face on the spacesuit; the engine must not."""
    enlarged = as_array(person.resize((1024, 1024), Image.Resampling.BICUBIC))
    import dlib

    raw, _, _ = dlib.get_frontal_face_detector().run(enlarged, 0, 0.0)
    assert len(raw) == 2  # the trap is real
    assert len(analyzer.detect(enlarged)) == 1


def test_group_photo_finds_every_face(analyzer, group_photo):
    faces = analyzer.detect(as_array(group_photo))
    assert len(faces) == 6
    areas = [face.area for face in faces]
    assert areas == sorted(areas, reverse=True)


def test_no_face_in_non_face_images(analyzer):
    from skimage import data

    assert analyzer.detect(data.chelsea()) == []
    assert analyzer.detect(data.coffee()) == []


def test_embedding_separates_people_with_backend_threshold(analyzer, person, group_photo, other_person):
    same = [analyzer.detect(as_array(image))[0].embedding for image in same_person_variants(person).values()]
    others = [face.embedding for face in analyzer.detect(as_array(group_photo))]
    others.append(analyzer.detect(as_array(other_person))[0].embedding)
    threshold = analyzer.thresholds.same_person
    within = [analyzer.distance(a, b) for i, a in enumerate(same) for b in same[i + 1 :]]
    across = [analyzer.distance(a, b) for a in same for b in others]
    between_others = [analyzer.distance(a, b) for i, a in enumerate(others) for b in others[i + 1 :]]
    assert max(within) < threshold < min(across + between_others)


def test_alignment_fixes_roll(analyzer, person):
    turned = person.rotate(25, resample=Image.Resampling.BICUBIC, expand=True, fillcolor=(255, 255, 255))
    face = analyzer.detect(as_array(turned))[0]
    assert roll_degrees(face.landmarks) > 15
    crop = align_face(turned, face.landmarks, CropSpec(size=256))
    assert crop.size == (256, 256)
    realigned = analyzer.detect(as_array(crop))[0]
    assert abs(roll_degrees(realigned.landmarks)) < 4
    # placed as specified: face centre near 42% of the height, face ~40% of the side
    centre_y = (realigned.box[1] + realigned.box[3]) / 2
    assert 0.30 * 256 < centre_y < 0.52 * 256
    assert 0.25 * 256 < realigned.width < 0.55 * 256


def test_similarity_transform_recovers_a_known_transform():
    angle, scale, shift = np.radians(20), 2.5, np.array([30.0, -12.0])
    rotation = np.array([[np.cos(angle), -np.sin(angle)], [np.sin(angle), np.cos(angle)]])
    moved = ARCFACE_TEMPLATE @ (scale * rotation).T + shift
    matrix = similarity_transform(ARCFACE_TEMPLATE, moved)
    assert np.allclose(matrix[:, :2], scale * rotation, atol=1e-9) and np.allclose(matrix[:, 2], shift, atol=1e-9)


def test_crop_spec_rejects_nonsense():
    with pytest.raises(ValueError, match="face_fraction"):
        CropSpec(face_fraction=3.0)


def test_auto_uses_dlib_without_pack_and_insightface_says_where_it_looked(tmp_path):
    settings = Settings(insightface_root=tmp_path, insightface_pack="buffalo_l")
    assert resolve_backend("auto", settings) == "dlib"
    with pytest.raises(BackendUnavailable, match=str(tmp_path / "models" / "buffalo_l")):
        InsightFaceAnalyzer(tmp_path, "buffalo_l")
    with pytest.raises(BackendUnavailable):
        load_analyzer("insightface", settings)
    (tmp_path / "models" / "buffalo_l").mkdir(parents=True)
    (tmp_path / "models" / "buffalo_l" / "det_10g.onnx").write_bytes(b"\0")
    assert resolve_backend("auto", settings) == "insightface"
    with pytest.raises(ValueError, match="unknown face backend"):
        resolve_backend("opencv", settings)


def test_insightface_faces_map_onto_ours():
    class Found:  # the attributes insightface's Face carries
        bbox = np.array([10.0, 20.0, 110.0, 140.0])
        kps = np.arange(10, dtype=np.float32).reshape(5, 2)
        det_score = 0.91
        embedding = np.full(512, 3.0, dtype=np.float32)
        sex, age = "F", 34

    face = to_face(Found())
    assert face.box == (10.0, 20.0, 110.0, 140.0) and face.score == pytest.approx(0.91)
    assert face.gender == "female" and face.age == 34.0
    assert np.linalg.norm(face.embedding) == pytest.approx(1.0) and face.landmarks.shape == (5, 2)
