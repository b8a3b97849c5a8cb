"""Unicom: universal and compact representation learning for image retrieval.

An, Deng, Yang, Zhang, Kuang, Zafeiriou, Wang, "Unicom: Universal and Compact Representation
Learning for Image Retrieval", ICLR 2023.

Unicom clusters a large unlabelled collection (CLIP image and text features) into a million
pseudo-classes and trains a margin softmax over them. Clustering splits true classes and merges
others, so many negative prototypes are really positives ("inter-class conflict"). Two random
subsets reduce the damage:

  - partial classes: each step's softmax runs over every positive prototype of the batch plus a
    random share r_c of the other prototypes, so a conflicting prototype is usually not there to
    push against;
  - partial dimensions: each step uses a random subset of the feature dimensions (shared by the
    embeddings and the prototypes, both renormalised in that subspace), which trains every subset to
    be discriminative on its own and makes the embedding robust when cut to fewer dimensions.

    loss = ArcFace(normalise(e[:, D]), normalise(W[C][:, D]), labels remapped to C),  s = 32, m = 0.3,
    C = positives + random r_c of the negatives (r_c = 0.2 here when enabled), D = random r_d of the
    dimensions (r_d = 0.5 when enabled); prototypes W ~ N(0, 0.01), trained at 10x the network's rate.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

from ..rts import arcface_logits

SCALE, MARGIN = 32.0, 0.3
PROTOTYPE_LR_FACTOR = 10.0


def sampled_classes(labels: torch.Tensor, count: int, ratio: float) -> tuple[torch.Tensor, torch.Tensor]:
    """(prototype indices kept this step, the labels renumbered into that subset): every class in
    ``labels`` plus a random ``ratio`` of the other ``count`` classes."""
    positives = torch.unique(labels)
    if ratio >= 1:
        kept = torch.arange(count)
    else:
        others = torch.ones(count, dtype=torch.bool)
        others[positives] = False
        negatives = torch.nonzero(others).squeeze(1)
        chosen = negatives[torch.randperm(len(negatives))[: int(round(ratio * len(negatives)))]]
        kept = torch.cat([positives, chosen])
    position = torch.full((count,), -1, dtype=torch.long)
    position[kept] = torch.arange(len(kept))
    return kept, position[labels]


def sampled_dimensions(dim: int, ratio: float) -> torch.Tensor:
    """A random ``ratio`` of the ``dim`` feature dimensions (all of them for ratio >= 1)."""
    if ratio >= 1:
        return torch.arange(dim)
    return torch.randperm(dim)[: max(1, int(round(ratio * dim)))]


class UnicomHead(nn.Module):
    """Prototypes of ``count`` pseudo-classes and the partial margin softmax over them."""

    def __init__(self, dim: int, count: int, class_ratio: float = 1.0, dim_ratio: float = 1.0):
        super().__init__()
        self.prototypes = nn.Parameter(0.01 * torch.randn(count, dim))
        self.class_ratio, self.dim_ratio = class_ratio, dim_ratio

    def forward(self, embeddings: torch.Tensor, labels: torch.Tensor) -> torch.Tensor:
        kept, remapped = sampled_classes(labels, len(self.prototypes), self.class_ratio)
        dims = sampled_dimensions(embeddings.shape[1], self.dim_ratio)
        logits = arcface_logits(
            F.normalize(embeddings[:, dims], dim=1), self.prototypes[kept][:, dims], remapped, SCALE, MARGIN
        )
        return F.cross_entropy(logits, remapped)

    def parameter_groups(self, network: nn.Module, learning_rate: float) -> list[dict]:
        """Optimizer groups: the network at ``learning_rate``, the prototypes 10x faster."""
        return [
            {"params": network.parameters(), "lr": learning_rate},
            {"params": [self.prototypes], "lr": PROTOTYPE_LR_FACTOR * learning_rate},
        ]


__all__ = ["PROTOTYPE_LR_FACTOR", "UnicomHead", "sampled_classes", "sampled_dimensions"]
