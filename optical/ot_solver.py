"""The log-domain Sinkhorn iterations behind :func:`optical.ot.sinkhorn`.

:class:`SinkhornLog` runs the alternating row/column updates on ``Z = -C / eps`` (the
potentials scaled by ``1 / eps``) with a hand-written reverse sweep;
:func:`assemble_plan` turns the final potentials into the transport plan and
:func:`marginal_error` measures how far a plan's marginals are from their targets. The
inputs come validated and batched from :func:`optical.ot_inputs.prepare_problem`.
"""

from __future__ import annotations

import math

import torch
from torch import Tensor

__all__ = ["SinkhornLog", "assemble_plan", "marginal_error"]


class SinkhornLog(torch.autograd.Function):
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
                err = marginal_error(torch.exp(log_a + fe + r), log_a, fe, 1.0 / tau_a - 1.0)
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


def assemble_plan(neg_c: Tensor, row: Tensor, log_b: Tensor, ge: Tensor, balanced: bool) -> Tensor:
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


def marginal_error(mass: Tensor, log_w: Tensor, pot_e: Tensor, eps_over_rho: float) -> Tensor:
    """L1 gap (B,) between plan marginal ``mass`` (B, k) and its optimal target.

    The target is ``w`` when balanced and ``w * exp(-pot / rho)`` when relaxed
    (first-order condition of the KL penalty); ``pot_e`` is ``pot / eps`` and
    ``eps_over_rho = 1 / tau - 1`` (0 when balanced).
    """
    target = torch.exp(log_w - pot_e * eps_over_rho)
    return (mass - target).abs().sum(-1)

