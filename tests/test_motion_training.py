"""Motion training state: random windows are real windows of the sequences, an interrupted run resumed
from its checkpoint ends exactly where the uninterrupted run does, and runs refuse to mix; evaluation
on a chosen subset of windows."""

from __future__ import annotations

from dataclasses import replace

import numpy as np
import pytest
import torch

from facechain.motion.config import MotionTrainConfig
from facechain.motion.evaluation import ZeroVelocity, evaluate
from facechain.motion.metrics import ade
from facechain.motion.skeleton import H36M
from facechain.motion.training import (
    MotionTrainingError,
    RandomWindows,
    procedural_windows,
    train_denoiser,
)
from models.humanmac import HumanMACDenoiser
from pipelines.humanmac import default_scheduler


def test_random_windows_are_cut_from_the_sequences():
    sequences = [
        np.arange(length * 2, dtype=np.float32).reshape(length, 2) + 1000 * i for i, length in enumerate([10, 4, 30])
    ]
    draws = RandomWindows(sequences, 6).draw(400, torch.Generator().manual_seed(0))
    assert draws.shape == (400, 6, 2)
    owners = (draws[:, 0, 0] // 1000).long()
    assert set(owners.tolist()) == {0, 2}  # the 4-frame sequence is too short to cut from
    starts = (draws[:, 0, 0] % 1000) / 2
    assert torch.equal(
        draws, torch.stack([torch.from_numpy(sequences[o][int(s) : int(s) + 6]) for o, s in zip(owners, starts)])
    )
    assert starts[owners == 2].max() == 24 and starts[owners == 0].max() == 4  # every start, up to the last one
    assert 0.75 < (owners == 2).float().mean() < 0.95  # 25 of 30 possible windows come from the long one
    with pytest.raises(MotionTrainingError, match="6 frames long"):
        RandomWindows([sequences[1]], 6)


def small_denoiser() -> HumanMACDenoiser:
    torch.manual_seed(0)
    return HumanMACDenoiser(joints=16, coefficients=20, width=32, layers=2, heads=4, feed_forward=64)  # dropout 0.2


class Interrupt(Exception):
    pass


def test_resumed_training_ends_where_the_uninterrupted_one_does(tmp_path):
    windows = procedural_windows(40, H36M, np.random.default_rng(0))
    source = RandomWindows(windows, windows.shape[1])
    config = MotionTrainConfig(steps=12, batch_size=4, checkpoint_every=4, keep_checkpoints=2, ema_start=3)
    whole_ema, whole_losses = train_denoiser(
        small_denoiser(), default_scheduler(), source, config, checkpoints=tmp_path / "whole"
    )

    def stop_at_ten(step, total, message):
        if step == 10:
            raise Interrupt

    with pytest.raises(Interrupt):
        train_denoiser(
            small_denoiser(), default_scheduler(), source, config, progress=stop_at_ten, checkpoints=tmp_path / "cut"
        )
    assert sorted(p.name for p in (tmp_path / "cut").iterdir()) == ["step-0000004", "step-0000008"]
    with pytest.raises(MotionTrainingError, match="pass --resume"):
        train_denoiser(small_denoiser(), default_scheduler(), source, config, checkpoints=tmp_path / "cut")
    ema, losses = train_denoiser(
        small_denoiser(), default_scheduler(), source, config, checkpoints=tmp_path / "cut", resume=True
    )
    assert losses == whole_losses
    assert all(torch.equal(a, b) for a, b in zip(ema.parameters(), whole_ema.parameters()))
    assert sorted(p.name for p in (tmp_path / "cut").iterdir()) == ["step-0000008", "step-0000012"]

    longer = replace(config, steps=14)
    _, extended = train_denoiser(
        small_denoiser(), default_scheduler(), source, longer, checkpoints=tmp_path / "cut", resume=True
    )
    assert extended[:12] == whole_losses and len(extended) == 14
    wider = HumanMACDenoiser(joints=16, coefficients=20, width=64, layers=2, heads=4, feed_forward=64)
    with pytest.raises(MotionTrainingError, match="same --width/--layers"):
        train_denoiser(wider, default_scheduler(), source, longer, checkpoints=tmp_path / "cut", resume=True)
    with pytest.raises(MotionTrainingError, match="no checkpoint"):
        train_denoiser(
            small_denoiser(), default_scheduler(), source, config, checkpoints=tmp_path / "none", resume=True
        )


def test_evaluation_on_chosen_windows():
    windows = procedural_windows(12, H36M, np.random.default_rng(3))
    chosen = np.array([1, 5, 7])
    still = evaluate(ZeroVelocity(), windows, H36M, samples=1, steps=1, chosen=chosen)
    t_his = H36M.t_his
    expected = np.mean(
        [ade(np.repeat(windows[i, t_his - 1][None, None], H36M.t_pred, 1), windows[i, t_his:]) for i in chosen]
    )
    assert still["ADE"] == pytest.approx(expected)
    assert still["ADE"] != pytest.approx(evaluate(ZeroVelocity(), windows, H36M, samples=1, steps=1)["ADE"])
