"""DAL on digits with symmetric label noise (40%, and 60% as a second metric): clean test accuracy of
CE (baseline), GCE and DAL, each training the same MLP on the same noisy labels."""

from __future__ import annotations

import numpy as np
import torch
import torch.nn.functional as F

from ..harness.data import digits, symmetric_noise
from ..harness.experiment import Arms, Experiment
from ..harness.metrics import accuracy
from ..harness.models import Classifier
from ..harness.training import fit, loss_step, outputs
from . import dal_loss, generalized_cross_entropy

LOSSES = {
    "CE": lambda logits, labels, progress: F.cross_entropy(logits, labels),
    "GCE": lambda logits, labels, progress: generalized_cross_entropy(logits, labels, 0.7),
    "DAL": dal_loss,
}


def run(seed: int, quick: bool = False) -> Arms:
    split = digits(seed)
    arms: Arms = {name: {} for name in LOSSES}
    for rate in (0.4, 0.6):
        noisy, _ = symmetric_noise(split.y_train, rate, np.random.default_rng(seed))
        for name, loss in LOSSES.items():
            torch.manual_seed(seed)
            model = Classifier()
            fit(
                model,
                loss_step(lambda m, batch, progress, loss=loss: loss(m(batch[0]), batch[1], progress)),
                [split.x_train, noisy],
                epochs=15 if quick else 60,
                seed=seed,
            )
            arms[name][f"accuracy@{int(rate * 100)}%"] = accuracy(outputs(model, split.x_test).argmax(1), split.y_test)
    return arms


EXPERIMENT = Experiment(
    name="dal",
    title="DAL: dynamics-aware loss (label noise)",
    paper="DAL: a dynamics-aware loss for learning with label noise, 2023",
    claim="DAL beats CE and robust losses such as GCE under symmetric label noise",
    expectation="with 40% symmetric label noise on digits, DAL's clean test accuracy exceeds CE's",
    baseline="CE",
    method="DAL",
    metric="accuracy@40%",
    higher_is_better=True,
    run=run,
)
