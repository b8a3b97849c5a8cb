"""CVSA: cross-view saliency alignment for contrastive pretraining that looks at the object.

Wu, Li, Zang, Li, "Exploring Localization for Self-supervised Fine-grained Contrastive Learning"
(arXiv 2106.15788, 2021; first titled "Align Yourself: Self-supervised Pre-training for Fine-grained
Recognition via Saliency Alignment"). No public code; this follows the paper's description.

Contrastive pretraining (MoCo / SimCLR) is prone to memorising background texture: two crops of one
photo share their background, so the background alone identifies the instance. CVSA makes a new view
by pasting the salient region of image A onto image B's background,

    x_swap = s_A * x_A + (1 - s_A) * x_B,        s_A in [0, 1]: A's saliency map,

so the positive pair (a view of A, x_swap) agrees only on A's object. On top of InfoNCE it aligns the
object's features across the two views: with f_fg(x, s) the saliency-weighted average of the
encoder's feature map (the region's pooled feature),

    L = InfoNCE(q, k) + lambda * (1 - cos(f_fg(view of A, s_A), f_fg(x_swap, s_A))),

InfoNCE(q, k) = -mean_i log softmax_j(q_i . k_j / tau) over the batch (both directions averaged, q and
k L2-normalised), tau = 0.2, lambda = 1 (our defaults; the paper gives none we could check).
"""

from __future__ import annotations

import torch
import torch.nn.functional as F

TEMPERATURE = 0.2
ALIGNMENT_WEIGHT = 1.0


def swap_view(images: torch.Tensor, backgrounds: torch.Tensor, saliency: torch.Tensor) -> torch.Tensor:
    """A's salient pixels (weight ``saliency``) over B's background: s * x_A + (1 - s) * x_B."""
    return saliency * images + (1 - saliency) * backgrounds


def foreground_features(feature_map: torch.Tensor, saliency: torch.Tensor) -> torch.Tensor:
    """(B, C, h, w) map, (B, 1, H, W) saliency -> (B, C): the map averaged with the saliency, resized to
    the map by area, as weights (the object's pooled feature)."""
    weights = F.adaptive_avg_pool2d(saliency, feature_map.shape[-2:])
    return (feature_map * weights).sum(dim=(2, 3)) / weights.sum(dim=(2, 3)).clamp_min(1e-6)


def alignment_loss(original: torch.Tensor, swapped: torch.Tensor) -> torch.Tensor:
    """Mean 1 - cos between the object's features in the two views: 0 when they point the same way."""
    return (1 - F.cosine_similarity(original, swapped, dim=1)).mean()


def info_nce(queries: torch.Tensor, keys: torch.Tensor, temperature: float = TEMPERATURE) -> torch.Tensor:
    """In-batch InfoNCE: query i's positive is key i, every other key is a negative; symmetric."""
    queries, keys = F.normalize(queries, dim=1), F.normalize(keys, dim=1)
    logits = queries @ keys.T / temperature
    targets = torch.arange(len(queries), device=queries.device)
    return (F.cross_entropy(logits, targets) + F.cross_entropy(logits.T, targets)) / 2


def cvsa_loss(
    queries: torch.Tensor,
    keys: torch.Tensor,
    foreground_original: torch.Tensor,
    foreground_swapped: torch.Tensor,
    weight: float = ALIGNMENT_WEIGHT,
    temperature: float = TEMPERATURE,
) -> torch.Tensor:
    """InfoNCE between a view of A (queries) and A's swapped view (keys), plus lambda x the alignment of
    A's object features across the two."""
    return info_nce(queries, keys, temperature) + weight * alignment_loss(foreground_original, foreground_swapped)


__all__ = [
    "ALIGNMENT_WEIGHT",
    "TEMPERATURE",
    "alignment_loss",
    "cvsa_loss",
    "foreground_features",
    "info_nce",
    "swap_view",
]
