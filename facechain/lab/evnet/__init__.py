"""EVNet: a DLME-style 2-D map plus an explanation of each map cluster by the input features that
place it there.

Zang, Cheng, Lu, Xia, Li, Sun, Xu, Shang, Sun, Li, "EVNet: An Explainable Deep Network for Dimension
Reduction", IEEE TVCG 2023.

The map is trained as in DLME (``facechain.mapping.manifold``: P = S_100 on input-side features, Q = S_0.01
on the 2-D output across the neighbour-mixed views, loss D(P, Q), AdamW 1e-3) with EVNet's smaller
neighbourhood, k = 5. The explanation is gradient saliency per cluster: for a point x with map
position f(x), input j scores ``s_j(x) = |x_j| * || d f(x) / d x_j ||_2`` (gradient times input, the
first-order displacement of the point on the map if x_j were removed), and a cluster's saliency is the
mean of s over its members. Clusters are found on the map (k-means), as a user would pick them.

The explanation is checked by deletion: zeroing a cluster's most salient inputs must move its points
on the map further than zeroing as many random inputs (drawn among the inputs that are not blank in
that cluster). The paper's sparse feature mask and SHAP/LIME variants are not implemented here.
"""

from __future__ import annotations

import numpy as np
import torch
from torch import nn

from ...mapping.dlme import EPOCHS, SMALL_GROUP_K, fit_dlme
from ...mapping.manifold import ManifoldNet, embed

K = SMALL_GROUP_K


def fit_evnet(x: np.ndarray, epochs: int = EPOCHS, seed: int = 0) -> ManifoldNet:
    """The trained map network for rows ``x``: DLME's network and loss with EVNet's k = 5."""
    return fit_dlme(x, epochs, k=K, seed=seed)


def input_saliency(net: nn.Module, x: np.ndarray) -> np.ndarray:
    """(n, d) gradient-times-input saliency of each input for each point's 2-D position (eval mode,
    so each row's output depends on that row alone and one backward pass per map axis suffices)."""
    net.eval()
    inputs = torch.as_tensor(np.asarray(x, dtype=np.float32)).requires_grad_(True)
    outputs = net(inputs)
    gradients = [
        torch.autograd.grad(outputs[:, axis].sum(), inputs, retain_graph=True)[0] for axis in range(outputs.shape[1])
    ]
    norm = torch.stack(gradients).pow(2).sum(0).sqrt()
    return (inputs.abs() * norm).detach().numpy()


def cluster_saliency(saliency: np.ndarray, clusters: np.ndarray) -> dict[int, np.ndarray]:
    """Cluster id -> (d,) mean saliency of its members: the cluster's explanation."""
    return {int(c): saliency[clusters == c].mean(axis=0) for c in np.unique(clusters)}


def map_clusters(coordinates: np.ndarray, count: int, seed: int = 0) -> np.ndarray:
    """k-means cluster id of each map point."""
    from sklearn.cluster import KMeans

    return KMeans(count, n_init=4, random_state=seed).fit_predict(coordinates)


def deletion_shift(net: nn.Module, x: np.ndarray, removed: np.ndarray) -> float:
    """Mean distance each row of ``x`` moves on the map when the ``removed`` inputs are zeroed."""
    deleted = np.array(x, dtype=np.float32, copy=True)
    deleted[:, removed] = 0.0
    return float(np.linalg.norm(embed(net, deleted) - embed(net, x), axis=1).mean())


def deletion_test(
    net: nn.Module, x: np.ndarray, clusters: np.ndarray, count: int, rng: np.random.Generator, draws: int = 10
) -> dict[str, float]:
    """Map displacement (averaged over points) when each cluster loses its ``count`` most salient
    inputs, versus ``count`` random non-blank inputs (mean of ``draws`` draws) and versus its
    ``count`` brightest inputs (largest mean value, a saliency-free heuristic)."""
    explanations = cluster_saliency(input_saliency(net, x), clusters)
    shifts = {"salient": 0.0, "random": 0.0, "brightest": 0.0}
    for cluster, saliency in explanations.items():
        members = x[clusters == cluster]
        weight = len(members) / len(x)
        candidates = np.flatnonzero(members.any(axis=0))
        shifts["salient"] += weight * deletion_shift(net, members, np.argsort(-saliency)[:count])
        shifts["brightest"] += weight * deletion_shift(net, members, np.argsort(-members.mean(axis=0))[:count])
        shifts["random"] += weight * float(
            np.mean(
                [
                    deletion_shift(net, members, rng.choice(candidates, min(count, len(candidates)), replace=False))
                    for _ in range(draws)
                ]
            )
        )
    return shifts


__all__ = ["K", "cluster_saliency", "deletion_shift", "deletion_test", "fit_evnet", "input_saliency", "map_clusters"]
