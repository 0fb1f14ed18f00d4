"""Sinkhorn refuses non-finite real costs and keeps its marginals at any cost scale (issue 11)."""

from __future__ import annotations

import warnings

import pytest
import torch

from optical.losses import optical_loss
from optical.ot import SinkhornConvergenceWarning, sinkhorn


def _cost(seed: int = 0, shape: tuple[int, ...] = (2, 5, 7), dtype=torch.float32) -> torch.Tensor:
    gen = torch.Generator().manual_seed(seed)
    return torch.rand(shape, generator=gen, dtype=dtype)


@pytest.mark.parametrize("bad", [float("nan"), float("-inf"), float("inf")])
@pytest.mark.parametrize("reg_m", [None, 1.0])
def test_non_finite_real_cost_raises(bad, reg_m):
    cost = _cost()
    cost[1, 2, 3] = bad
    with pytest.raises(ValueError, match=r"non-finite .*real \(unmasked\).*\[1, 2, 3\]"):
        sinkhorn(cost, reg_m=reg_m)


@pytest.mark.parametrize("bad", [float("nan"), float("-inf"), float("inf")])
def test_non_finite_cost_on_padding_is_ignored(bad):
    cost = _cost()
    mask_a = torch.ones(2, 5, dtype=torch.bool)
    mask_a[0, 4] = False
    mask_b = torch.ones(2, 7, dtype=torch.bool)
    mask_b[1, 6] = False
    cost[0, 4, :] = bad  # padded row
    cost[1, :, 6] = bad  # padded column
    plan = sinkhorn(cost, mask_a=mask_a, mask_b=mask_b)
    assert torch.isfinite(plan).all()
    assert plan[0, 4].abs().sum() == 0 and plan[1, :, 6].abs().sum() == 0
    torch.testing.assert_close(plan.sum((-2, -1)), torch.ones(2))


def test_non_finite_cost_at_a_real_pair_of_a_masked_batch_raises():
    cost = _cost()
    mask_a = torch.ones(2, 5, dtype=torch.bool)
    mask_a[0, 4] = False
    cost[0, 3, 0] = float("nan")  # row 3 is real
    with pytest.raises(ValueError, match=r"\[0, 3, 0\]"):
        sinkhorn(cost, mask_a=mask_a)


def test_cost_over_eps_overflow_raises():
    cost = _cost() * 1e30
    with pytest.raises(ValueError, match="cost / eps overflows"):
        sinkhorn(cost, eps=1e-10)


@pytest.mark.parametrize("scale", [1e3, 1e6, 1e10])
@pytest.mark.parametrize("dtype", [torch.float32, torch.float64])
def test_balanced_plan_keeps_mass_and_columns_at_huge_cost_scale(scale, dtype):
    cost = _cost(dtype=dtype) * scale
    plan = sinkhorn(cost, eps=0.05, max_iter=200)
    assert torch.isfinite(plan).all()
    torch.testing.assert_close(plan.sum((-2, -1)), torch.ones(2, dtype=dtype))
    torch.testing.assert_close(plan.sum(-2), torch.full((2, 7), 1 / 7, dtype=dtype))


def test_huge_cost_scale_reports_row_error_and_warns_when_tol_is_missed():
    cost = _cost() * 1e10
    with pytest.warns(SinkhornConvergenceWarning, match="did not converge"):
        result = sinkhorn(cost, eps=0.05, max_iter=50, tol=1e-6, return_result=True)
    row_gap = (result.plan.sum(-1) - 0.2).abs().sum(-1)
    col_gap = (result.plan.sum(-2) - 1 / 7).abs().sum(-1)
    # the reported error is the real marginal gap of the returned plan
    torch.testing.assert_close(result.err, row_gap + col_gap, atol=1e-5, rtol=1e-4)
    assert not result.converged and (result.err > 1e-6).all()


def test_explicit_weights_columns_hold_at_huge_scale():
    cost = _cost(shape=(3, 4)) * 1e10
    a = torch.tensor([0.1, 0.2, 0.7])
    b = torch.tensor([0.4, 0.3, 0.2, 0.1])
    plan = sinkhorn(cost, a, b, eps=0.01)
    torch.testing.assert_close(plan.sum(0), b)
    torch.testing.assert_close(plan.sum(), torch.tensor(1.0))


@pytest.mark.parametrize("eps", [1e-3, 1e-5])
def test_tiny_eps_keeps_mass_and_stays_finite(eps):
    cost = _cost(shape=(4, 30, 40))
    result = sinkhorn(cost, eps=eps, max_iter=300, return_result=True)
    assert torch.isfinite(result.plan).all() and torch.isfinite(result.err).all()
    torch.testing.assert_close(result.plan.sum((-2, -1)), torch.ones(4))
    torch.testing.assert_close(result.plan.sum(-2), torch.full((4, 40), 1 / 40))


@pytest.mark.parametrize("scale, eps", [(1.0, 0.05), (1.0, 1e-4), (1e10, 0.05)])
def test_gradients_reach_cost_and_weights(scale, eps):
    cost = (_cost(shape=(2, 4, 6)) * scale).requires_grad_()
    a = torch.full((2, 4), 0.25, requires_grad=True)
    b = torch.full((2, 6), 1 / 6, requires_grad=True)
    plan = sinkhorn(cost, a, b, eps=eps, max_iter=30)
    (plan * cost.detach() / scale).sum().backward()
    for t in (cost, a, b):
        assert t.grad is not None and torch.isfinite(t.grad).all()
    assert cost.grad.abs().sum() > 0


def test_unbalanced_plan_finite_at_huge_cost_scale():
    cost = _cost() * 1e10
    plan = sinkhorn(cost, eps=0.05, reg_m=1.0, max_iter=50)
    assert torch.isfinite(plan).all()
    assert (plan.sum((-2, -1)) <= 1.0 + 1e-6).all()


def test_optical_loss_refuses_non_finite_embeddings():
    gen = torch.Generator().manual_seed(0)
    student = torch.randn(2, 5, 8, generator=gen)
    teacher = torch.randn(2, 6, 8, generator=gen)
    smask = torch.ones(2, 5, dtype=torch.bool)
    tmask = torch.ones(2, 6, dtype=torch.bool)
    student[1, 2, 0] = float("nan")
    with pytest.raises(ValueError, match="student token vectors.*non-finite"):
        optical_loss(student, smask, teacher, tmask)
    # a NaN on a padded token does not matter
    smask[1, 2] = False
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        out = optical_loss(student, smask, teacher, tmask)
    assert torch.isfinite(out.loss)
