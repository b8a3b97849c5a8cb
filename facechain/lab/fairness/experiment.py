"""The fairness regularizer on digits made long-tailed (imbalance ratio 20: digit 0 keeps every
training example, digit 9 one in twenty) with 30% symmetric label noise on top. Four arms train the
same MLP: CE (baseline), CE + FR, logit adjustment (LA) and LA + FR, FR over head vs tail classes
by noisy-label frequency, lambda = 1. Scored on the balanced test split: accuracy on the tail
classes (primary), on the head classes, and overall."""

from __future__ import annotations

import numpy as np
import torch
import torch.nn.functional as F

from ..harness.data import CLASSES, digits, long_tail, symmetric_noise
from ..harness.experiment import Arms, Experiment
from ..harness.metrics import accuracy
from ..harness.models import Classifier
from ..harness.training import fit, loss_step, outputs
from . import fair_loss, head_tail_groups, logit_adjusted_cross_entropy

IMBALANCE, NOISE = 20, 0.3


def arm_loss(adjusted: bool, fair: bool, log_prior: torch.Tensor, group_of_class: torch.Tensor):
    """The loss(model, batch, progress) of one arm."""

    def loss(model, batch, progress):
        x, y = batch
        logits = model(x)
        base = logit_adjusted_cross_entropy(logits, y, log_prior) if adjusted else F.cross_entropy(logits, y)
        return fair_loss(base, logits, y, group_of_class[y]) if fair else base

    return loss


def run(seed: int, quick: bool = False) -> Arms:
    split = digits(seed)
    rng = np.random.default_rng(seed)
    kept = long_tail(split.y_train, IMBALANCE, rng)
    x, noisy = split.x_train[kept], symmetric_noise(split.y_train[kept], NOISE, rng)[0]
    counts = np.bincount(noisy, minlength=CLASSES)
    log_prior = torch.as_tensor(np.log(counts / counts.sum()), dtype=torch.float32)
    group_of_class = head_tail_groups(noisy, CLASSES)
    tail = group_of_class[split.y_test] == 1
    arms: Arms = {}
    for name, adjusted, fair in (
        ("CE", False, False),
        ("CE+FR", False, True),
        ("LA", True, False),
        ("LA+FR", True, True),
    ):
        torch.manual_seed(seed)
        model = Classifier()
        fit(
            model,
            loss_step(arm_loss(adjusted, fair, log_prior, torch.as_tensor(group_of_class))),
            [x, noisy],
            epochs=20 if quick else 80,
            batch_size=32,
            seed=seed,
        )
        predicted = outputs(model, split.x_test).argmax(1)
        arms[name] = {
            "tail_accuracy": accuracy(predicted[tail], split.y_test[tail]),
            "head_accuracy": accuracy(predicted[~tail], split.y_test[~tail]),
            "accuracy": accuracy(predicted, split.y_test),
        }
    return arms


EXPERIMENT = Experiment(
    name="fairness",
    title="Fairness regularizer: long-tailed and noisy labels",
    paper="Wei, Zhu, Wang, Liu, Fairness Improves Learning from Noisily Labeled Long-Tailed Data, 2023",
    claim="penalising the gap between sub-populations' performance improves learning from noisy long-tailed "
    "labels, most for the tail, on top of CE or long-tail methods",
    expectation="on digits with imbalance 20 and 30% label noise, CE + FR's tail-class accuracy exceeds CE's",
    baseline="CE",
    method="CE+FR",
    metric="tail_accuracy",
    higher_is_better=True,
    run=run,
)
