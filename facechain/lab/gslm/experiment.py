"""GSLM on synthetic shapes with image labels only: pseudo-mask mIoU of the general module's CAM
(threshold chosen on validation images) against GSLM's specific head after seed reactivation, both
scored on held-out images with known masks."""

from __future__ import annotations

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

from ..harness.data import SHAPES, shapes
from ..harness.experiment import Arms, Experiment
from ..harness.metrics import mean_iou
from ..harness.training import fit, loss_step
from . import SpecificHead, class_activation_maps, pseudo_labels, reactivate, segmentation_masks, specific_loss

CAM_THRESHOLDS = (0.1, 0.2, 0.3, 0.4, 0.5, 0.6)


class GeneralNet(nn.Module):
    """Full-resolution convolutional features, global average pooling, one logit per shape."""

    def __init__(self, classes: int = len(SHAPES), width: int = 32):
        super().__init__()
        self.body = nn.Sequential(
            nn.Conv2d(1, 16, 3, padding=1),
            nn.ReLU(),
            nn.Conv2d(16, width, 3, padding=1),
            nn.ReLU(),
            nn.Conv2d(width, width, 3, padding=2, dilation=2),
            nn.ReLU(),
        )
        self.head = nn.Linear(width, classes)

    def forward(self, image: torch.Tensor) -> torch.Tensor:
        return self.head(self.body(image).mean(dim=(2, 3)))


def multilabel_loss(model: nn.Module, batch: tuple, progress: float) -> torch.Tensor:
    return F.binary_cross_entropy_with_logits(model(batch[0]), batch[1])


class Specific(nn.Module):
    """The specific head over the frozen general features (computed once) and the image."""

    def __init__(self, width: int):
        super().__init__()
        self.head = SpecificHead(width, 1, len(SHAPES))

    def forward(self, features: torch.Tensor, image: torch.Tensor) -> torch.Tensor:
        return self.head(features, image)


def seed_loss(model: nn.Module, batch: tuple, progress: float) -> torch.Tensor:
    features, image, seeds = batch
    return specific_loss(model(features, image), seeds)


@torch.no_grad()
def general_outputs(net: GeneralNet, images: np.ndarray) -> tuple[torch.Tensor, torch.Tensor]:
    features = net.body(torch.from_numpy(images))
    return features, class_activation_maps(features, net.head.weight)


def run(seed: int, quick: bool = False) -> Arms:
    rng = np.random.default_rng(seed)
    count = 240 if quick else 600
    train_x, train_y, _ = shapes(count, rng)
    val_x, val_y, val_masks = shapes(100, rng)
    test_x, test_y, test_masks = shapes(200, rng)
    torch.manual_seed(seed)
    net = GeneralNet()
    fit(net, loss_step(multilabel_loss), [train_x, train_y], epochs=8 if quick else 20, learning_rate=3e-3, seed=seed)
    net.requires_grad_(False)

    val_features, val_cams = general_outputs(net, val_x)
    present_val = torch.from_numpy(val_y)
    threshold = max(
        CAM_THRESHOLDS,
        key=lambda t: mean_iou(segmentation_masks(val_cams, present_val, t).numpy(), val_masks, len(SHAPES) + 1),
    )
    test_features, test_cams = general_outputs(net, test_x)
    present_test = torch.from_numpy(test_y)
    cam_iou = mean_iou(segmentation_masks(test_cams, present_test, threshold).numpy(), test_masks, len(SHAPES) + 1)

    features, activations = general_outputs(net, train_x)
    present = torch.from_numpy(train_y)
    images = torch.from_numpy(train_x)
    rounds = []
    for round_index in range(3):
        seeds = pseudo_labels(activations, present)
        specific = Specific(features.shape[1])
        fit(
            specific,
            loss_step(seed_loss),
            [features, images, seeds],
            epochs=4 if quick else 10,
            learning_rate=3e-3,
            seed=seed + round_index,
        )
        with torch.no_grad():
            probabilities = specific(features, images).softmax(dim=1)
            test_probabilities = specific(test_features, torch.from_numpy(test_x)).softmax(dim=1)
        activations = reactivate(activations, probabilities, present)
        rounds.append(
            mean_iou(restricted_argmax(test_probabilities, present_test).numpy(), test_masks, len(SHAPES) + 1)
        )
    return {
        "CAM": {"mIoU": cam_iou},
        "specific head (no reactivation)": {"mIoU": rounds[0]},
        "GSLM": {"mIoU": rounds[-1]},
    }


def restricted_argmax(probabilities: torch.Tensor, present: torch.Tensor) -> torch.Tensor:
    """Per-pixel label among background and the image's present classes."""
    allowed = torch.cat([torch.ones_like(present[:, :1]), present], dim=1)[..., None, None]
    return (probabilities * allowed).argmax(dim=1)


EXPERIMENT = Experiment(
    name="gslm",
    title="GSLM: general-specific learning (WSSS)",
    paper="GSLM: general-specific learning for weakly supervised semantic segmentation, 2023",
    claim="the specific module and seed reactivation expand CAM's partial activations into fuller masks",
    expectation="on shapes with image labels only, GSLM's pseudo-masks have a higher mIoU than thresholded CAM "
    "(threshold chosen on validation images)",
    baseline="CAM",
    method="GSLM",
    metric="mIoU",
    higher_is_better=True,
    run=run,
)
