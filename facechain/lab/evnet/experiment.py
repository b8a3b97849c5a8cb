"""EVNet on the digits: the same three maps as the DLME experiment (kernel baseline, EVNet with its
k = 5 neighbour mix, t-SNE) scored the same way, plus EVNet's explanation checked by deletion: each
of 10 k-means clusters of the EVNet map loses its 8 most salient inputs (of 64 pixels), and its points
must move further on the map than when they lose 8 random non-blank pixels (or the 8 brightest).
Default: 988 points, 150 epochs; quick: 300 points, 30 epochs."""

from __future__ import annotations

import numpy as np

from ...mapping.manifold import embed
from .. import evnet
from ..dlme.experiment import compare_maps
from ..harness.experiment import Arms, Experiment

CLUSTERS = 10
DELETED = 8


def run(seed: int, quick: bool = False) -> Arms:
    arms, x, net = compare_maps(seed, quick, "EVNet", evnet.fit_evnet)
    clusters = evnet.map_clusters(embed(net, x), CLUSTERS, seed)
    shifts = evnet.deletion_test(net, x, clusters, DELETED, np.random.default_rng(seed))
    arms["EVNet"] |= {
        "deletion_salient": shifts["salient"],
        "deletion_random": shifts["random"],
        "deletion_brightest": shifts["brightest"],
        "deletion_ratio": shifts["salient"] / shifts["random"],
    }
    return arms


EXPERIMENT = Experiment(
    name="evnet",
    title="EVNet: explainable manifold embedding",
    paper="Zang et al., EVNet: An Explainable Deep Network for Dimension Reduction, IEEE TVCG 2023",
    claim="2-D maps on par with or better than t-SNE/UMAP/DMT (e.g. linear-SVC accuracy on the map), with "
    "feature-level explanations of the map's clusters",
    expectation="the EVNet map separates classes better (linear SVC on the 2-D map) than the kernel loss without "
    "augmentation, and deleting a cluster's most salient pixels moves it more than deleting random ones",
    baseline="kernel baseline",
    method="EVNet",
    metric="svc_accuracy",
    higher_is_better=True,
    run=run,
)
