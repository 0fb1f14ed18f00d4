from __future__ import annotations

import doctest

import pytest
import torch

import optical.losses as losses
from optical.losses import (
    TokenGeometry,
    cosine_cost,
    cross_entropy_ranking,
    info_nce,
    optical_loss,
    pooled_mse,
    token_marginals,
)


def test_doctests():
    assert doctest.testmod(losses).failed == 0


def test_cost_range_and_identity():
    torch.manual_seed(0)
    x = torch.randn(2, 5, 8)
    c = cosine_cost(x, x)
    assert c.shape == (2, 5, 5)
    assert torch.allclose(c.diagonal(dim1=1, dim2=2), torch.zeros(2, 5), atol=1e-6)
    assert c.min() >= 0 and c.max() <= 2


def test_marginals_sum_to_one_over_masked_tokens():
    h = torch.tensor([[[3.0, 4.0], [0.0, 1.0], [9.0, 9.0]]])
    mask = torch.tensor([[True, True, False]])
    assert token_marginals(h, mask).tolist() == [[0.5, 0.5, 0.0]]
    norm = token_marginals(h, mask, "norm")
    assert torch.allclose(norm, torch.tensor([[5 / 6, 1 / 6, 0.0]]))
    with pytest.raises(ValueError, match="marginals"):
        token_marginals(h, mask, "weird")


def test_optical_loss_is_zero_for_identical_sets_and_positive_otherwise():
    torch.manual_seed(0)
    t = torch.randn(3, 6, 16)
    mask = torch.ones(3, 6, dtype=torch.bool)
    same = optical_loss(t, mask, t, mask, eps=0.01, max_iter=300)
    assert same.loss.item() < 0.02  # the plan finds the identity matching
    other = optical_loss(torch.randn(3, 6, 16), mask, t, mask, eps=0.01, max_iter=300)
    assert other.loss.item() > 0.3
    # the plan is a soft alignment: rows sum to 1/6
    assert torch.allclose(same.plan.sum(-1), torch.full((3, 6), 1 / 6), atol=1e-3)


def test_padding_does_not_change_the_loss():
    torch.manual_seed(1)
    s, t = torch.randn(1, 4, 8), torch.randn(1, 5, 8)
    m_s, m_t = torch.ones(1, 4, dtype=torch.bool), torch.ones(1, 5, dtype=torch.bool)
    base = optical_loss(s, m_s, t, m_t).loss
    s_pad = torch.cat([s, torch.randn(1, 3, 8)], 1)
    m_pad = torch.cat([m_s, torch.zeros(1, 3, dtype=torch.bool)], 1)
    padded = optical_loss(s_pad, m_pad, t, m_t)
    assert torch.allclose(padded.loss, base, atol=1e-6)
    assert padded.plan[0, 4:].abs().max() == 0


def test_gradient_reaches_student_only_and_detached_plan_matches_envelope():
    torch.manual_seed(2)
    s = torch.randn(2, 4, 8, requires_grad=True)
    t = torch.randn(2, 5, 8, requires_grad=True)
    mask_s, mask_t = torch.ones(2, 4, dtype=torch.bool), torch.ones(2, 5, dtype=torch.bool)
    out = optical_loss(s, mask_s, t, mask_t, detach_plan=True)
    out.loss.backward()
    assert s.grad is not None and torch.isfinite(s.grad).all() and s.grad.abs().sum() > 0
    assert t.grad is None  # the teacher is a constant
    s2 = s.detach().clone().requires_grad_(True)
    optical_loss(s2, mask_s, t, mask_t, detach_plan=False).loss.backward()
    assert torch.isfinite(s2.grad).all()


def test_centering_restores_contrast_in_anisotropic_space():
    """Token vectors sharing a big common direction: raw costs barely differ, centred ones do."""
    torch.manual_seed(3)
    common = torch.randn(32) * 10
    teacher = common + torch.randn(200, 32)
    geo = TokenGeometry.fit(teacher, "center")
    x, y = teacher[:6].unsqueeze(0), teacher[6:12].unsqueeze(0)
    raw = cosine_cost(x, y)
    centred = cosine_cost(x, y, geo)
    assert raw.std() < 0.05 < centred.std()
    assert torch.allclose(geo.mean, teacher.mean(0), atol=1e-5)


def test_whitening_decorrelates():
    torch.manual_seed(4)
    a = torch.randn(5000, 4) @ torch.tensor([[3.0, 0, 0, 0], [2.0, 1.0, 0, 0], [0, 0, 0.5, 0], [0, 0, 0, 1]])
    geo = TokenGeometry.fit(a, "whiten", shrinkage=0.0)
    w = geo.apply(a)
    cov = (w.T @ w) / (len(w) - 1)
    assert torch.allclose(cov, torch.eye(4), atol=0.05)
    with pytest.raises(ValueError, match="geometry"):
        TokenGeometry("bogus")


def test_pooled_objectives():
    torch.manual_seed(5)
    q = torch.randn(4, 8)
    assert pooled_mse(q, q).item() == 0
    # aligned pairs beat shuffled ones
    aligned = info_nce(q, q + 0.01 * torch.randn(4, 8))
    shuffled = info_nce(q, q[[1, 2, 3, 0]])
    assert aligned < shuffled
    ce = cross_entropy_ranking(q, q, negatives=torch.randn(4, 3, 8))
    assert ce.item() < 0.1 and torch.isfinite(ce)
