"""DLME: a 2-D map of high-dimensional data by a network trained on neighbour-mixed pairs.

Zang, Li, Wu, Wang, Wang, Shang, Sun, Li, Li, "DLME: Deep Local-flatness Manifold Embedding", ECCV 2022.

A network f: x -> input-side features (d -> 500 -> 300 -> 80, Linear + BatchNorm + LeakyReLU) -> 2-D
is trained with AdamW (learning rate 1e-3) on batches stacked with their neighbour-mixed views
x' = x + r (x_n - x), r ~ U(0, 1), x_n one of x's k = 15 nearest neighbours. The loss is the two-way
divergence D(P, Q) = -mean[P log(Q + e) + (1 - P) log(1 - Q + e)] between P = S_100 on the
input-side features and Q = S_0.01 on the 2-D output, S_nu(d^2) = gamma_nu^2 2 pi (1 + d^2 / nu)^-(nu + 1)
(equations and the two-view construction in ``manifold``). Mixing with a neighbour
teaches the network that the segment between neighbours is one local, flat piece of the manifold,
which keeps clusters compact on the map; the heavy-tailed Q lets clusters separate.

Being a network, the map embeds new points without refitting (``embed``).
"""

from __future__ import annotations

import numpy as np

from .manifold import ManifoldNet, embed, fit_embedding

K = 15
SMALL_GROUP_K = 5
"""EVNet's neighbourhood (Zang et al., IEEE TVCG 2023), for data whose groups have only a few members."""
EPOCHS = 150
BATCH_SIZE = 256


def fit_dlme(
    x: np.ndarray, epochs: int = EPOCHS, k: int = K, batch_size: int = BATCH_SIZE, seed: int = 0
) -> ManifoldNet:
    """The trained DLME network for rows ``x`` (features of any width; k shrinks to n - 1 on tiny sets)."""
    return fit_embedding(x, k, epochs, batch_size, seed=seed)


def dlme_map(x: np.ndarray, epochs: int = EPOCHS, k: int = K, seed: int = 0) -> np.ndarray:
    """(n, 2) map coordinates of the rows of ``x``."""
    return embed(fit_dlme(x, epochs, k, seed=seed), x)
