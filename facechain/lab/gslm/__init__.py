"""GSLM: general-specific learning for weakly supervised semantic segmentation (2023).

Only image-level labels are given. The *general* module is a classifier whose class activation maps
(CAM_c = ReLU(sum_k w_ck F_k), each normalised by its maximum) mark the most discriminative part of
each object. The *specific* module is a pixel head trained on the CAM's confident pixels (CAM >= high:
that class; every present class's CAM < low: background; the rest ignored), which learns what the
object looks like everywhere, not only where it is most telling, and so expands the masks. *Seed
reactivation* then raises the activation of pixels that the specific head assigns to a present class
with confidence but the CAM left low, bounded by the head's own probability (activation <= p), and
the head is retrained on the reactivated seeds; this repeats a few times.

Our reading of "raises activations under a boundary": the new activation is max(CAM, p_c) where the
head is confident (p_c >= ``confidence``), so no pixel is raised above what the specific module
supports; and pixels of absent classes are never raised.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

IGNORE = -1


def class_activation_maps(features: torch.Tensor, weights: torch.Tensor) -> torch.Tensor:
    """features (B, K, H, W), classifier weights (C, K) -> (B, C, H, W) in [0, 1], each map / its max."""
    cams = F.relu(torch.einsum("bkhw,ck->bchw", features, weights))
    return cams / cams.flatten(2).max(dim=2).values.clamp_min(1e-6)[..., None, None]


def pseudo_labels(
    activations: torch.Tensor, present: torch.Tensor, high: float = 0.5, low: float = 0.15
) -> torch.Tensor:
    """(B, C, H, W) activations, (B, C) image labels -> (B, H, W): 0 background, c + 1 class c, -1 ignore."""
    masked = activations * present[..., None, None]
    best, which = masked.max(dim=1)
    labels = torch.full_like(which, IGNORE)
    labels[best < low] = 0
    labels[best >= high] = which[best >= high] + 1
    return labels


def segmentation_masks(activations: torch.Tensor, present: torch.Tensor, threshold: float) -> torch.Tensor:
    """Hard masks from activations: the strongest present class where it reaches ``threshold``, else 0."""
    best, which = (activations * present[..., None, None]).max(dim=1)
    return torch.where(best >= threshold, which + 1, torch.zeros_like(which))


def reactivate(
    activations: torch.Tensor, probabilities: torch.Tensor, present: torch.Tensor, confidence: float = 0.7
) -> torch.Tensor:
    """Raise each present class's activation to the specific head's probability where the head is
    confident. activations (B, C, H, W); probabilities (B, C + 1, H, W) with background first."""
    classes = probabilities[:, 1:] * present[..., None, None]
    raised = torch.where(classes >= confidence, torch.maximum(activations, classes), activations)
    return raised


class SpecificHead(nn.Module):
    """A small pixel classifier (background + C classes) over the general module's features and the image."""

    def __init__(self, feature_channels: int, image_channels: int, classes: int, width: int = 32):
        super().__init__()
        self.net = nn.Sequential(
            nn.Conv2d(feature_channels + image_channels, width, 3, padding=1),
            nn.ReLU(),
            nn.Conv2d(width, width, 3, padding=1),
            nn.ReLU(),
            nn.Conv2d(width, classes + 1, 1),
        )

    def forward(self, features: torch.Tensor, image: torch.Tensor) -> torch.Tensor:
        return self.net(torch.cat([features, image], dim=1))


def specific_loss(logits: torch.Tensor, labels: torch.Tensor) -> torch.Tensor:
    """Pixel cross-entropy on the seeds only (ignored pixels carry no loss)."""
    return F.cross_entropy(logits, labels, ignore_index=IGNORE)


__all__ = [
    "IGNORE",
    "SpecificHead",
    "class_activation_maps",
    "pseudo_labels",
    "reactivate",
    "segmentation_masks",
    "specific_loss",
]
