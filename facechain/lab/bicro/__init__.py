"""BiCro: bidirectional cross-modal similarity consistency for noisy image-text correspondence.

Yang, Huang, Luo, Guo, Zhang, Zhou, Hu, "BiCro: Noisy Correspondence Rectification for Multi-modality
Data via Bi-directional Cross-modal Similarity Consistency", CVPR 2023.

Web-crawled pairs are often mismatched, and a matching loss trusts every pair. A mismatched pair can
be spotted, and softened rather than dropped, because similar images should have similar texts: for
an image-text pair (I, T) and a trusted anchor pair (I_a, T_a) whose image is nearest to I,

    r = cos(I, I_a) / cos(T, T_a),   C_i2t = min(r, 1 / r)        (1 when the two similarities agree)

and C_t2i the same with the anchor whose text is nearest to T. Anchors are the 10% of pairs with
the highest clean probability. A two-component Gaussian mixture on the per-pair loss gives that
probability (the low-loss component is "clean"); the soft correspondence label is

    y* = (C_i2t + C_t2i) / 2              for pairs the mixture calls noisy,
    y* = 1/2 + (C_i2t + C_t2i) / 4        for pairs it calls clean,

and it sets the margin of the hinge triplet loss with hardest in-batch negatives (VSE++, Faghri et
al., BMVC 2018) per pair: alpha_i = alpha (m^{y*_i} - 1) / (m - 1), alpha = 0.2, m = 10. Two networks
co-teach: each one's labels train the other. Training starts with a warm-up on the 30% lowest-loss
pairs of each batch.
"""

from __future__ import annotations

import numpy as np
import torch
import torch.nn.functional as F

MARGIN, BASE = 0.2, 10.0  # alpha, m
ANCHOR_SHARE, WARMUP_KEEP = 0.1, 0.3


def soft_margin(labels: torch.Tensor, alpha: float = MARGIN, base: float = BASE) -> torch.Tensor:
    """alpha (m^y - 1) / (m - 1): alpha for y = 1, 0 for y = 0."""
    return alpha * (base**labels - 1) / (base - 1)


def hinge_triplet(images: torch.Tensor, texts: torch.Tensor, margins: torch.Tensor) -> torch.Tensor:
    """Per-pair VSE++ loss of L2-normalised embeddings (n, d), pair i = (images[i], texts[i]):
    [m_i - s_ii + max_j s_ij]_+ + [m_i - s_ii + max_j s_ji]_+ over the other items j of the batch."""
    similarity = images @ texts.T
    positive = similarity.diagonal()
    others = similarity.masked_fill(torch.eye(len(images), dtype=torch.bool), float("-inf"))
    return F.relu(margins - positive + others.max(dim=1).values) + F.relu(margins - positive + others.max(dim=0).values)


def clean_probability(losses: np.ndarray, seed: int = 0) -> np.ndarray:
    """P(clean) per pair: the posterior of the lower-mean component of a 2-component Gaussian mixture
    fitted to the min-max normalised losses."""
    from sklearn.mixture import GaussianMixture

    scaled = (losses - losses.min()) / max(float(np.ptp(losses)), 1e-12)
    mixture = GaussianMixture(2, max_iter=20, tol=1e-2, reg_covar=5e-4, random_state=seed).fit(scaled[:, None])
    return mixture.predict_proba(scaled[:, None])[:, int(np.argmin(mixture.means_.ravel()))]


def consistency(
    query_a: torch.Tensor, query_b: torch.Tensor, anchors_a: torch.Tensor, anchors_b: torch.Tensor
) -> torch.Tensor:
    """C_a2b: for each pair, the anchor nearest in modality a; min(r, 1/r) with
    r = cos(a, anchor_a) / cos(b, anchor_b), cosines clamped to be positive."""
    nearest = (query_a @ anchors_a.T).argmax(dim=1)
    near_a = (query_a * anchors_a[nearest]).sum(dim=1).clamp_min(1e-6)
    near_b = (query_b * anchors_b[nearest]).sum(dim=1).clamp_min(1e-6)
    ratio = near_a / near_b
    return torch.minimum(ratio, 1 / ratio)


def soft_labels(
    images: torch.Tensor, texts: torch.Tensor, clean_prob: np.ndarray, anchor_share: float = ANCHOR_SHARE
) -> torch.Tensor:
    """BiCro's y* for every pair from normalised embeddings and the mixture's clean probabilities."""
    anchors = torch.as_tensor(np.argsort(-clean_prob)[: max(1, int(anchor_share * len(clean_prob)))])
    agreement = (
        consistency(images, texts, images[anchors], texts[anchors])
        + consistency(texts, images, texts[anchors], images[anchors])
    ) / 2
    clean = torch.as_tensor(clean_prob > 0.5)
    return torch.where(clean, 0.5 + agreement / 2, agreement)


def warmup_loss(images: torch.Tensor, texts: torch.Tensor, keep: float = WARMUP_KEEP) -> torch.Tensor:
    """Mean hinge loss (margin alpha) over the ``keep`` share of the batch's pairs with the lowest loss."""
    losses = hinge_triplet(images, texts, torch.full((len(images),), MARGIN))
    return losses.topk(max(1, int(keep * len(losses))), largest=False).values.mean()


__all__ = ["clean_probability", "consistency", "hinge_triplet", "soft_labels", "soft_margin", "warmup_loss"]
