"""Motion foundations: the DCT is orthonormal and invertible, metrics agree with hand computations,
and procedural clips move like a skeleton (fixed bones, walking advances, branching futures)."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from facechain.motion.metrics import ade, all_metrics, apd, fde, mmade, multimodal_futures
from facechain.motion.procedural import STYLES, branching_clips, clip, random_clip, root_relative
from facechain.motion.skeleton import H36M, HUMANEVA
from models.dct import dct_matrix, from_dct, to_dct


def test_dct_is_orthonormal_and_round_trips():
    basis = dct_matrix(125, torch.float64)
    assert torch.allclose(basis @ basis.T, torch.eye(125, dtype=torch.float64), atol=1e-10)
    motion = torch.randn(3, 125, 48, dtype=torch.float64)
    assert torch.allclose(from_dct(to_dct(motion), 125), motion, atol=1e-10)
    slow = (basis[3] + 0.5 * basis[10])[:, None]  # motion with no frequency above the 20th
    assert torch.allclose(from_dct(to_dct(slow, 20), 125), slow, atol=1e-10)
    assert not torch.allclose(from_dct(to_dct(slow, 5), 125), slow, atol=1e-3)
    assert to_dct(motion).square().sum() == pytest.approx(motion.square().sum().item())  # energy kept
    assert torch.allclose(to_dct(torch.ones(10, 1))[1:], torch.zeros(9, 1), atol=1e-6)  # a constant is all DC


def test_metrics_on_hand_made_cases():
    future = np.zeros((4, 2))
    predictions = np.stack([np.full((4, 2), 3.0), np.zeros((4, 2)) + [[0, 0], [0, 0], [0, 0], [3, 4]]])
    assert ade(predictions, future) == pytest.approx(5 / 4)  # second: errors 0, 0, 0, 5
    assert fde(predictions, future) == pytest.approx(3 * np.sqrt(2))  # the first ends closer than the second
    assert apd(predictions) == pytest.approx(np.linalg.norm(predictions[0] - predictions[1]))
    assert apd(predictions[:1]) == 0.0
    last = np.array([[0.0, 0.0], [0.3, 0.0], [2.0, 0.0]])
    futures = np.stack([np.full((4, 2), v) for v in (0.0, 1.0, 2.0)])
    groups = multimodal_futures(last, futures)
    assert [len(g) for g in groups] == [2, 2, 1]
    assert mmade(predictions[:1] * 0, groups[0]) == pytest.approx((0 + np.sqrt(2)) / 2)
    assert set(all_metrics(predictions, future, groups[0])) == {"APD", "ADE", "FDE", "MMADE", "MMFDE"}


def test_skeletons_are_consistent():
    for skeleton in (H36M, HUMANEVA):
        assert len(skeleton.parents) == skeleton.count and skeleton.parents[0] == -1
        assert all(parent < joint for joint, parent in enumerate(skeleton.parents))
        mirror = skeleton.mirrored()
        assert sorted(mirror) == list(range(skeleton.count)) and [mirror[i] for i in mirror] == list(
            range(skeleton.count)
        )
        assert set(skeleton.part("lower")) | set(skeleton.part("upper")) == set(range(skeleton.count))
    with pytest.raises(ValueError, match="unknown body part"):
        H36M.part("tail")


def bone_lengths(positions):
    return np.stack(
        [np.linalg.norm(positions[:, j] - positions[:, p], axis=-1) for j, p in enumerate(H36M.parents) if p >= 0], -1
    )


def test_procedural_clips_move_like_a_skeleton():
    rng = np.random.default_rng(0)
    walk = clip([(0, STYLES["walk"])], 100, jitter=0.0)
    lengths = bone_lengths(walk)
    assert np.allclose(lengths, lengths[0], atol=1e-9)  # rigid bones
    assert walk[-1, 0, 1] - walk[0, 0, 1] == pytest.approx(1.3 * 99 / 50, rel=1e-6)  # advances at its speed
    idle = clip([(0, STYLES["idle"])], 100, jitter=0.0)
    assert abs(idle[-1, 0, 1] - idle[0, 0, 1]) < 1e-9
    feet = walk[:, [3, 6], 2]
    assert (feet.min() > -0.1) and (feet[:, 0] - feet[:, 1]).std() > 0.01  # feet near the ground, alternating
    run_knee = np.linalg.norm(
        clip([(0, STYLES["run"])], 100, jitter=0)[:, 3] - clip([(0, STYLES["run"])], 100, jitter=0)[:, 1], axis=-1
    )
    assert run_knee.min() < 0.85  # a bent knee shortens hip-to-foot
    assert root_relative(random_clip(125, rng)).shape == (125, 48)


def test_branching_clips_share_history_then_diverge():
    clips = branching_clips(6, 25, 100, np.random.default_rng(3))
    assert np.allclose(clips[:, :25], clips[:1, :25])
    ends = clips[:, -1].reshape(6, -1)
    assert np.linalg.norm(ends[:, None] - ends[None], axis=-1).max() > 0.5


def test_animation_shows_history_then_each_future(tmp_path):
    from PIL import Image

    from facechain.motion.render import animate

    clips = branching_clips(3, 25, 100, np.random.default_rng(4))
    features = np.stack([root_relative(c) for c in clips])
    path = animate(features[0, :25], features[:, 25:], H36M, tmp_path / "motion.gif")
    with Image.open(path) as gif:
        assert gif.n_frames == 63 and gif.size == (600, 200)
        first = np.asarray(gif.convert("RGB"))
        gif.seek(gif.n_frames - 1)
        last = np.asarray(gif.convert("RGB"))
    grey = np.all(first == (120, 120, 120), axis=-1)
    assert grey.sum() > 100  # the history skeletons are grey
    for k, colour in enumerate([(31, 119, 180), (255, 127, 14), (44, 160, 44)]):  # each future in its panel
        panel = last[:, 200 * k : 200 * (k + 1)]
        assert np.all(panel == colour, axis=-1).sum() > 100
        left = tuple(round(c + (255 - c) * 0.45) for c in colour)  # the body's left side: a lighter shade
        assert np.all(panel == left, axis=-1).sum() > 50
