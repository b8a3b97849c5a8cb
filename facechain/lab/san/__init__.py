"""SAN: an all-in-one open-set classifier with a soft contrastive loss, for open-set / universal
domain adaptation.

Zang, Li et al., "Boosting Novel Category Discovery Over Domains with Soft Contrastive Learning and
All in One Classifier" (SAN), ICCV 2023.

A labelled source domain holds K known classes; the unlabelled target domain is shifted and also
holds classes the source never shows, which must be rejected as "unknown". OVANet (Saito & Saenko,
ICCV 2021) adds K one-vs-all binary classifiers to a closed-set classifier; SAN folds both into one
softmax over 2K logits, a "known" and an "unknown" slot per class, so the known-vs-unknown decision
and the class decision are made by the same normalised distribution:

    p = softmax over the 2K logits;  p_known[k], p_unknown[k]
    L_pos  = -log p_known[y]
    L_neg  = max_{k != y} -log p_unknown[k]                                     (the hardest other class)
    L_conn = beta * mean -log sigmoid( max_k p_known - max_k p_unknown )         beta = 1.5
    L_open = L_pos + L_neg + L_conn
    L_ent  = mean over target items and classes of the binary entropy of p_known[k] / (p_known[k] + p_unknown[k])
    L_SCL  = the soft contrastive loss on two views of each target item: the Student-t kernel and
             two-way divergence of facechain.mapping.manifold (shared with EVNet and DLME), P from the
             backbone features with each view pair near 1, Q on the projection of both views
    total  = CE(known logits, y) + alpha L_open + gamma L_SCL + lambda_e L_ent,
             alpha = 1, gamma = 0.1, lambda_e = 0.1.

A target item is unknown when max_k p_unknown >= max_k p_known; otherwise its class is the argmax of
p_known.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

from ...mapping.manifold import manifold_loss, squared_distances, two_view_distances

ALPHA, BETA, GAMMA, LAMBDA_ENTROPY = 1.0, 1.5, 0.1, 0.1


def known_unknown(logits: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """Split the all-in-one softmax over (n, 2K) logits into (p_known, p_unknown), each (n, K)."""
    probabilities = logits.softmax(dim=1)
    classes = logits.shape[1] // 2
    return probabilities[:, :classes], probabilities[:, classes:]


def pair_log_odds(logits: torch.Tensor) -> torch.Tensor:
    """Per class, log p_known[k] - log p_unknown[k] (the softmax's normaliser cancels)."""
    classes = logits.shape[1] // 2
    return logits[:, :classes] - logits[:, classes:]


def open_set_loss(logits: torch.Tensor, labels: torch.Tensor, beta: float = BETA) -> torch.Tensor:
    """L_pos + L_neg + L_conn on labelled (source) items."""
    log_p = logits.log_softmax(dim=1)
    positive = -log_p.gather(1, labels[:, None]).squeeze(1)
    log_unknown = log_p[:, logits.shape[1] // 2 :]
    negative = (-log_unknown).scatter(1, labels[:, None], float("-inf")).max(dim=1).values
    p_known, p_unknown = known_unknown(logits)
    connection = -F.logsigmoid(p_known.max(dim=1).values - p_unknown.max(dim=1).values)
    return (positive + negative + beta * connection).mean()


def open_set_entropy(logits: torch.Tensor) -> torch.Tensor:
    """Mean binary entropy of each class's known-vs-unknown split, on unlabelled (target) items."""
    odds = pair_log_odds(logits)
    known = torch.sigmoid(odds)
    return -(known * F.logsigmoid(odds) + (1 - known) * F.logsigmoid(-odds)).mean()


def soft_contrastive_loss(features: torch.Tensor, projections: torch.Tensor) -> torch.Tensor:
    """D(P, Q) for a batch of B items seen twice: ``features`` (B, d) of the first views give P (each
    view pair near 1), ``projections`` (2B, e) of both views stacked give Q."""
    return manifold_loss(two_view_distances(squared_distances(features)), projections)


def san_loss(
    logits: torch.Tensor,
    labels: torch.Tensor,
    target_logits: torch.Tensor,
    target_features: torch.Tensor,
    target_projections: torch.Tensor,
    entropy_weight: float = LAMBDA_ENTROPY,
) -> torch.Tensor:
    """The total SAN objective of one step: labelled source logits (n, 2K) and labels; target logits
    of the first views, their backbone features (B, d) and the projections of both views (2B, e)."""
    classes = logits.shape[1] // 2
    return (
        F.cross_entropy(logits[:, :classes], labels)
        + ALPHA * open_set_loss(logits, labels)
        + GAMMA * soft_contrastive_loss(target_features, target_projections)
        + entropy_weight * open_set_entropy(target_logits)
    )


@torch.no_grad()
def open_set_predictions(logits: torch.Tensor) -> torch.Tensor:
    """The predicted known class, or -1 for unknown (max p_unknown >= max p_known)."""
    p_known, p_unknown = known_unknown(logits)
    return torch.where(p_unknown.max(dim=1).values >= p_known.max(dim=1).values, -1, p_known.argmax(dim=1))


class AllInOneHead(nn.Module):
    """2K logits (known slots, then unknown slots) and a projection for the contrastive loss."""

    def __init__(self, features: int, classes: int, projection: int = 32):
        super().__init__()
        self.logits = nn.Linear(features, 2 * classes)
        self.projection = nn.Sequential(nn.Linear(features, features), nn.ReLU(), nn.Linear(features, projection))

    def forward(self, features: torch.Tensor) -> torch.Tensor:
        return self.logits(features)


__all__ = [
    "AllInOneHead",
    "known_unknown",
    "open_set_entropy",
    "open_set_loss",
    "open_set_predictions",
    "pair_log_odds",
    "san_loss",
    "soft_contrastive_loss",
]
