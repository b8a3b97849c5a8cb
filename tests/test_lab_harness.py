"""The lab's harness: planted corruptions plant what they say, metrics match hand computations, the
training loop is seeded, and the paired verdict reads the differences; InfoGrowth's cleaning and
gain; the CLI and the Lab tab. Each experiment's quick run: test_lab_quick_experiments.py."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
import torch

from facechain.lab.harness import data
from facechain.lab.harness.experiment import verdict
from facechain.lab.harness.metrics import auroc, fpr_at_95_tpr, precision_recall, recall_at_1
from facechain.lab.harness.training import cross_entropy, fit, loss_step, outputs


def test_corruptions_plant_what_they_report():
    rng = np.random.default_rng(0)
    split = data.digits(0)
    assert split.x_train.min() >= 0 and split.x_train.max() <= 1 and split.x_train.shape[1] == 64
    assert len(split.x_train) + len(split.x_val) + len(split.x_test) == 1797
    noisy, flipped = data.symmetric_noise(split.y_train, 0.4, rng)
    assert np.all((noisy != split.y_train) == flipped) and 0.35 < flipped.mean() < 0.45
    kept = data.long_tail(split.y_train, 20, rng)
    counts = np.bincount(split.y_train[kept], minlength=10)
    assert counts[0] == np.bincount(split.y_train).min() and counts[9] == round(counts[0] / 20)
    assert np.all(np.diff(counts) <= 0)
    clean = np.full((2000, 4), 0.5, dtype=np.float32)
    dim, bright = data.photon_noise(clean, 1.0, rng), data.photon_noise(clean, 64.0, rng)
    assert abs(dim.mean() - 0.5) < 0.05 and dim.std() > 4 * bright.std()
    assert np.array_equal(data.photon_noise(clean, np.inf, rng), clean)
    partner, shuffled = data.shuffled_pairs(100, 0.4, rng)
    assert shuffled.sum() == 40 and np.all(partner[shuffled] != np.flatnonzero(shuffled))
    assert np.array_equal(partner[~shuffled], np.flatnonzero(~shuffled))
    labelled, unlabelled = data.few_labels(split.y_train, 3, rng)
    assert np.all(np.bincount(split.y_train[labelled]) == 3) and len(labelled) + len(unlabelled) == len(split.y_train)
    x, y = data.class_subset(split.x_test, split.y_test, [7, 2])
    assert set(y) == {0, 1} and np.array_equal(y == 0, np.isin(split.y_test, [7])[np.isin(split.y_test, [2, 7])])
    left, right = data.two_views(split.x_test[:3])
    assert np.array_equal(
        np.concatenate([left.reshape(3, 8, 4), right.reshape(3, 8, 4)], axis=2), data.images(split.x_test[:3])
    )


def test_growing_stream_plants_duplicates_after_their_source():
    split = data.digits(1)
    stream = data.growing_stream(split.x_train, split.y_train, 0.3, 0.3, np.random.default_rng(1))
    assert len(stream.x) == len(split.x_train) + round(0.3 * len(split.x_train)) == stream.duplicate.size
    for index in np.flatnonzero(stream.duplicate)[:20]:
        earlier = stream.x[:index][~stream.duplicate[:index]]
        assert np.abs(earlier - stream.x[index]).max(axis=1).min() < 0.15  # a near-copy of an earlier original
    assert 0.25 < stream.mismatched[~stream.duplicate].mean() < 0.35


def test_metrics_match_hand_computations():
    assert auroc(np.array([3.0, 4]), np.array([1.0, 2])) == 1.0 and auroc(np.array([1.0]), np.array([2.0])) == 0.0
    assert auroc(np.array([1.0, 1]), np.array([1.0])) == 0.5
    positive = np.arange(100, dtype=float)  # the 5% quantile is 4.95
    assert fpr_at_95_tpr(positive, np.array([0.0, 4.9, 5.0, 50.0])) == 0.5
    queries, gallery = np.array([[1.0, 0], [0, 1]]), np.array([[0.9, 0.1], [0.1, 0.9], [1, 1.2]])
    assert recall_at_1(queries, gallery, np.array([0, 1]), np.array([0, 0, 1])) == 0.5
    assert precision_recall(np.array([1, 1, 0, 0]), np.array([1, 0, 1, 0])) == (0.5, 0.5)


def test_verdict_reads_paired_differences():
    assert verdict(np.array([0.02, 0.03, 0.01, 0.02])) == "reproduced"
    assert verdict(np.array([-0.02, -0.03, -0.01])) == "not reproduced"
    assert verdict(np.array([0.05, -0.04, 0.01, -0.01])) == "inconclusive"
    assert verdict(np.array([0.5])) == "inconclusive"


def test_fit_is_seeded_and_learns():
    split = data.digits(0)

    def train(seed):
        torch.manual_seed(seed)
        model = torch.nn.Linear(64, 10)
        losses = fit(
            model, loss_step(cross_entropy), [split.x_train, split.y_train], epochs=5, learning_rate=0.03, seed=seed
        )
        return model, losses

    (first, losses), (again, _) = train(0), train(0)
    assert losses[-1] < 0.5 * losses[0]
    assert torch.equal(first.weight, again.weight)
    assert (outputs(first, split.x_test).argmax(1) == split.y_test).mean() > 0.85


def test_infogrowth_cleans_mismatches_and_discounts_duplicates():
    from facechain.lab.infogrowth import InfoGrowthStream, label_alignment
    from facechain.portrait.dataset.diversity import information_gain

    rng = np.random.default_rng(0)
    centres = np.eye(3) * 5
    x = np.concatenate([centre + rng.normal(0, 0.3, (30, 3)) for centre in centres])
    y = np.repeat([0, 1, 2], 30)
    wrong = y.copy()
    wrong[[0, 31, 62]] = [1, 2, 0]
    aligned = label_alignment(x, wrong, x, wrong, k=10, exclude_self=True)
    assert aligned[[0, 31, 62]].max() < 0.4 < np.delete(aligned, [0, 31, 62]).min()
    assert information_gain(x[:1] + 1e-6, x[:5])[0] < 0.1 * information_gain(-x[:1], x[:5])[0]
    grower = InfoGrowthStream()
    grower.add(x[::2], wrong[::2])
    grower.add(x[1::2], wrong[1::2])
    assert set(grower.dropped) == {0, 31 // 2 + 45, 31}  # 0 and 62 arrive in the first chunk, 31 in the second
    chosen = grower.sample(20, rng)
    assert len(chosen) == 20 and len(set(chosen)) == 20 and not set(chosen) & set(grower.dropped)


def test_lab_cli_and_tab(tmp_path, capsys):
    from facechain.cli import main
    from facechain.config import Settings
    from facechain.ui.lab import run_lab
    from tests.test_app import collect, working_context

    assert main(["lab", "list"]) == 0 and "infogrowth" in capsys.readouterr().out
    assert main(["lab", "run", "infogrowth", "--seeds", "2", "--quick", "--out", str(tmp_path / "out")]) == 0
    printed = capsys.readouterr().out
    assert "InfoGrowth - random subset" in printed and "2 seeds, quick" in printed
    saved = json.loads((tmp_path / "out" / "infogrowth.json").read_text())
    assert saved["seeds"] == [0, 1] and set(saved["mean"]) == {"random subset", "cleaning only", "InfoGrowth"}
    assert (tmp_path / "out" / "infogrowth.png").stat().st_size > 1000
    assert main(["lab", "run", "nope"]) == 3 and "no experiment named 'nope'" in capsys.readouterr().err
    with working_context(Settings(), tmp_path / "runs") as context:  # the tab runs the experiment as a job
        token, workspace = context.workspaces.create()
        text, chart, result, verdict_line = collect(run_lab(context, token, "infogrowth", 2, True))
        with pytest.raises(Exception, match="between 1 and 5"):
            next(run_lab(context, token, "infogrowth", 9, True))
    assert "InfoGrowth" in text and "paired seeds" in verdict_line
    assert chart == str(workspace.path / "lab" / "infogrowth" / "infogrowth.png") and Path(result).is_file()
