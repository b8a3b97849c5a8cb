"""Small models for 64-feature inputs: an MLP classifier with a feature layer that methods can hook
(an uncertainty head, an embedding for retrieval), and a plain embedding network."""

from __future__ import annotations

import torch
from torch import nn


class Classifier(nn.Module):
    """x -> features (``feature_dim``, after ReLU) -> logits. ``features`` is public so a method can put
    its own head on it."""

    def __init__(
        self, inputs: int = 64, classes: int = 10, hidden: int = 128, feature_dim: int = 64, dropout: float = 0.0
    ):
        super().__init__()
        self.body = nn.Sequential(
            nn.Linear(inputs, hidden), nn.ReLU(), nn.Dropout(dropout), nn.Linear(hidden, feature_dim), nn.ReLU()
        )
        self.head = nn.Linear(feature_dim, classes)

    def features(self, x: torch.Tensor) -> torch.Tensor:
        return self.body(x)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.head(self.body(x))


def embedding_net(inputs: int, dim: int, hidden: int = 128) -> nn.Sequential:
    """x -> an unnormalised ``dim``-D embedding (normalise it where the method says so)."""
    return nn.Sequential(
        nn.Linear(inputs, hidden), nn.ReLU(), nn.Linear(hidden, hidden), nn.ReLU(), nn.Linear(hidden, dim)
    )
