"""RTS: random temperature scaling, for training with uncertain samples and scoring them at test time.

Shang, Huang, Shi, Liu, Liu, Wang, Sun, Xie and Qiao, "Improving Training and Inference of Face
Recognition Models via Random Temperature Scaling" (AAAI 2023). The softmax temperature is read as
the scale of the noise a classifier implicitly adds to its logits; RTS makes it a random variable per
sample, whose size a small head learns from the feature, so that hard or noisy samples get a large
temperature (their gradient is damped in training) and the head's output is an uncertainty score at
test time, learned without any labels of quality.

    v = exp(BN(Linear(feature)))                      in R^dof, dof 16-32 (default 16)
    T = sum_j v_j eps_j^2 / (dof - 2),   eps ~ N(0, I_dof), one draw per sample and step
    L = CE(logits / T, y) + kl_scale * mean_j 0.5 (v_j - log v_j - 1),   kl_scale = 0.1

With v = 1, sum_j eps_j^2 is chi-squared with dof degrees of freedom, and E[1 / chi2_dof] =
1 / (dof - 2): the (dof - 2) makes the inverse temperature exactly 1 on average, so the expected
scaled logits are the plain ones (E[T] itself is dof / (dof - 2), 1.14 at dof 16). The KL term pulls
each v_j toward that prior (it is zero at v = 1 and grows on both sides). For face recognition the
logits are ArcFace margin logits (``arcface_logits``; Deng et al., CVPR 2019, s = 32 here, m = 0.5).

At test time the score is the expected temperature sum_j v_j / (dof - 2): large where the head
expects the sample to need a flat softmax. Which direction means "reliable" is not settled by the
public code (on digits, raw mean(v) as an in-distribution confidence gave AUROC 0.28-0.48), so the
sign is calibrated on a validation set with known in- and out-of-distribution items:
``calibrate_sign(id_scores, ood_scores)`` returns +1 or -1 such that ``sign * score`` ranks the
in-distribution items higher, the convention of ``facechain.lab.harness.metrics``.
"""

from __future__ import annotations

import math

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

DOF = 16
KL_SCALE = 0.1
ARCFACE_SCALE = 32.0
ARCFACE_MARGIN = 0.5


class VarianceHead(nn.Module):
    """feature (n, features) -> v (n, dof), positive: exp of a batch-normalised linear map. The batch
    norm keeps log v centred whatever the feature scale, so the KL prior acts from the first step."""

    def __init__(self, features: int, dof: int = DOF):
        super().__init__()
        if dof <= 2:
            raise ValueError(f"dof must exceed 2 (the temperature divides by dof - 2), got {dof}")
        self.dof = dof
        self.linear = nn.Linear(features, dof)
        self.norm = nn.BatchNorm1d(dof)

    def forward(self, feature: torch.Tensor) -> torch.Tensor:
        return self.norm(self.linear(feature)).exp()


def random_temperature(v: torch.Tensor, generator: torch.Generator | None = None) -> torch.Tensor:
    """One draw of T = sum_j v_j eps_j^2 / (dof - 2) per row of ``v`` (n, dof) -> (n,)."""
    eps = torch.randn(v.shape, generator=generator, dtype=v.dtype, device=v.device)
    return (v * eps**2).sum(dim=1) / (v.shape[1] - 2)


def kl_to_prior(v: torch.Tensor) -> torch.Tensor:
    """Per row: mean_j 0.5 (v_j - log v_j - 1); zero exactly at v = 1, positive elsewhere."""
    return 0.5 * (v - v.log() - 1.0).mean(dim=1)


def rts_loss(
    logits: torch.Tensor,
    labels: torch.Tensor,
    v: torch.Tensor,
    kl_scale: float = KL_SCALE,
    generator: torch.Generator | None = None,
) -> torch.Tensor:
    """CE of the logits divided by each sample's random temperature, plus the KL prior on v."""
    temperature = random_temperature(v, generator)
    return F.cross_entropy(logits / temperature[:, None], labels) + kl_scale * kl_to_prior(v).mean()


def expected_temperature(v: torch.Tensor) -> torch.Tensor:
    """The test-time uncertainty score: E[T | v] = sum_j v_j / (dof - 2), (n, dof) -> (n,)."""
    return v.sum(dim=1) / (v.shape[1] - 2)


def arcface_logits(
    embeddings: torch.Tensor,
    prototypes: torch.Tensor,
    labels: torch.Tensor | None = None,
    scale: float = ARCFACE_SCALE,
    margin: float = ARCFACE_MARGIN,
) -> torch.Tensor:
    """s * cos(angle to each class prototype), with the label's angle widened by ``margin`` (radians)
    in training; without ``labels`` the plain scaled cosines (test time)."""
    cosine = F.normalize(embeddings, dim=1) @ F.normalize(prototypes, dim=1).T
    if labels is None:
        return scale * cosine
    angle = cosine.gather(1, labels[:, None]).clamp(-1 + 1e-7, 1 - 1e-7).acos()
    widened = (angle + margin).clamp(max=math.pi).cos()
    return scale * cosine.scatter(1, labels[:, None], widened)


def calibrate_sign(id_scores: np.ndarray, ood_scores: np.ndarray) -> int:
    """+1 when ``id_scores`` already rank above ``ood_scores`` more often than not (ties half), -1
    otherwise: multiply a score by it so that higher means in-distribution. Use held-out items, never
    the ones the final metric is computed on."""
    id_scores, ood_scores = np.asarray(id_scores, float)[:, None], np.asarray(ood_scores, float)[None, :]
    above = np.mean(id_scores > ood_scores) + 0.5 * np.mean(id_scores == ood_scores)
    return 1 if above >= 0.5 else -1


__all__ = [
    "ARCFACE_MARGIN",
    "ARCFACE_SCALE",
    "DOF",
    "KL_SCALE",
    "VarianceHead",
    "arcface_logits",
    "calibrate_sign",
    "expected_temperature",
    "kl_to_prior",
    "random_temperature",
    "rts_loss",
]
