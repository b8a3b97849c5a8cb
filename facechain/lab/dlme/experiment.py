"""DLME on the digits: 2-D maps of the training split by the kernel baseline (same network, kernels
and divergence, P on the raw inputs, no augmentation), by DLME (neighbour mix, k = 15, P on the
network's input-side features) and by t-SNE, each scored on the map: linear-SVC accuracy (5-fold,
standardised coordinates, the papers' protocol), kNN-10 accuracy (5-fold) and trustworthiness (10
neighbours). Labels are used only for scoring. Default: 988 points, 150 epochs (the pilot's);
quick: 300 points, 30 epochs, a short t-SNE."""

from __future__ import annotations

from collections.abc import Callable

import numpy as np

from ...mapping import dlme
from ...mapping.manifold import ManifoldNet, embed, fit_embedding
from ..harness.data import digits
from ..harness.experiment import Arms, Experiment

QUICK_POINTS = 300
QUICK_EPOCHS = 30


def map_scores(x: np.ndarray, coordinates: np.ndarray, y: np.ndarray) -> dict[str, float]:
    from sklearn.manifold import trustworthiness
    from sklearn.model_selection import StratifiedKFold, cross_val_score
    from sklearn.neighbors import KNeighborsClassifier
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import StandardScaler
    from sklearn.svm import SVC

    folds = StratifiedKFold(5, shuffle=True, random_state=0)
    svc = make_pipeline(StandardScaler(), SVC(kernel="linear"))
    return {
        "svc_accuracy": float(cross_val_score(svc, coordinates, y, cv=folds).mean()),
        "knn10_accuracy": float(cross_val_score(KNeighborsClassifier(10), coordinates, y, cv=folds).mean()),
        "trustworthiness": float(trustworthiness(x, coordinates, n_neighbors=10)),
    }


def tsne_map(x: np.ndarray, seed: int, quick: bool) -> np.ndarray:
    from sklearn.manifold import TSNE

    return TSNE(2, init="pca", random_state=seed, max_iter=500 if quick else 1000, n_jobs=1).fit_transform(x)


def compare_maps(
    seed: int, quick: bool, method: str, fit: Callable[..., ManifoldNet]
) -> tuple[Arms, np.ndarray, ManifoldNet]:
    """Arms "kernel baseline", ``method`` (trained by ``fit(x, epochs, seed=...)``) and "t-SNE" on one
    seed's training split; also the points and the method's network, for method-specific checks."""
    split = digits(seed)
    points = QUICK_POINTS if quick else len(split.x_train)
    x, y = split.x_train[:points], split.y_train[:points]
    epochs = QUICK_EPOCHS if quick else dlme.EPOCHS
    baseline = fit_embedding(x, None, epochs, dlme.BATCH_SIZE, seed=seed)
    net = fit(x, epochs, seed=seed)
    arms = {
        "kernel baseline": map_scores(x, embed(baseline, x), y),
        method: map_scores(x, embed(net, x), y),
        "t-SNE": map_scores(x, tsne_map(x, seed, quick), y),
    }
    return arms, x, net


def run(seed: int, quick: bool = False) -> Arms:
    return compare_maps(seed, quick, "DLME", dlme.fit_dlme)[0]


EXPERIMENT = Experiment(
    name="dlme",
    title="DLME: neighbour-mix manifold embedding",
    paper="Zang et al., DLME: Deep Local-flatness Manifold Embedding, ECCV 2022",
    claim="better 2-D maps than t-SNE, UMAP and deep ML baselines (e.g. linear-SVC accuracy on the map) on toy, "
    "biological and image data",
    expectation="on the digits, the DLME map separates classes better (linear SVC on the 2-D map) than the same "
    "kernel loss without augmentation, and about as well as t-SNE",
    baseline="kernel baseline",
    method="DLME",
    metric="svc_accuracy",
    higher_is_better=True,
    run=run,
)
