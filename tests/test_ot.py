"""Tests for optical.ot: agreement with POT, masking, gradients, dtypes, robustness."""

from __future__ import annotations

import math
import warnings

import numpy as np
import ot as pot
import pytest
import torch

from optical.ot import SinkhornConvergenceWarning, SinkhornResult, ot_cost, sinkhorn

F64 = torch.float64
TIGHT = {"max_iter": 20_000, "tol": 1e-12, "check_every": 1}


def _problem(n: int, m: int, *, bsz: int | None = None, seed: int = 0, dtype=F64):
    """Random cost in [0, 1] and non-uniform marginals summing to 1."""
    torch.manual_seed(seed)
    lead = () if bsz is None else (bsz,)
    cost = torch.rand(*lead, n, m, dtype=dtype)
    a = torch.rand(*lead, n, dtype=dtype) + 0.1
    b = torch.rand(*lead, m, dtype=dtype) + 0.1
    return cost, a / a.sum(-1, keepdim=True), b / b.sum(-1, keepdim=True)


def _cosine_cost(bsz: int, n: int, m: int, dim: int = 16, seed: int = 0) -> torch.Tensor:
    """1 - cosine between random token vectors: values in [0, 2], shape (bsz, n, m)."""
    torch.manual_seed(seed)
    x = torch.nn.functional.normalize(torch.randn(bsz, n, dim), dim=-1)
    y = torch.nn.functional.normalize(torch.randn(bsz, m, dim), dim=-1)
    return 1.0 - x @ y.transpose(-1, -2)


# ----------------------------------------------------------------- POT agreement


@pytest.mark.parametrize(("n", "m", "eps"), [(7, 5, 0.1), (12, 12, 0.05), (3, 9, 0.5)])
def test_balanced_matches_pot_sinkhorn_and_sinkhorn_log(n, m, eps):
    cost, a, b = _problem(n, m, seed=n)
    res = sinkhorn(cost, a, b, eps=eps, return_result=True, **TIGHT)
    kw = {"stopThr": 1e-14, "numItermax": 100_000}
    ref = pot.sinkhorn(a.numpy(), b.numpy(), cost.numpy(), eps, **kw)
    ref_log, log = pot.bregman.sinkhorn_log(a.numpy(), b.numpy(), cost.numpy(), eps, log=True, **kw)
    assert res.converged and res.n_iter < TIGHT["max_iter"]
    np.testing.assert_allclose(res.plan.numpy(), ref, rtol=0, atol=1e-10)
    np.testing.assert_allclose(res.plan.numpy(), ref_log, rtol=0, atol=1e-10)
    # POT's log_u is f/eps + log(a), up to the gauge shift (f + c, g - c).
    shift_f = res.f.numpy() / eps + np.log(a.numpy()) - log["log_u"]
    shift_g = res.g.numpy() / eps + np.log(b.numpy()) - log["log_v"]
    np.testing.assert_allclose(shift_f, shift_f[0], atol=1e-8)
    np.testing.assert_allclose(shift_g, -shift_f[0], atol=1e-8)


@pytest.mark.parametrize("reg_m", [1.0, 0.3, (math.inf, 0.5), (0.2, math.inf), [0.7]])
def test_unbalanced_matches_pot_default_kl(reg_m):
    cost, a, b = _problem(8, 6, seed=3)
    a = 2.0 * a  # unequal masses: only the relaxed problem is well posed
    res = sinkhorn(cost, a, b, eps=0.1, reg_m=reg_m, return_result=True, **TIGHT)
    ref, log = pot.unbalanced.sinkhorn_unbalanced(
        a.numpy(), b.numpy(), cost.numpy(), 0.1, reg_m, stopThr=1e-15, numItermax=100_000, log=True
    )
    assert res.converged
    np.testing.assert_allclose(res.plan.numpy(), ref, rtol=0, atol=1e-10)
    np.testing.assert_allclose(res.f.numpy() / 0.1, log["logu"], atol=1e-8)
    np.testing.assert_allclose(res.g.numpy() / 0.1, log["logv"], atol=1e-8)


def test_unbalanced_iterates_match_pot_exactly():
    # Same initialisation (f = g = 0) and update order (rows first) as POT's sinkhorn_knopp.
    cost, a, b = _problem(5, 4, seed=1)
    for n_iter in (1, 3, 8):
        plan = sinkhorn(cost, a, b, eps=0.2, reg_m=0.5, max_iter=n_iter)
        ref = pot.unbalanced.sinkhorn_unbalanced(
            a.numpy(), b.numpy(), cost.numpy(), 0.2, 0.5, stopThr=0.0, numItermax=n_iter
        )
        np.testing.assert_allclose(plan.numpy(), ref, rtol=0, atol=1e-14)


def test_batched_matches_pot_per_pair_and_marginals_hold():
    cost, a, b = _problem(9, 6, bsz=4, seed=2)
    res = sinkhorn(cost, a, b, eps=0.05, return_result=True, **TIGHT)
    assert res.plan.shape == (4, 9, 6) and res.f.shape == (4, 9) and res.g.shape == (4, 6)
    assert res.err.shape == (4,) and bool((res.err < 1e-12).all())
    for k in range(4):
        ref = pot.bregman.sinkhorn_log(
            a[k].numpy(), b[k].numpy(), cost[k].numpy(), 0.05, stopThr=1e-14, numItermax=100_000
        )
        np.testing.assert_allclose(res.plan[k].numpy(), ref, rtol=0, atol=1e-10)
    torch.testing.assert_close(res.plan.sum(-1), a, rtol=0, atol=1e-12)
    torch.testing.assert_close(res.plan.sum(-2), b, rtol=0, atol=1e-12)
    torch.testing.assert_close(ot_cost(res.plan, cost), (res.plan * cost).sum((1, 2)))


# ------------------------------------------------------------------------ masking


@pytest.mark.parametrize("reg_m", [None, 0.5])
def test_masked_batch_equals_unpadded_problems(reg_m):
    lengths = [(5, 7), (1, 4), (6, 1), (3, 3)]  # includes single-real-token rows
    bsz, n, m = len(lengths), 6, 7
    torch.manual_seed(4)
    cost = torch.rand(bsz, n, m, dtype=F64)
    mask_a = torch.arange(n) < torch.tensor([la for la, _ in lengths])[:, None]
    mask_b = torch.arange(m) < torch.tensor([lb for _, lb in lengths])[:, None]
    cost[~(mask_a[:, :, None] & mask_b[:, None, :])] = float("nan")  # garbage in padding
    res = sinkhorn(
        cost, mask_a=mask_a, mask_b=mask_b, eps=0.1, reg_m=reg_m, return_result=True, **TIGHT
    )
    assert torch.isfinite(res.plan).all() and torch.isfinite(res.f).all()
    for k, (la, lb) in enumerate(lengths):
        single = sinkhorn(cost[k, :la, :lb], eps=0.1, reg_m=reg_m, **TIGHT)
        torch.testing.assert_close(res.plan[k, :la, :lb], single, rtol=0, atol=1e-12)
        # padded rows/columns carry exactly zero mass and zero potential
        assert (res.plan[k, la:] == 0).all() and (res.plan[k, :, lb:] == 0).all()
        assert (res.f[k, la:] == 0).all() and (res.g[k, lb:] == 0).all()
    # one real token on a side: it sends/receives everything (balanced, uniform weights)
    if reg_m is None:
        torch.testing.assert_close(res.plan[1, 0, :4], torch.full((4,), 0.25, dtype=F64))
        torch.testing.assert_close(res.plan[2, :6, 0], torch.full((6,), 1 / 6, dtype=F64))


def test_explicit_weights_are_ignored_on_padding():
    cost, a, b = _problem(4, 5, bsz=2, seed=5)
    mask_a = torch.tensor([[True, True, True, False], [True, True, True, True]])
    a_masked = a.masked_fill(~mask_a, 0.0)
    a_masked = a_masked / a_masked.sum(-1, keepdim=True)
    plan = sinkhorn(cost, a_masked + (~mask_a) * 5.0, b, mask_a=mask_a, **TIGHT)
    ref = sinkhorn(cost, a_masked, b, **TIGHT)
    torch.testing.assert_close(plan, ref, rtol=0, atol=1e-12)
    assert (plan[0, 3] == 0).all()


# ---------------------------------------------------------------- gradients, dtype


@pytest.mark.parametrize(("reg_m", "tol"), [(None, None), (0.5, None), ((math.inf, 0.3), 1e-3)])
def test_gradcheck_through_iterations_with_masks(reg_m, tol):
    # The hand-written reverse sweep must match finite differences for cost, a and b.
    torch.manual_seed(6)
    cost = torch.rand(2, 4, 3, dtype=F64, requires_grad=True)
    a = (torch.rand(2, 4, dtype=F64) + 0.5).requires_grad_(True)
    b = (torch.rand(2, 3, dtype=F64) + 0.5).requires_grad_(True)
    mask_a = torch.tensor([[True, True, True, True], [True, True, False, False]])
    mask_b = torch.tensor([[True, True, True], [True, False, True]])

    def loss(c, a, b):
        if reg_m is None:  # balanced: both sides need the same mass
            a = a * mask_a / (a * mask_a).sum(-1, keepdim=True)
            b = b * mask_b / (b * mask_b).sum(-1, keepdim=True)
        plan = sinkhorn(
            c, a, b, mask_a=mask_a, mask_b=mask_b, eps=0.2, reg_m=reg_m, tol=tol, max_iter=30
        )
        return ot_cost(plan, c)

    assert torch.autograd.gradcheck(loss, (cost, a, b))


def test_gradients_reach_cost_finite_and_match_plain_autograd():
    mask_b = torch.arange(12) < torch.tensor([[12], [5], [1]])
    cost = _cosine_cost(3, 10, 12).double()
    cost[~mask_b[:, None, :].expand_as(cost)] = float("inf")  # garbage in padding
    cost.requires_grad_(True)
    plan = sinkhorn(cost, mask_b=mask_b, eps=0.05)
    ot_cost(plan, cost.nan_to_num(posinf=0.0)).sum().backward()
    assert torch.isfinite(cost.grad).all() and cost.grad.abs().sum() > 0
    assert (cost.grad[~mask_b[:, None, :].expand_as(cost)] == 0).all()

    # Reference: the same iterations written with torch.logsumexp and plain autograd.
    ref_cost = cost.detach().clone().requires_grad_(True)
    log_a = torch.full((3, 10), -math.log(10), dtype=F64)
    log_b = torch.where(mask_b, -mask_b.sum(-1, keepdim=True).double().log(), -math.inf)
    neg_c = (ref_cost / -0.05).masked_fill(~mask_b[:, None, :], 0.0)
    f, g = torch.zeros_like(log_a), torch.zeros_like(log_b)
    for _ in range(100):
        f = -torch.logsumexp(neg_c + (log_b + g)[:, None, :], dim=-1)
        g = -torch.logsumexp(neg_c + (log_a + f)[:, :, None], dim=-2)
    ref_plan = torch.exp(neg_c + (log_a + f)[:, :, None] + (log_b + g)[:, None, :])
    ot_cost(ref_plan, ref_cost.nan_to_num(posinf=0.0)).sum().backward()
    torch.testing.assert_close(plan, ref_plan, rtol=0, atol=1e-12)
    torch.testing.assert_close(cost.grad, ref_cost.grad, rtol=1e-8, atol=1e-10)


def test_autograd_memory_does_not_grow_with_iterations():
    cost = _cosine_cost(4, 16, 24).requires_grad_(True)
    big = []

    def pack(t):
        if t.numel() >= cost.numel():
            big.append(t.untyped_storage().data_ptr())
        return t

    with torch.autograd.graph.saved_tensors_hooks(pack, lambda t: t):
        plan = sinkhorn(cost, max_iter=50)
    # -C/eps is shared by all 100 half-steps; only a handful of (B, n, m) buffers are saved.
    assert len(set(big)) <= 4
    ot_cost(plan, cost).sum().backward()
    assert torch.isfinite(cost.grad).all()


@pytest.mark.parametrize("dtype", [torch.float32, torch.float64])
def test_float_dtypes_are_kept(dtype):
    cost, a, b = _problem(6, 5, bsz=2, dtype=dtype)
    res = sinkhorn(cost, a, b, return_result=True)
    assert res.plan.dtype == res.f.dtype == res.g.dtype == res.err.dtype == dtype


@pytest.mark.parametrize("dtype", [torch.bfloat16, torch.float16])
def test_half_precision_is_computed_in_fp32(dtype):
    cost = _cosine_cost(2, 8, 6).to(dtype).requires_grad_(True)
    plan = sinkhorn(cost, eps=0.05)
    assert plan.dtype == torch.float32
    torch.testing.assert_close(plan, sinkhorn(cost.detach().float(), eps=0.05))
    ot_cost(plan, cost).sum().backward()
    assert cost.grad.dtype == dtype and torch.isfinite(cost.grad.float()).all()


def test_small_eps_long_sequences_stay_finite():
    cost = _cosine_cost(2, 512, 512, seed=7)
    mask_a = torch.arange(512) < torch.tensor([[512], [300]])
    res = sinkhorn(cost, mask_a=mask_a, eps=1e-3, max_iter=50, return_result=True)
    for t in (res.plan, res.f, res.g, res.err):
        assert torch.isfinite(t).all()
    assert (res.plan >= 0).all() and (res.plan[1, 300:] == 0).all()
    torch.testing.assert_close(res.plan.sum((1, 2)), torch.ones(2), rtol=0, atol=1e-3)
    torch.testing.assert_close(res.plan.sum(-2), torch.full((2, 512), 1 / 512), rtol=1e-3, atol=0)


# ------------------------------------------------------------- known answers, misc


@pytest.mark.parametrize("eps", [0.5, 0.01])
def test_two_by_two_closed_form(eps):
    # Balanced uniform 2x2 with C = 1 - I: P = [[p, h - p], [h - p, p]], h = 1/2 and
    # p / (h - p) = exp(1 / eps), so p = sigmoid(1 / eps) / 2 -> near-permutation as eps -> 0.
    cost = torch.tensor([[0.0, 1.0], [1.0, 0.0]], dtype=F64)
    p = 0.5 * torch.sigmoid(torch.tensor(1.0 / eps, dtype=F64))
    expected = torch.stack([torch.stack([p, 0.5 - p]), torch.stack([0.5 - p, p])])
    torch.testing.assert_close(sinkhorn(cost, eps=eps, **TIGHT), expected, rtol=0, atol=1e-12)


def test_pot_docstring_unbalanced_example():
    a = torch.tensor([0.5, 0.5], dtype=F64)
    cost = torch.tensor([[0.0, 1.0], [1.0, 0.0]], dtype=F64)
    plan = sinkhorn(cost, a, a, eps=1.0, reg_m=1.0, **TIGHT)
    expected = torch.tensor([[0.3220536, 0.1184769], [0.1184769, 0.3220536]], dtype=F64)
    torch.testing.assert_close(plan, expected, rtol=0, atol=1e-7)


def test_tol_stops_early_and_reports():
    cost = _cosine_cost(4, 16, 20).double()
    res = sinkhorn(cost, eps=0.1, tol=1e-6, max_iter=1000, check_every=5, return_result=True)
    assert isinstance(res, SinkhornResult) and res.converged
    assert 0 < res.n_iter < 1000 and res.n_iter % 5 == 0
    assert (res.err < 1e-6).all()
    fixed = sinkhorn(cost, eps=0.1, max_iter=7, return_result=True)
    assert fixed.n_iter == 7 and not fixed.converged  # no criterion in fixed mode


def test_warns_when_not_converged():
    cost = _cosine_cost(2, 32, 32)
    with pytest.warns(SinkhornConvergenceWarning, match="did not converge"):
        res = sinkhorn(cost, eps=1e-3, tol=1e-9, max_iter=5, return_result=True)
    assert not res.converged and res.n_iter == 5
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        sinkhorn(cost, eps=1e-3, tol=1e-9, max_iter=5, warn=False)
        sinkhorn(cost, eps=1e-3, max_iter=5)  # fixed iterations never warn


C34 = torch.rand(3, 4)
BAD_INPUTS = [
    ({"cost": torch.rand(4)}, "shape"),
    ({"cost": torch.ones(3, 4, dtype=torch.long)}, "floating"),
    ({"cost": torch.rand(0, 4)}, "non-empty"),
    ({"a": torch.ones(4) / 4}, "a must have shape"),
    ({"b": torch.ones(3) / 3}, "b must have shape"),
    ({"mask_a": torch.ones(4, dtype=torch.bool)}, "mask_a must have shape"),
    ({"mask_b": torch.ones(4)}, "bool"),
    ({"mask_a": torch.zeros(3, dtype=torch.bool)}, "needs a real token"),
    ({"a": torch.tensor([0.5, 0.7, -0.2])}, "finite and >= 0"),
    ({"a": torch.tensor([1.0, 1.0, 1.0])}, "a.sum\\(\\) == b.sum\\(\\)"),
    ({"eps": 0.0}, "eps"),
    ({"eps": -1.0}, "eps"),
    ({"max_iter": 0}, "max_iter"),
    ({"tol": 0.0}, "tol"),
    ({"check_every": 0}, "check_every"),
    ({"reg_m": -1.0}, "reg_m"),
    ({"reg_m": (1.0, 2.0, 3.0)}, "reg_m"),
    ({"reg_m": "kl"}, "reg_m"),
    ({"reg_m": float("nan")}, "reg_m"),
]


@pytest.mark.parametrize(("kwargs", "match"), BAD_INPUTS)
def test_bad_input_raises_value_error(kwargs, match):
    kwargs = {"cost": C34, **kwargs}
    with pytest.raises(ValueError, match=match):
        sinkhorn(**kwargs)


def test_ot_cost_shape_mismatch():
    with pytest.raises(ValueError, match="same shape"):
        ot_cost(torch.rand(2, 3, 4), torch.rand(2, 4, 3))


@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs CUDA")
def test_runs_on_cuda_and_matches_cpu():
    cost = _cosine_cost(3, 20, 30)
    mask_a = torch.arange(20) < torch.tensor([[20], [11], [1]])
    res = sinkhorn(cost.cuda(), mask_a=mask_a.cuda(), tol=1e-5, return_result=True)
    assert res.plan.device.type == res.f.device.type == res.err.device.type == "cuda"
    ref = sinkhorn(cost, mask_a=mask_a, tol=1e-5, return_result=True)
    torch.testing.assert_close(res.plan.cpu(), ref.plan, rtol=1e-4, atol=1e-6)
