"""RTS on digits as an open-set problem: train on digits 0-4 (in-distribution), score the test digits
0-9, and ask how well each score tells 5-9 (out-of-distribution) from 0-4 (AUROC, and the share of
5-9 kept at the threshold that keeps 95% of 0-4). Arms: CE with the max-softmax score (baseline) and
the same classifier trained with random temperatures, scored by its max-softmax (primary metric).
Extra RTS metrics: the max-softmax of the logits divided by the expected temperature
(``scaled_ood_auroc``), and the expected temperature itself as the score (``v_ood_auroc``) with its
sign (``v_sign``: +1 when a high temperature means in-distribution) calibrated on the validation
split's 0-4 against 5-9."""

from __future__ import annotations

import numpy as np
import torch
from torch import nn

from ..harness.data import digits
from ..harness.experiment import Arms, Experiment
from ..harness.metrics import accuracy, auroc, fpr_at_95_tpr, max_softmax
from ..harness.models import Classifier
from ..harness.training import cross_entropy, fit, loss_step, outputs
from . import VarianceHead, calibrate_sign, expected_temperature, rts_loss

IN_DISTRIBUTION = 5  # digits 0-4; 5-9 are out-of-distribution


class RTSClassifier(nn.Module):
    """The harness classifier with a variance head on its feature layer; ``forward`` gives the logits."""

    def __init__(self, classes: int):
        super().__init__()
        self.classifier = Classifier(classes=classes)
        self.variance = VarianceHead(self.classifier.head.in_features)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.classifier(x)

    def logits_and_variance(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        feature = self.classifier.features(x)
        return self.classifier.head(feature), self.variance(feature)

    def logits_and_temperature(self, x: torch.Tensor) -> torch.Tensor:
        """(n, classes + 1): the logits, then the expected temperature E[T | v]."""
        logits, v = self.logits_and_variance(x)
        return torch.cat([logits, expected_temperature(v)[:, None]], dim=1)


def rts_step(model: RTSClassifier, batch: tuple, progress: float) -> torch.Tensor:
    logits, v = model.logits_and_variance(batch[0])
    return rts_loss(logits, batch[1], v)


def trained(build, step, x: np.ndarray, y: np.ndarray, epochs: int, seed: int) -> nn.Module:
    torch.manual_seed(seed)
    model = build(classes=IN_DISTRIBUTION)
    fit(model, loss_step(step), [x, y], epochs=epochs, seed=seed)
    return model


def run(seed: int, quick: bool = False) -> Arms:
    split = digits(seed)
    known = split.y_train < IN_DISTRIBUTION
    test_in, val_in = split.y_test < IN_DISTRIBUTION, split.y_val < IN_DISTRIBUTION
    epochs = 10 if quick else 40
    ce = trained(Classifier, cross_entropy, split.x_train[known], split.y_train[known], epochs, seed)
    rts = trained(RTSClassifier, rts_step, split.x_train[known], split.y_train[known], epochs, seed)

    def arm(logits: np.ndarray) -> dict[str, float]:
        score = max_softmax(logits)
        return {
            "id_accuracy": accuracy(logits[test_in].argmax(1), split.y_test[test_in]),
            "ood_auroc": auroc(score[test_in], score[~test_in]),
            "fpr@95tpr": fpr_at_95_tpr(score[test_in], score[~test_in]),
        }

    scored = outputs(rts.logits_and_temperature, split.x_test)
    logits, temperature = scored[:, :-1], scored[:, -1]
    scaled = max_softmax(logits / temperature[:, None])
    validation_temperature = outputs(rts.logits_and_temperature, split.x_val)[:, -1]
    sign = calibrate_sign(validation_temperature[val_in], validation_temperature[~val_in])
    return {
        "CE": arm(outputs(ce, split.x_test)),
        "RTS": arm(logits)
        | {
            "scaled_ood_auroc": auroc(scaled[test_in], scaled[~test_in]),
            "v_sign": float(sign),
            "v_ood_auroc": auroc(sign * temperature[test_in], sign * temperature[~test_in]),
        },
    }


EXPERIMENT = Experiment(
    name="rts",
    title="RTS: random temperature scaling (OOD digits)",
    paper="Shang et al., Improving Training and Inference of Face Recognition Models via Random Temperature "
    "Scaling, AAAI 2023",
    claim="RTS's variance is an OOD/low-quality score learned without extra labels, and RTS training gives top "
    "face recognition and OOD detection performance",
    expectation="trained on digits 0-4, the RTS classifier's max-softmax separates unseen digits 5-9 from 0-4 "
    "better (higher AUROC) than the CE classifier's",
    baseline="CE",
    method="RTS",
    metric="ood_auroc",
    higher_is_better=True,
    run=run,
)
