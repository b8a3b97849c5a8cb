"""The deep-manifold-embedding core shared by DLME and EVNet (Zang, Li et al.): a heavy-tailed
kernel on each side of a network, a two-way divergence between them, and the neighbour-mix
augmentation that supplies the local pairs. Plain tensors and modules in and out.

- Student-t kernel on squared distances: ``S_nu(d^2) = gamma_nu^2 2 pi (1 + d^2 / nu)^-(nu + 1)``,
  ``gamma_nu = Gamma((nu + 1) / 2) / (sqrt(nu pi) Gamma(nu / 2))``. nu = 100 on the input side is
  close to a Gaussian exp(-d^2); nu = 0.01 on the 2-D output has very heavy tails (and peaks at
  about 0.0155), so points dissimilar on the input side can sit far apart on the map at no cost,
  the crowding problem t-SNE solves with its Cauchy kernel.
- Two-way divergence ``D(P, Q) = -mean[P log(Q + e) + (1 - P) log(1 - Q + e)]`` (e = 1e-5) over the
  off-diagonal pairs (a point against itself carries nothing): a binary cross-entropy per pair,
  pulling together what P calls similar and pushing apart what it does not; for fixed P it is
  smallest at Q = P.
- Neighbour mix: the second view of x is ``x + r (x_n - x)``, r ~ U(0, 1), x_n one of x's k nearest
  input-space neighbours drawn uniformly: each view pair spans a piece of the local manifold.
- DLME's loss (``two_view_loss``): the network is x -> input-side features (500 -> 300 -> 80) -> 2-D.
  P is taken on the batch's features, each mixed view counted as a copy of its source displaced by
  1/100 of the source's nearest-neighbour distance (so a view pair has P close to 1 and every other
  pair keeps its feature similarity); Q on the 2-D outputs of both views stacked (2B x 2B).
  Gradients flow through both P and Q.
- The kernel baseline (``kernel_baseline_loss``, DMT-style, what DLME ablates against): the same
  kernels and divergence with P on the input data itself, one view, no augmentation.
"""

from __future__ import annotations

import math

import numpy as np
import torch
from torch import nn

NU_INPUT = 100.0
NU_OUTPUT = 0.01
EPS = 1e-5
NEAR_RATE = 100.0


def student_t_gamma(nu: float) -> float:
    """Gamma((nu + 1) / 2) / (sqrt(nu pi) Gamma(nu / 2)), via log-gammas so tiny nu stays exact."""
    return math.exp(math.lgamma((nu + 1) / 2) - math.lgamma(nu / 2)) / math.sqrt(nu * math.pi)


def student_t_similarity(squared_distance: torch.Tensor, nu: float) -> torch.Tensor:
    """S_nu(d^2) = gamma_nu^2 2 pi (1 + d^2 / nu)^-(nu + 1), computed in log space."""
    scale = 2 * math.log(student_t_gamma(nu)) + math.log(2 * math.pi)
    return torch.exp(scale - (nu + 1) * torch.log1p(squared_distance / nu))


def squared_distances(z: torch.Tensor) -> torch.Tensor:
    """(n, n) squared Euclidean distances between the rows of ``z``: |a|^2 + |b|^2 - 2ab (no n x n x d
    tensor), clamped at 0 against rounding."""
    norms = (z**2).sum(1)
    return (norms[:, None] + norms[None, :] - 2 * z @ z.T).clamp_min(0)


def two_way_divergence(p: torch.Tensor, q: torch.Tensor, eps: float = EPS) -> torch.Tensor:
    """-mean over off-diagonal pairs of P log(Q + e) + (1 - P) log(1 - Q + e)."""
    pairs = -(p * torch.log(q + eps) + (1 - p) * torch.log(1 - q + eps))
    n = len(p)
    return (pairs.sum() - pairs.diagonal().sum()) / (n * (n - 1))


def manifold_loss(
    input_distances: torch.Tensor, outputs: torch.Tensor, nu_input: float = NU_INPUT, nu_output: float = NU_OUTPUT
) -> torch.Tensor:
    """D(P, Q) with P = S_nu_input of the given input-side squared distances and Q = S_nu_output on
    the rows of ``outputs``."""
    p = student_t_similarity(input_distances, nu_input)
    q = student_t_similarity(squared_distances(outputs), nu_output)
    return two_way_divergence(p, q)


def two_view_distances(distances: torch.Tensor, near_rate: float = NEAR_RATE) -> torch.Tensor:
    """The (2B, 2B) input-side squared distances of a batch and its mixed view, from the batch's own
    (B, B): the mixed view of x_i counts as x_i displaced by e_i = (i's nearest squared distance in
    the batch) / ``near_rate``, so d(x_i', x_j) = d(x_i, x_j) + e_i and d(x_i', x_j') = d + e_i + e_j.
    Each view pair thus gets P close to 1 and every other pair keeps its first-view similarity."""
    nearest = (distances.detach() + torch.diag(torch.full((len(distances),), float("inf")))).min(1).values
    offset = nearest / near_rate
    return torch.cat(
        [
            torch.cat([distances, distances + offset[None, :]], 1),
            torch.cat([distances + offset[:, None], distances + offset[:, None] + offset[None, :]], 1),
        ]
    )


def nearest_neighbours(x: torch.Tensor, k: int) -> torch.Tensor:
    """(n, k) indices of each row's k nearest other rows (Euclidean), nearest first."""
    k = min(k, len(x) - 1)
    distances = torch.cdist(x, x)
    distances.fill_diagonal_(float("inf"))
    return distances.topk(k, largest=False).indices


def neighbour_mix(
    data: torch.Tensor, index: torch.Tensor, neighbours: torch.Tensor, generator: torch.Generator | None = None
) -> torch.Tensor:
    """The augmented view of ``data[index]``: each point moved a uniform share r of the way towards
    one of its ``neighbours`` (a row of the kNN table), drawn uniformly."""
    choice = torch.randint(neighbours.shape[1], (len(index),), generator=generator)
    partner = data[neighbours[index, choice]]
    rate = torch.rand(len(index), 1, generator=generator)
    return data[index] + rate * (partner - data[index])


def block(inputs: int, outputs: int) -> nn.Sequential:
    return nn.Sequential(nn.Linear(inputs, outputs), nn.BatchNorm1d(outputs), nn.LeakyReLU(0.1))


class ManifoldNet(nn.Module):
    """x -> input-side features (Linear + BatchNorm + LeakyReLU blocks; 500 -> 300 -> 80 in DLME)
    -> a linear map to ``dim`` (2) coordinates. P is taken on ``features``, Q on the output."""

    def __init__(self, inputs: int, hidden: tuple[int, ...] = (500, 300, 80), dim: int = 2):
        super().__init__()
        widths = (inputs, *hidden)
        self.features = nn.Sequential(*(block(a, b) for a, b in zip(widths, widths[1:])))
        self.head = nn.Linear(widths[-1], dim)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.head(self.features(x))


def two_view_loss(
    net: ManifoldNet,
    data: torch.Tensor,
    index: torch.Tensor,
    neighbours: torch.Tensor,
    generator: torch.Generator | None = None,
    nu_input: float = NU_INPUT,
    nu_output: float = NU_OUTPUT,
) -> torch.Tensor:
    """DLME's loss on a batch: P from the batch's input-side features (``two_view_distances``), Q on
    the 2-D outputs of the batch and its neighbour-mixed view, stacked."""
    features = net.features(torch.cat([data[index], neighbour_mix(data, index, neighbours, generator)]))
    distances = two_view_distances(squared_distances(features[: len(index)]))
    return manifold_loss(distances, net.head(features), nu_input, nu_output)


def kernel_baseline_loss(
    net: ManifoldNet, data: torch.Tensor, index: torch.Tensor, nu_input: float = NU_INPUT, nu_output: float = NU_OUTPUT
) -> torch.Tensor:
    """The kernel baseline (parametric, DMT-style): P on the input data itself, Q on the outputs,
    one view, no augmentation."""
    x = data[index]
    return manifold_loss(squared_distances(x), net(x), nu_input, nu_output)


def fit_embedding(
    x: np.ndarray,
    k: int | None,
    epochs: int,
    batch_size: int = 256,
    learning_rate: float = 1e-3,
    seed: int = 0,
    hidden: tuple[int, ...] = (500, 300, 80),
) -> ManifoldNet:
    """Train a ``ManifoldNet`` on ``x`` with AdamW (the papers' optimizer): DLME's two-view loss with
    ``k`` neighbours for the mix, or the kernel baseline when ``k`` is None. Returns it in eval mode."""
    torch.manual_seed(seed)
    generator = torch.Generator().manual_seed(seed)
    data = torch.as_tensor(np.asarray(x, dtype=np.float32))
    net = ManifoldNet(data.shape[1], hidden)
    optimizer = torch.optim.AdamW(net.parameters(), lr=learning_rate)
    neighbours = nearest_neighbours(data, k) if k else None
    batch_size = min(batch_size, len(data))
    net.train()
    for _ in range(epochs):
        order = torch.randperm(len(data), generator=generator)
        for start in range(0, len(data) - batch_size + 1, batch_size):  # no ragged batch: BatchNorm needs rows
            index = order[start : start + batch_size]
            loss = (
                two_view_loss(net, data, index, neighbours, generator) if k else kernel_baseline_loss(net, data, index)
            )
            optimizer.zero_grad()
            loss.backward()
            optimizer.step()
    return net.eval()


@torch.no_grad()
def embed(net: nn.Module, x: np.ndarray) -> np.ndarray:
    """The net's 2-D coordinates for ``x`` (eval mode), as numpy."""
    net.eval()
    return net(torch.as_tensor(np.asarray(x, dtype=np.float32))).numpy()
