"""BiCro on digits as image-text pairs: the left half of each digit is its "image", the right half its
"text"; 40% of the training pairs get another digit's right half (shuffled correspondence). Every arm
trains two dual encoders (32-D embeddings) and retrieves with the sum of their similarities:
plain hinge (VSE++ on every pair, the baseline), the mixture split (warm-up, then each network trains
on the pairs the other's loss mixture calls clean) and BiCro (warm-up, then every pair with the
other network's soft label as its margin); "clean pairs only" is the oracle trained on the truly
matched pairs. Scored on the test split: image-to-text R@1, a hit when the nearest test text is a
half of the same digit (a half does not pin down its exact partner among 540: even clean training
finds it about 5% of the time); for the filtering arms, how well their final clean probability / soft
label ranks the planted noisy pairs below the clean ones (AUROC)."""

from __future__ import annotations

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

from ..harness.data import digits, shuffled_pairs, two_views
from ..harness.experiment import Arms, Experiment
from ..harness.metrics import auroc, recall_at_1
from ..harness.models import embedding_net
from . import MARGIN, clean_probability, hinge_triplet, soft_labels, soft_margin, warmup_loss

NOISE, DIM, BATCH = 0.4, 32, 64


class DualEncoder(nn.Module):
    """Image and text halves to L2-normalised embeddings in one space."""

    def __init__(self):
        super().__init__()
        self.image, self.text = embedding_net(32, DIM), embedding_net(32, DIM)

    def forward(self, images: torch.Tensor, texts: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        return F.normalize(self.image(images), dim=1), F.normalize(self.text(texts), dim=1)


def train_epoch(
    net: DualEncoder,
    optimizer,
    images: torch.Tensor,
    texts: torch.Tensor,
    labels: torch.Tensor | None,
    rng: np.random.Generator,
) -> None:
    """One pass in batches: the warm-up loss when ``labels`` is None, else the soft-margin hinge on the
    pairs with a label (NaN labels are left out)."""
    net.train()
    for batch in np.array_split(rng.permutation(len(images)), max(1, len(images) // BATCH)):
        batch = torch.as_tensor(batch)
        if labels is not None:
            batch = batch[~labels[batch].isnan()]
            if len(batch) < 2:
                continue
        image, text = net(images[batch], texts[batch])
        loss = (
            warmup_loss(image, text)
            if labels is None
            else hinge_triplet(image, text, soft_margin(labels[batch])).mean()
        )
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()


@torch.no_grad()
def judged(net: DualEncoder, images: torch.Tensor, texts: torch.Tensor, seed: int) -> tuple[np.ndarray, torch.Tensor]:
    """(clean probability per training pair, BiCro's soft label per pair) under ``net``."""
    net.eval()
    image, text = net(images, texts)
    losses = hinge_triplet(image, text, torch.full((len(images),), MARGIN)).numpy()
    probability = clean_probability(losses, seed)
    return probability, soft_labels(image, text, probability)


def labels_for(arm: str, probability: np.ndarray, soft: torch.Tensor) -> torch.Tensor:
    """The margins' labels from the other network's judgement: the mixture split keeps its clean pairs."""
    if arm == "mixture split":
        return torch.where(torch.as_tensor(probability > 0.5), 1.0, float("nan"))
    return soft


FIXED = {
    "plain hinge": lambda noisy: torch.ones(len(noisy)),
    "clean pairs only": lambda noisy: torch.where(torch.as_tensor(noisy), float("nan"), 1.0),
}
"""Arms whose labels do not change: the baseline, and the oracle that knows which pairs were shuffled."""


def run(seed: int, quick: bool = False) -> Arms:
    split = digits(seed)
    rng = np.random.default_rng(seed)
    left, right = two_views(split.x_train)
    partner, noisy = shuffled_pairs(len(left), NOISE, rng)
    images, texts = torch.as_tensor(left), torch.as_tensor(right[partner])
    test_images, test_texts = (torch.as_tensor(v) for v in two_views(split.x_test))
    warmup, epochs = (2, 6) if quick else (5, 40)
    arms: Arms = {}
    for arm in ("plain hinge", "mixture split", "BiCro", "clean pairs only"):
        torch.manual_seed(seed)
        nets = [DualEncoder(), DualEncoder()]
        optimizers = [torch.optim.Adam(net.parameters(), lr=2e-3) for net in nets]
        judgements = None
        for epoch in range(epochs):
            if arm not in FIXED and epoch >= warmup:
                judgements = [judged(net, images, texts, seed) for net in nets]
            for k, (net, optimizer) in enumerate(zip(nets, optimizers)):
                if arm in FIXED:
                    labels = FIXED[arm](noisy)
                elif judgements is None:
                    labels = None
                else:
                    labels = labels_for(arm, *judgements[1 - k])  # co-teaching: the other network's view
                train_epoch(net, optimizer, images, texts, labels, rng)
        arms[arm] = scores(nets, test_images, test_texts, split.y_test)
        if arm not in FIXED:
            final = [judged(net, images, texts, seed) for net in nets]
            trust = np.mean([f[0] if arm == "mixture split" else f[1].numpy() for f in final], axis=0)
            arms[arm]["noise_auroc"] = auroc(trust[~noisy], trust[noisy])
    return arms


@torch.no_grad()
def scores(nets: list[DualEncoder], images: torch.Tensor, texts: torch.Tensor, digits_: np.ndarray) -> dict:
    """Image-to-text R@1 (the nearest text shows the same digit) with the two networks' embeddings
    concatenated (= summed similarities)."""
    pairs = [net.eval()(images, texts) for net in nets]
    image = torch.cat([p[0] for p in pairs], dim=1).numpy()
    text = torch.cat([p[1] for p in pairs], dim=1).numpy()
    return {"r1_same_digit": recall_at_1(image, text, digits_, digits_)}


EXPERIMENT = Experiment(
    name="bicro",
    title="BiCro: noisy image-text correspondence",
    paper="Yang et al., BiCro: Noisy Correspondence Rectification for Multi-modality Data via Bi-directional "
    "Cross-modal Similarity Consistency, CVPR 2023",
    claim="soft correspondence labels from bidirectional similarity consistency make image-text matching "
    "robust to mismatched pairs, beating hinge-loss matching and hard clean/noisy splits",
    expectation="with 40% of digit half-pairs shuffled, BiCro's image-to-text R@1 exceeds the plain hinge's",
    baseline="plain hinge",
    method="BiCro",
    metric="r1_same_digit",
    higher_is_better=True,
    run=run,
)
