"""CVSA against plain contrastive pretraining on a background shortcut: digits (upsampled to 16x16)
drawn over one of ten oriented gratings (random phase). In the training split a digit's grating is its
class's with probability 0.9; in validation and test it is random. Each encoder is pretrained without
labels on the training images, then a linear probe is fitted on the training split's labels and
scored on the test split, where the background says nothing about the class.

The saliency map is the glyph's own mask (pixels where the digit's ink is drawn): an ideal saliency
detector, standing in for the unsupervised one the paper uses on real photos. Arms: the baseline
(InfoNCE between two augmented views of an image), CVSA without the alignment term (the swapped view
alone) and CVSA. Besides accuracy, ``background_decodability`` is how well a linear probe reads the
grating (fitted on validation, scored on test): lower means features that ignore the background."""

from __future__ import annotations

import math

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

from ..a2mim import tiny_resnet
from ..a2mim.experiment import SIDE, probe_accuracy, upsampled
from ..harness.data import CLASSES, digits
from ..harness.experiment import Arms, Experiment
from ..harness.training import fit, loss_step
from . import cvsa_loss, foreground_features, info_nce, swap_view

SHORTCUT = 0.9  # share of training images drawn over their class's grating
INK = 0.35  # glyph pixels: ink above this
WIDTHS = (8, 16, 32)
SHIFT = 2  # largest translation of an augmented view, in pixels
QUICK_IMAGES = 384  # the quick run pretrains on this many training images


def grating(kind: int, phase: float) -> np.ndarray:
    """Background ``kind`` (0-9): five orientations x two periods, values in [0.05, 0.45]."""
    angle, period = (kind % 5) * math.pi / 5, (3.0 if kind < 5 else 6.0)
    yy, xx = np.mgrid[:SIDE, :SIDE]
    wave = np.sin(2 * math.pi * (xx * math.cos(angle) + yy * math.sin(angle)) / period + phase)
    return (0.25 + 0.2 * wave).astype(np.float32)


def scenes(glyphs: np.ndarray, labels: np.ndarray, shortcut: float, rng: np.random.Generator):
    """(images, saliency, background kinds): each glyph over a grating that is its class's with
    probability ``shortcut`` and random otherwise."""
    kinds = np.where(rng.random(len(labels)) < shortcut, labels, rng.integers(0, CLASSES, len(labels)))
    backgrounds = np.stack([grating(k, rng.uniform(0, 2 * math.pi)) for k in kinds])[:, None]
    saliency = (glyphs > INK).astype(np.float32)
    return (
        swap_view(torch.from_numpy(glyphs), torch.from_numpy(backgrounds), torch.from_numpy(saliency)).numpy(),
        saliency,
        kinds,
    )


def augmented(images: torch.Tensor, saliency: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """A random view: the same integer translation (up to ``SHIFT`` pixels) for image and saliency,
    then brightness / contrast jitter and pixel noise on the image."""
    count = len(images)
    shifts = torch.randint(-SHIFT, SHIFT + 1, (count, 2)).float() * 2 / SIDE
    theta = torch.zeros(count, 2, 3)
    theta[:, 0, 0] = theta[:, 1, 1] = 1
    theta[:, :, 2] = shifts
    grid = F.affine_grid(theta, list(images.shape), align_corners=False)
    moved = F.grid_sample(
        torch.cat([images, saliency], dim=1), grid, mode="nearest", padding_mode="border", align_corners=False
    )
    view, moved_saliency = moved[:, :1], moved[:, 1:]
    contrast = torch.empty(count, 1, 1, 1).uniform_(0.7, 1.3)
    brightness = torch.empty(count, 1, 1, 1).uniform_(-0.15, 0.15)
    return view * contrast + brightness + 0.05 * torch.randn_like(view), moved_saliency


class ContrastiveNet(nn.Module):
    """The tiny ResNet, globally pooled, with a two-layer projection head for InfoNCE."""

    def __init__(self):
        super().__init__()
        self.encoder = nn.Sequential(*tiny_resnet(widths=WIDTHS))
        self.projector = nn.Sequential(nn.Linear(WIDTHS[-1], 64), nn.ReLU(), nn.Linear(64, 32))

    def feature_map(self, x: torch.Tensor) -> torch.Tensor:
        return self.encoder(x)

    def features(self, x: torch.Tensor) -> torch.Tensor:
        return self.feature_map(x).mean(dim=(2, 3))

    def embed(self, feature_map: torch.Tensor) -> torch.Tensor:
        return self.projector(feature_map.mean(dim=(2, 3)))


def plain_contrastive(model: ContrastiveNet, batch: tuple, progress: float) -> torch.Tensor:
    """The baseline: two augmented views of each image are the positive pair."""
    images, saliency = batch
    first, second = (model.embed(model.feature_map(augmented(images, saliency)[0])) for _ in range(2))
    return info_nce(first, second)


def saliency_swap(weight: float):
    """CVSA's step: a view of A against A's object pasted on another batch image, plus ``weight`` x the
    alignment of A's object features across the two."""

    def objective(model: ContrastiveNet, batch: tuple, progress: float) -> torch.Tensor:
        images, saliency = batch
        swapped = swap_view(images, images[torch.randperm(len(images))], saliency)
        view, view_saliency = augmented(images, saliency)
        swap, swap_saliency = augmented(swapped, saliency)
        view_map, swap_map = model.feature_map(view), model.feature_map(swap)
        return cvsa_loss(
            model.embed(view_map),
            model.embed(swap_map),
            foreground_features(view_map, view_saliency),
            foreground_features(swap_map, swap_saliency),
            weight=weight,
        )

    return objective


def scores(model: ContrastiveNet, data: dict) -> dict[str, float]:
    model.eval()
    with torch.no_grad():
        features = {name: model.features(torch.from_numpy(images)).numpy() for name, (images, *_) in data.items()}
    (_, _, train_y), (_, _, val_kinds), (_, _, test_y, test_kinds) = data["train"], data["val"], data["test"]
    return {
        "test_accuracy": probe_accuracy(features["train"], train_y, features["test"], test_y),
        "background_decodability": probe_accuracy(features["val"], val_kinds, features["test"], test_kinds),
    }


def run(seed: int, quick: bool = False) -> Arms:
    rng = np.random.default_rng(seed)
    split = digits(seed)
    train_x, train_s, _ = scenes(upsampled(split.x_train), split.y_train, SHORTCUT, rng)
    val_x, _, val_kinds = scenes(upsampled(split.x_val), split.y_val, 0.0, rng)
    test_x, _, test_kinds = scenes(upsampled(split.x_test), split.y_test, 0.0, rng)
    data = {
        "train": (train_x, train_s, split.y_train),
        "val": (val_x, None, val_kinds),
        "test": (test_x, None, split.y_test, test_kinds),
    }
    pretrain_x, pretrain_s = (train_x[:QUICK_IMAGES], train_s[:QUICK_IMAGES]) if quick else (train_x, train_s)
    epochs = 2 if quick else 12
    steps = {"contrastive": plain_contrastive, "swap view only": saliency_swap(0.0), "CVSA": saliency_swap(1.0)}
    arms = {}
    for name, step in steps.items():
        torch.manual_seed(seed)
        model = ContrastiveNet()
        fit(
            model,
            loss_step(step),
            [pretrain_x, pretrain_s],
            epochs=epochs,
            batch_size=64,
            learning_rate=2e-3,
            seed=seed,
        )
        arms[name] = scores(model, data)
    return arms


EXPERIMENT = Experiment(
    name="cvsa",
    title="CVSA vs contrastive pretraining on a background shortcut",
    paper="Wu, Li, Zang, Li, Exploring Localization for Self-supervised Fine-grained Contrastive Learning, "
    "arXiv 2106.15788, 2021",
    claim="contrastive pretraining memorises background texture; swapping salient regions across views and "
    "aligning their features improves fine-grained classification (CUB, Cars, Aircraft, NABirds) over MoCo v2",
    expectation="with backgrounds tied to the class only in the training split, a probe on CVSA features keeps "
    "its accuracy on test images with shuffled backgrounds, while the contrastive baseline's drops",
    baseline="contrastive",
    method="CVSA",
    metric="test_accuracy",
    higher_is_better=True,
    run=run,
)
