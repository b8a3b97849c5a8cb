"""RTS's random temperature, prior, loss, margin logits and sign calibration against their formulas."""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch
import torch.nn.functional as F

from facechain.lab.rts import (
    VarianceHead,
    arcface_logits,
    calibrate_sign,
    expected_temperature,
    kl_to_prior,
    random_temperature,
    rts_loss,
)


@pytest.mark.parametrize("dof", [16, 32])
def test_temperature_at_the_prior_has_unit_inverse_mean(dof):
    """With v = 1, sum eps^2 ~ chi2(dof): E[1/T] = (dof - 2) E[1/chi2] = 1 and E[T] = dof / (dof - 2)."""
    generator = torch.Generator().manual_seed(0)
    temperature = random_temperature(torch.ones(200_000, dof, dtype=torch.float64), generator)
    assert (1 / temperature).mean() == pytest.approx(1.0, abs=0.01)
    assert temperature.mean() == pytest.approx(dof / (dof - 2), abs=0.01)
    assert expected_temperature(torch.ones(1, dof)).item() == pytest.approx(dof / (dof - 2))
    doubled = random_temperature(2 * torch.ones(5, dof), torch.Generator().manual_seed(1))
    assert torch.allclose(doubled, 2 * random_temperature(torch.ones(5, dof), torch.Generator().manual_seed(1)))


def test_prior_term_is_zero_at_one_and_positive_elsewhere():
    assert kl_to_prior(torch.ones(3, 16)).abs().max() == 0
    others = torch.tensor([[0.5] * 16, [2.0] * 16, [1.0] * 15 + [1.1]])
    assert (kl_to_prior(others) > 0).all()
    assert kl_to_prior(others[:1]).item() == pytest.approx(0.5 * (0.5 - math.log(0.5) - 1))


def test_loss_is_tempered_cross_entropy_plus_scaled_prior():
    logits, labels = torch.tensor([[3.0, 0.0, -1.0], [0.5, 1.0, 0.0]]), torch.tensor([0, 2])
    v = torch.tensor([[0.5] * 16, [3.0] * 16])
    temperature = random_temperature(v, torch.Generator().manual_seed(7))
    expected = F.cross_entropy(logits / temperature[:, None], labels) + 0.1 * kl_to_prior(v).mean()
    assert rts_loss(logits, labels, v, generator=torch.Generator().manual_seed(7)) == pytest.approx(float(expected))


def test_a_high_variance_sample_gets_a_damped_gradient():
    """The training-time mechanism: a large v (large temperature) shrinks the CE gradient on the logits."""
    labels = torch.tensor([1])

    def gradient_norm(scale: float) -> float:
        total = 0.0
        for draw in range(200):
            logits = torch.tensor([[2.0, 0.0, 1.0]], requires_grad=True)
            rts_loss(
                logits, labels, scale * torch.ones(1, 16), generator=torch.Generator().manual_seed(draw)
            ).backward()
            total += float(logits.grad.norm())
        return total

    assert gradient_norm(10.0) < 0.3 * gradient_norm(1.0)


def test_variance_head_is_positive_and_needs_more_than_two_dof():
    torch.manual_seed(0)
    v = VarianceHead(8, dof=16)(torch.randn(32, 8))
    assert v.shape == (32, 16) and (v > 0).all()
    with pytest.raises(ValueError, match="dof"):
        VarianceHead(8, dof=2)


def test_arcface_margin_widens_only_the_label_angle():
    torch.manual_seed(0)
    embeddings, prototypes, labels = torch.randn(4, 6), torch.randn(3, 6), torch.tensor([0, 1, 2, 0])
    cosine = F.normalize(embeddings, dim=1) @ F.normalize(prototypes, dim=1).T
    plain = arcface_logits(embeddings, prototypes, scale=10.0)
    assert torch.allclose(plain, 10.0 * cosine)
    margin = arcface_logits(embeddings, prototypes, labels, scale=10.0, margin=0.3)
    rows = torch.arange(4)
    assert torch.allclose(margin[rows, labels], 10.0 * torch.cos(cosine[rows, labels].acos() + 0.3), atol=1e-5)
    others = torch.ones_like(margin, dtype=torch.bool)
    others[rows, labels] = False
    assert torch.equal(margin[others], plain[others])


def test_calibration_flips_a_reversed_score_and_keeps_a_right_one():
    rng = np.random.default_rng(0)
    id_scores, ood_scores = rng.normal(0, 1, 300), rng.normal(1.5, 1, 200)  # reversed: OOD scores higher
    sign = calibrate_sign(id_scores, ood_scores)
    assert sign == -1
    assert np.mean(sign * id_scores[:, None] > sign * ood_scores[None, :]) > 0.8
    assert calibrate_sign(ood_scores, id_scores) == 1
