"""SFAT on digits split over 5 simulated clients, non-IID: the training set sorted by label, cut into
10 shards, two shards per client (each client sees about two digits). Every round each client starts
from the global model and runs two local epochs of PGD adversarial training (eps 0.1, 10 steps, SGD);
the server averages by FedAvg (baseline: FedAvg-AT) or by SFAT's slack weights. Scored on the test
split after each of the last 5 rounds (last 2 in the quick run): PGD-20 robust accuracy (primary) and
natural accuracy, averaged over those rounds, as in the pilot in methods.md."""

from __future__ import annotations

import numpy as np
import torch
import torch.nn.functional as F

from ..harness.data import digits
from ..harness.experiment import Arms, Experiment
from ..harness.metrics import accuracy
from ..harness.models import Classifier
from ..harness.training import fit, outputs
from ..sfat import aggregate, fedavg_weights, pgd_attack, robust_accuracy, slack_weights

CLIENTS, SHARDS_PER_CLIENT = 5, 2
LOCAL_EPOCHS, BATCH = 2, 32
EPS, TRAIN_STEPS = 0.1, 10


def label_shards(y: np.ndarray, rng: np.random.Generator) -> list[np.ndarray]:
    """Each client's indices: label-sorted shards dealt at random, SHARDS_PER_CLIENT each."""
    shards = np.array_split(np.argsort(y, kind="stable"), CLIENTS * SHARDS_PER_CLIENT)
    order = rng.permutation(len(shards))
    return [np.concatenate([shards[i] for i in order[c::CLIENTS]]) for c in range(CLIENTS)]


def adversarial_step(model, optimizer, batch, progress):
    x, y = batch
    loss = F.cross_entropy(model(pgd_attack(model, x, y, EPS, TRAIN_STEPS)), y)
    optimizer.zero_grad()
    loss.backward()
    optimizer.step()
    return float(loss.detach())


def federated_adversarial_training(split, parts: list[np.ndarray], slack: bool, rounds: int, scored: int,
                                   seed: int) -> dict[str, float]:
    """Train for ``rounds``; mean robust and natural test accuracy over the last ``scored`` rounds."""
    torch.manual_seed(seed)
    global_model, local = Classifier(), Classifier()
    sizes = np.array([len(p) for p in parts])
    x_test, y_test = torch.as_tensor(split.x_test), torch.as_tensor(split.y_test)
    robust, natural = [], []
    for round_ in range(rounds):
        states, losses = [], []
        for client, part in enumerate(parts):
            local.load_state_dict(global_model.state_dict())
            optimizer = torch.optim.SGD(local.parameters(), lr=0.05, momentum=0.9)
            history = fit(local, adversarial_step, [split.x_train[part], split.y_train[part]], epochs=LOCAL_EPOCHS,
                          batch_size=BATCH, optimizer=optimizer, seed=seed * 100_000 + round_ * 100 + client)
            states.append({k: v.clone() for k, v in local.state_dict().items()})
            losses.append(history[-1])
        weights = slack_weights(sizes, np.array(losses)) if slack and round_ > 0 else fedavg_weights(sizes)
        global_model.load_state_dict(aggregate(states, weights))
        if round_ >= rounds - scored:
            robust.append(robust_accuracy(global_model, x_test, y_test, EPS))
            natural.append(accuracy(outputs(global_model, split.x_test).argmax(1), split.y_test))
    return {"robust_accuracy": float(np.mean(robust)), "natural_accuracy": float(np.mean(natural))}


def run(seed: int, quick: bool = False) -> Arms:
    split = digits(seed)
    parts = label_shards(split.y_train, np.random.default_rng(seed))
    rounds, scored = (6, 2) if quick else (40, 5)
    return {name: federated_adversarial_training(split, parts, slack, rounds, scored, seed)
            for name, slack in (("FedAvg-AT", False), ("SFAT", True))}


EXPERIMENT = Experiment(
    name="sfat",
    title="SFAT: slack federated adversarial training",
    paper="Zhu et al., Combating Exacerbated Heterogeneity for Robust Models in Federated Learning, ICLR 2023",
    claim="up-weighting the clients with the smallest adversarial loss at aggregation gives federated "
          "adversarial training higher robust accuracy on non-IID clients than FedAvg",
    expectation="with 5 non-IID clients on digits, SFAT's PGD-20 robust accuracy over the last rounds exceeds "
                "FedAvg-AT's",
    baseline="FedAvg-AT", method="SFAT", metric="robust_accuracy", higher_is_better=True, run=run)
