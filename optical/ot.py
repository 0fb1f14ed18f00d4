r"""Batched, masked, log-domain entropic optimal transport in torch.

The OPTICAL distillation loss aligns student token vectors to teacher token vectors
with an entropic OT plan.  This module solves, for every element of a padded batch,

.. math::

    \mathbf{P}^\star = \arg\min_{\mathbf{P} \ge 0}\;
        \langle \mathbf{P}, \mathbf{C} \rangle_F
        + \varepsilon\, \mathrm{KL}(\mathbf{P} \,\|\, \mathbf{a}\mathbf{b}^\top)
        + \rho_a\, \mathrm{KL}(\mathbf{P}\mathbf{1} \,\|\, \mathbf{a})
        + \rho_b\, \mathrm{KL}(\mathbf{P}^\top\mathbf{1} \,\|\, \mathbf{b})

with the generalised KL :math:`\mathrm{KL}(x\|y)=\sum x\log(x/y) - x + y`.
:math:`\rho=\infty` turns a penalty into the hard constraint
(:math:`\mathbf{P}\mathbf{1}=\mathbf{a}`), so ``reg_m=None`` is balanced entropic OT.

This is POT's convention: ``ot.unbalanced.sinkhorn_unbalanced`` defaults to
``reg_type="kl"`` (reference measure :math:`\mathbf{a}\mathbf{b}^\top`) since POT 0.9.5.
For balanced OT the reference measure only shifts the objective by a constant,
so plans also agree with ``ot.sinkhorn`` / ``ot.bregman.sinkhorn_log``.

The plan is parameterised by dual potentials :math:`f, g` (in cost units):

.. math::

    P_{ij} = a_i\, b_j \exp\big((f_i + g_j - C_{ij}) / \varepsilon\big),

and Sinkhorn alternates the log-domain updates (:math:`\tau = \rho / (\rho + \varepsilon)`,
:math:`\tau = 1` when balanced)

.. math::

    f_i \leftarrow -\tau_a\,\varepsilon \log\sum_j b_j \exp\big((g_j - C_{ij})/\varepsilon\big),
    \qquad
    g_j \leftarrow -\tau_b\,\varepsilon \log\sum_i a_i \exp\big((f_i - C_{ij})/\varepsilon\big).

POT's ``sinkhorn_log`` returns ``log_u = f / eps + log(a)`` (up to a constant shift
between ``f`` and ``g``); POT's unbalanced ``logu`` is ``f / eps``.
"""

from __future__ import annotations

import math
import numbers
import warnings
from collections.abc import Sequence
from dataclasses import dataclass

import torch
from torch import Tensor

__all__ = ["SinkhornConvergenceWarning", "SinkhornResult", "ot_cost", "sinkhorn"]


class SinkhornConvergenceWarning(UserWarning):
    """Sinkhorn stopped at ``max_iter`` with a marginal error still above ``tol``."""


@dataclass
class SinkhornResult:
    """Plan and diagnostics returned by :func:`sinkhorn` with ``return_result=True``.

    Attributes
    ----------
    plan : Tensor, shape (B, n, m) or (n, m)
        Transport plan; exactly zero on padded rows/columns.
    f : Tensor, shape (B, n) or (n,)
        Row dual potential (cost units); zero where ``a`` has no mass.
    g : Tensor, shape (B, m) or (m,)
        Column dual potential (cost units); zero where ``b`` has no mass.
    n_iter : int
        Number of full (row + column) iterations run.
    err : Tensor, shape (B,) or ()
        L1 violation of the marginal optimality conditions of ``plan``:
        ``|P 1 - a~|_1 + |P^T 1 - b~|_1`` with ``a~ = a`` when balanced and
        ``a~ = a * exp(-f / rho_a)`` when relaxed (likewise ``b~``).
    converged : bool
        ``err < tol`` for every batch element. Always ``False`` when ``tol is None``
        (fixed-iteration mode checks no criterion; inspect ``err``).
    """

    plan: Tensor
    f: Tensor
    g: Tensor
    n_iter: int
    err: Tensor
    converged: bool


def sinkhorn(
    cost: Tensor,
    a: Tensor | None = None,
    b: Tensor | None = None,
    *,
    mask_a: Tensor | None = None,
    mask_b: Tensor | None = None,
    eps: float = 0.05,
    max_iter: int = 100,
    tol: float | None = None,
    reg_m: float | Sequence[float] | None = None,
    check_every: int = 10,
    return_result: bool = False,
    warn: bool = True,
) -> Tensor | SinkhornResult:
    r"""Entropic (optionally unbalanced) OT plans for a padded batch of cost matrices.

    Solves the problem in the module docstring with log-domain Sinkhorn iterations,
    for all batch elements at once, on ``cost.device``.

    Parameters
    ----------
    cost : Tensor, shape (B, n, m) or (n, m)
        Cost matrices, e.g. ``1 - cosine``. Every real entry (row and column both real
        under ``mask_a``/``mask_b``) must be finite: NaN, ``-inf`` and ``+inf`` there
        raise ``ValueError`` (exclude a pair by masking its token, not with an infinite
        cost). Entries at padded positions are ignored (they may hold anything, even
        NaN/inf). ``cost / eps`` must stay finite in the compute dtype.
    a : Tensor, shape (B, n) or (n,), optional
        Non-negative row weights. Default: uniform over the real positions of
        ``mask_a`` (summing to 1). Entries where ``mask_a`` is False are ignored.
    b : Tensor, shape (B, m) or (m,), optional
        Non-negative column weights, as ``a``.
    mask_a : Tensor of bool, shape (B, n) or (n,), optional
        True for real tokens, False for padding. Default: all real.
    mask_b : Tensor of bool, shape (B, m) or (m,), optional
        As ``mask_a`` for the columns.
    eps : float
        Entropic regularisation :math:`\varepsilon > 0` (cost units).
    max_iter : int
        Maximum number of iterations (exactly this many when ``tol is None``).
    tol : float, optional
        Stop once the L1 marginal error of every batch element is below ``tol``
        (checked every ``check_every`` iterations). ``None``: fixed iterations.
    reg_m : float or (float, float), optional
        Marginal relaxation :math:`(\rho_a, \rho_b)`; a float applies to both sides,
        ``float('inf')`` keeps a side balanced. ``None``: balanced OT.
    check_every : int
        Iterations between convergence checks (each check synchronises the device).
    return_result : bool
        Return a :class:`SinkhornResult` with potentials and diagnostics instead of
        only the plan.
    warn : bool
        Emit :class:`SinkhornConvergenceWarning` if ``tol`` is set and not reached.

    Returns
    -------
    plan : Tensor, shape (B, n, m) or (n, m)
        The transport plan, or a :class:`SinkhornResult` if ``return_result``.
        Computation and result use ``cost.dtype`` for float32/float64; float16 and
        bfloat16 costs are computed in float32 and the plan is returned in float32.

    Raises
    ------
    ValueError
        On inconsistent shapes/devices, ``eps <= 0``, non-finite real costs (or
        ``cost / eps`` overflowing), negative or empty marginals, unequal total masses
        in balanced mode, or unknown argument values.

    Notes
    -----
    Gradients flow to ``cost`` (and ``a``, ``b``) through every iteration, exactly as
    autograd through the unrolled loop, but with a hand-written reverse sweep that
    stores only O(n_iter * B * (n + m)) numbers besides a few (B, n, m) buffers.
    The plan itself is not twice differentiable. Each convergence check (``tol``) and
    the validation of the inputs (finite costs, user masks/weights) synchronise the
    device once.

    The plan is assembled from the last column update as ``b_j`` times a column softmax
    of ``(f_i - C_ij) / eps``, so its column marginals equal ``b`` (balanced: total mass
    ``sum(b)``) up to rounding at any cost scale, even when ``C / eps`` is so large that
    ``f + g - C`` cancels catastrophically in floating point. Row marginals are only as
    good as the iterations: ``err`` (``return_result``) measures them, and a
    :class:`SinkhornConvergenceWarning` says so when ``tol`` is set and not reached.

    Examples
    --------
    >>> cost = torch.tensor([[0.0, 1.0], [1.0, 0.0]])
    >>> sinkhorn(cost, eps=0.1).round(decimals=4)
    tensor([[0.5000, 0.0000],
            [0.0000, 0.5000]])
    """
    _check_options(eps, max_iter, tol, check_every)
    tau_a, tau_b, rho_a, rho_b = _parse_reg_m(reg_m, eps)
    unbatched = isinstance(cost, Tensor) and cost.dim() == 2
    balanced = rho_a == math.inf and rho_b == math.inf
    # -C / eps, computed once (padded pairs set to 0 so garbage there never leaks);
    # _prepare checks that it is finite at real pairs.
    cost, neg_c, log_a, log_b, mask_a, mask_b = _prepare(
        cost, a, b, mask_a, mask_b, balanced, eps
    )

    stats: dict[str, int] = {}
    fe, ge = _SinkhornLog.apply(
        neg_c, log_a, log_b, tau_a, tau_b, max_iter, tol, check_every, stats
    )
    n_iter = stats["n_iter"]
    plan = _assemble_plan(neg_c, log_a + fe, log_b, ge, balanced)
    if not return_result and (tol is None or not warn):
        return plan[0] if unbatched else plan

    with torch.no_grad():
        err = _marginal_error(plan.sum(-1), log_a, fe, eps / rho_a) + _marginal_error(
            plan.sum(-2), log_b, ge, eps / rho_b
        )
    converged = tol is not None and bool((err < tol).all())
    if tol is not None and warn and not converged:
        warnings.warn(
            f"Sinkhorn did not converge in {max_iter} iterations: max marginal error "
            f"{err.max().item():.3e} >= tol={tol:g} (eps={eps:g}). Increase max_iter or eps.",
            SinkhornConvergenceWarning,
            stacklevel=2,
        )
    if not return_result:
        return plan[0] if unbatched else plan
    f = torch.where(torch.isfinite(log_a), fe * eps, 0.0)
    g = torch.where(torch.isfinite(log_b), ge * eps, 0.0)
    if unbatched:
        plan, f, g, err = plan[0], f[0], g[0], err[0]
    return SinkhornResult(plan, f, g, n_iter, err, converged)


def ot_cost(plan: Tensor, cost: Tensor) -> Tensor:
    r"""Linear OT cost :math:`\langle \mathbf{P}, \mathbf{C} \rangle_F` per batch element.

    Parameters
    ----------
    plan : Tensor, shape (B, n, m) or (n, m)
        Transport plans (e.g. from :func:`sinkhorn`).
    cost : Tensor, shape (B, n, m) or (n, m)
        Cost matrices; must be finite where ``plan`` is zero-padded (0 * inf = NaN).

    Returns
    -------
    Tensor, shape (B,) or ()
        ``sum_ij P_ij C_ij`` in the promoted dtype of the inputs.
    """
    if plan.shape != cost.shape or plan.dim() not in (2, 3):
        raise ValueError(
            f"plan and cost must have the same shape (n, m) or (B, n, m); "
            f"got {tuple(plan.shape)} and {tuple(cost.shape)}"
        )
    return (plan * cost).sum(dim=(-2, -1))


# --------------------------------------------------------------------------- solvers


class _SinkhornLog(torch.autograd.Function):
    """Log-domain Sinkhorn loop with a hand-written reverse sweep.

    Forward: alternate ``r = lse_j(Z + log b + g)``, ``f = -tau_a r`` and
    ``c = lse_i(Z + log a + f)``, ``g = -tau_b c`` from ``f = g = 0`` (potentials
    scaled by 1/eps; ``Z = -C/eps`` is (B, n, m), ``log a`` (B, n), ``log b`` (B, m),
    ``-inf`` at padding). The convergence check reuses the row log-sum-exp of the
    next update: the row mass of the current plan is ``a * exp(f + r)``, and column
    marginals are exact right after a column update.

    Backward differentiates through every iteration exactly (as autograd would), but
    keeps only the (B, n) / (B, m) log-sum-exp outputs of each iteration, recomputes
    the softmax weights into one scratch buffer and accumulates into one gradient
    buffer: memory is O(B n m + n_iter B (n + m)), with no (B, n, m) allocation per
    iteration. Not twice differentiable.
    """

    @staticmethod
    def forward(ctx, neg_c, log_a, log_b, tau_a, tau_b, max_iter, tol, check_every, stats):
        work = torch.empty_like(neg_c)
        fe, ge = torch.zeros_like(log_a), torch.zeros_like(log_b)
        rows: list[Tensor] = []
        cols: list[Tensor] = []
        for it in range(max_iter):
            r = _lse(neg_c, log_b + ge, -1, work)
            if tol is not None and it > 0 and it % check_every == 0:
                err = _marginal_error(torch.exp(log_a + fe + r), log_a, fe, 1.0 / tau_a - 1.0)
                if bool((err < tol).all()):
                    break
            fe = -tau_a * r
            c = _lse(neg_c, log_a + fe, -2, work)
            ge = -tau_b * c
            rows.append(r)
            cols.append(c)
        stats["n_iter"] = len(rows)
        ctx.taus = (tau_a, tau_b)
        ctx.save_for_backward(neg_c, log_a, log_b, torch.stack(rows), torch.stack(cols))
        return fe, ge

    @staticmethod
    @torch.autograd.function.once_differentiable
    def backward(ctx, grad_fe, grad_ge):
        neg_c, log_a, log_b, rows, cols = ctx.saved_tensors
        tau_a, tau_b = ctx.taus
        work = torch.empty_like(neg_c)
        grad_c = torch.zeros_like(neg_c) if ctx.needs_input_grad[0] else None
        grad_la, grad_lb = torch.zeros_like(log_a), torch.zeros_like(log_b)
        g_bar = torch.zeros_like(log_b) if grad_ge is None else grad_ge
        last = rows.shape[0] - 1
        for k in range(last, -1, -1):
            # column step k: g_k = -tau_b lse_i(Z + log a + f_k), with f_k = -tau_a rows[k]
            f_k = -tau_a * rows[k]
            f_bar = _lse_backward(neg_c, log_a + f_k, cols[k], -tau_b * g_bar, -2, work, grad_c)
            grad_la += f_bar
            if k == last and grad_fe is not None:
                f_bar = f_bar + grad_fe
            # row step k: f_k = -tau_a lse_j(Z + log b + g_{k-1}), with g_{-1} = 0
            g_prev = -tau_b * cols[k - 1] if k > 0 else torch.zeros_like(log_b)
            g_bar = _lse_backward(neg_c, log_b + g_prev, rows[k], -tau_a * f_bar, -1, work, grad_c)
            grad_lb += g_bar
        return grad_c, grad_la, grad_lb, None, None, None, None, None, None


def _assemble_plan(neg_c: Tensor, row: Tensor, log_b: Tensor, ge: Tensor, balanced: bool) -> Tensor:
    """``P = exp(neg_c + row_i + log_b_j + g_j)`` written so that its columns sum to ``b``.

    ``row = log a + f / eps`` (B, n). The last column update set ``g = -tau_b c`` with
    ``c_j = lse_i(neg_c_ij + row_i)``, so ``log P = (z - c) + log b + (g + c)`` with
    ``z = neg_c + row``: ``z - c`` is a log column-softmax formed by an exact subtraction,
    which keeps the column sums right even when ``|neg_c|`` is ~1e11 and adding the
    potentials to it in another order would lose ``log b`` entirely (a plan of mass 3.57,
    not 1). Balanced: ``g + c = 0`` exactly. ``c`` is a constant for autograd and
    ``g - g.detach()`` (exactly 0) carries g's gradient, so the gradient is the one of
    the plain formula, and no extra (B, n, m) buffer is saved for the backward pass.
    """
    z = neg_c + row.unsqueeze(-1)
    with torch.no_grad():
        c = torch.logsumexp(z, dim=-2)  # (B, m); finite: every batch row has a real token
        shift = torch.zeros_like(c) if balanced else ge + c
    log_col = log_b + shift + (ge - ge.detach())
    return torch.exp(z.sub_(c.unsqueeze(-2)).add_(log_col.unsqueeze(-2)))


def _lse(neg_c: Tensor, v: Tensor, dim: int, work: Tensor) -> Tensor:
    """``logsumexp(neg_c + v, dim)`` with ``v`` broadcast along the other axis.

    ``neg_c`` and the scratch buffer ``work`` are (B, n, m); ``v`` is (B, m) for
    ``dim=-1`` (result (B, n)) or (B, n) for ``dim=-2`` (result (B, m)). Shifted
    exponents are floored at ``log(tiny)``: this skips subnormal ``exp`` (very slow on
    CPU) for tiny eps and changes the sum by less than ``n * tiny`` relative.
    """
    z = torch.add(neg_c, v.unsqueeze(-3 - dim), out=work)
    zmax = z.amax(dim, keepdim=True)
    zmax = zmax.masked_fill(~torch.isfinite(zmax), 0.0)
    floor = math.log(torch.finfo(z.dtype).tiny) + 1.0
    return z.sub_(zmax).clamp_min_(floor).exp_().sum(dim).log_().add_(zmax.squeeze(dim))


def _lse_backward(
    neg_c: Tensor,
    v: Tensor,
    out: Tensor,
    out_bar: Tensor,
    dim: int,
    work: Tensor,
    grad_c: Tensor | None,
) -> Tensor:
    """Vector-Jacobian product of ``out = _lse(neg_c, v, dim, work)``.

    ``out_bar`` has the shape of ``out``. Adds ``softmax * out_bar`` (B, n, m) into
    ``grad_c`` in place when given; returns the gradient with respect to ``v``.
    """
    other = -3 - dim
    w = torch.add(neg_c, v.unsqueeze(other), out=work).sub_(out.unsqueeze(dim)).exp_()
    w.mul_(out_bar.unsqueeze(dim))
    if grad_c is not None:
        grad_c.add_(w)
    return w.sum(other)


def _marginal_error(mass: Tensor, log_w: Tensor, pot_e: Tensor, eps_over_rho: float) -> Tensor:
    """L1 gap (B,) between plan marginal ``mass`` (B, k) and its optimal target.

    The target is ``w`` when balanced and ``w * exp(-pot / rho)`` when relaxed
    (first-order condition of the KL penalty); ``pot_e`` is ``pot / eps`` and
    ``eps_over_rho = 1 / tau - 1`` (0 when balanced).
    """
    target = torch.exp(log_w - pot_e * eps_over_rho)
    return (mass - target).abs().sum(-1)


# ---------------------------------------------------------------------- validation


def _is_real(x: object) -> bool:
    return isinstance(x, numbers.Real) and not isinstance(x, bool)


def _is_int(x: object) -> bool:
    return isinstance(x, numbers.Integral) and not isinstance(x, bool)


def _check_options(eps: float, max_iter: int, tol: float | None, check_every: int) -> None:
    if not _is_real(eps) or not 0 < eps < math.inf:
        raise ValueError(f"eps must be a positive finite float, got {eps!r}")
    if not _is_int(max_iter) or max_iter < 1:
        raise ValueError(f"max_iter must be an int >= 1, got {max_iter!r}")
    if tol is not None and (not _is_real(tol) or not tol > 0):
        raise ValueError(f"tol must be None or a positive float, got {tol!r}")
    if not _is_int(check_every) or check_every < 1:
        raise ValueError(f"check_every must be an int >= 1, got {check_every!r}")


def _parse_reg_m(
    reg_m: float | Sequence[float] | None, eps: float
) -> tuple[float, float, float, float]:
    """Return ``(tau_a, tau_b, rho_a, rho_b)`` with ``tau = rho / (rho + eps)``."""
    if reg_m is None:
        return 1.0, 1.0, math.inf, math.inf
    pair: tuple[float, float] | None = None
    if _is_real(reg_m):
        pair = (float(reg_m), float(reg_m))
    elif isinstance(reg_m, Sequence) and not isinstance(reg_m, str) and len(reg_m) in (1, 2):
        if all(_is_real(r) for r in reg_m):
            pair = (float(reg_m[0]), float(reg_m[-1]))
    if pair is None:
        raise ValueError(f"reg_m must be None, a float or a pair of floats, got {reg_m!r}")
    if not all(r > 0 for r in pair):  # also rejects NaN
        raise ValueError(f"reg_m values must be > 0 (inf = balanced side), got {reg_m!r}")
    taus = [1.0 if r == math.inf else r / (r + eps) for r in pair]
    return taus[0], taus[1], pair[0], pair[1]


def _prepare(
    cost: Tensor,
    a: Tensor | None,
    b: Tensor | None,
    mask_a: Tensor | None,
    mask_b: Tensor | None,
    balanced: bool,
    eps: float,
) -> tuple[Tensor, Tensor, Tensor, Tensor, Tensor | None, Tensor | None]:
    """Validate inputs; return batched cost (B, n, m), ``-cost / eps`` (0 at padded
    pairs), log-weights (B, n)/(B, m) and masks.

    All data-dependent checks (finite real costs, masks, weights) share one device
    synchronisation.
    """
    if not isinstance(cost, Tensor) or cost.dim() not in (2, 3):
        raise ValueError(f"cost must be a tensor of shape (n, m) or (B, n, m), got {_shape(cost)}")
    if not cost.is_floating_point():
        raise ValueError(f"cost must be a floating-point tensor, got {cost.dtype}")
    if cost.numel() == 0:
        raise ValueError(f"cost must be non-empty, got shape {tuple(cost.shape)}")
    if cost.dtype in (torch.float16, torch.bfloat16):
        cost = cost.float()
    if cost.dim() == 2:
        cost = cost.unsqueeze(0)
        a, b, mask_a, mask_b = (
            None if t is None else t.unsqueeze(0) for t in (a, b, mask_a, mask_b)
        )
    bsz, n, m = cost.shape
    checks: list[tuple[Tensor, str]] = []  # (bool scalar "is bad", message)
    weights = []
    for side, w, mask, k in (("a", a, mask_a, n), ("b", b, mask_b, m)):
        given = w is not None
        if mask is not None:
            _check_tensor(f"mask_{side}", mask, (bsz, k), cost.device)
            if mask.dtype != torch.bool:
                raise ValueError(f"mask_{side} must be a bool tensor (True = real token)")
        if w is None:
            w = torch.ones(bsz, k, dtype=cost.dtype, device=cost.device)
            if mask is not None:
                w = w * mask
                w = w / w.sum(-1, keepdim=True).clamp_min(1.0)
            else:
                w = w / k
        else:
            _check_tensor(side, w, (bsz, k), cost.device)
            w = w.to(cost.dtype)
            if mask is not None:
                w = w.masked_fill(~mask, 0.0)
            checks.append(
                ((w < 0).any() | ~torch.isfinite(w).all(), f"{side} must be finite and >= 0")
            )
        if given or mask is not None:
            msg = f"every batch row needs a real token with positive mass in {side}/mask_{side}"
            checks.append(((w.sum(-1) <= 0).any(), msg))
        weights.append(w)
    if balanced and (a is not None or b is not None):
        mass_a, mass_b = weights[0].sum(-1), weights[1].sum(-1)
        unequal = ((mass_a - mass_b).abs() > 1e-4 * mass_a.abs().maximum(mass_b.abs())).any()
        checks.append(
            (unequal, "balanced OT needs a.sum() == b.sum() per batch row; normalise the "
             "marginals or pass reg_m for unbalanced OT")
        )  # fmt: skip
    real = None if mask_a is None and mask_b is None else _pair_mask(mask_a, mask_b, cost.shape)
    with torch.no_grad():
        bad_cost = ~torch.isfinite(cost) if real is None else ~torch.isfinite(cost) & real
    neg_c = cost * (-1.0 / eps)
    if real is not None:
        neg_c = neg_c.masked_fill(~real, 0.0)
    checks.append((bad_cost.any(), ""))
    checks.append((~torch.isfinite(neg_c.detach()).all(), ""))
    flags = torch.stack([flag for flag, _ in checks]).tolist()
    if flags[-2]:
        raise ValueError(_non_finite_message(cost, bad_cost))
    if flags[-1]:
        raise ValueError(
            f"cost / eps overflows {cost.dtype} (eps={eps:g}, largest real |cost| "
            f"{_largest_real(cost, real):.3g}): raise eps or rescale the cost"
        )
    for bad, (_, msg) in zip(flags, checks, strict=True):
        if bad:
            raise ValueError(msg)
    tiny = torch.finfo(cost.dtype).tiny
    log_a, log_b = (torch.where(w > 0, w.clamp_min(tiny).log(), -math.inf) for w in weights)
    return cost, neg_c, log_a, log_b, mask_a, mask_b


def _non_finite_message(cost: Tensor, bad: Tensor) -> str:
    """Say how many real cost entries are NaN/inf, and where the first one is."""
    where = [int(i) for i in bad.nonzero()[0].tolist()]
    first = cost.detach()[tuple(where)].item()
    count = int(bad.sum().item())
    return (
        f"cost has {count} non-finite entr{'y' if count == 1 else 'ies'} at real (unmasked) "
        f"positions, e.g. {first} at [batch, row, col] = {where}: costs of real tokens must "
        "be finite (mask a token out instead of giving it an infinite cost)"
    )


def _largest_real(cost: Tensor, real: Tensor | None) -> float:
    c = cost.detach().abs()
    return float((c if real is None else c.masked_fill(~real, 0.0)).max().item())


def _check_tensor(name: str, t: object, shape: tuple[int, ...], device: torch.device) -> None:
    if not isinstance(t, Tensor) or tuple(t.shape) != shape:
        raise ValueError(f"{name} must have shape {shape} to match cost, got {_shape(t)}")
    if t.device != device:
        raise ValueError(f"{name} is on {t.device} but cost is on {device}")


def _pair_mask(mask_a: Tensor | None, mask_b: Tensor | None, shape: torch.Size) -> Tensor:
    """(B, n, m) bool: True where both the row and the column are real tokens."""
    if mask_a is None:
        return mask_b.unsqueeze(-2).expand(shape)
    if mask_b is None:
        return mask_a.unsqueeze(-1).expand(shape)
    return mask_a.unsqueeze(-1) & mask_b.unsqueeze(-2)


def _shape(t: object) -> object:
    return tuple(t.shape) if isinstance(t, Tensor) else type(t).__name__
