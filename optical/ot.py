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

This module is the public face (:func:`sinkhorn`, :func:`ot_cost`, the result and warning
types); the iterations live in :mod:`optical.ot_solver` and the argument checks in
:mod:`optical.ot_inputs`.
"""

from __future__ import annotations

import math
import warnings
from collections.abc import Sequence
from dataclasses import dataclass

import torch
from torch import Tensor

from optical.ot_inputs import check_options, parse_reg_m, prepare_problem
from optical.ot_solver import SinkhornLog, assemble_plan, marginal_error

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
    check_options(eps, max_iter, tol, check_every)
    tau_a, tau_b, rho_a, rho_b = parse_reg_m(reg_m, eps)
    unbatched = isinstance(cost, Tensor) and cost.dim() == 2
    balanced = rho_a == math.inf and rho_b == math.inf
    # -C / eps, computed once (padded pairs set to 0 so garbage there never leaks);
    # prepare_problem checks that it is finite at real pairs.
    cost, neg_c, log_a, log_b, mask_a, mask_b = prepare_problem(
        cost, a, b, mask_a, mask_b, balanced, eps
    )

    stats: dict[str, int] = {}
    fe, ge = SinkhornLog.apply(
        neg_c, log_a, log_b, tau_a, tau_b, max_iter, tol, check_every, stats
    )
    n_iter = stats["n_iter"]
    plan = assemble_plan(neg_c, log_a + fe, log_b, ge, balanced)
    if not return_result and (tol is None or not warn):
        return plan[0] if unbatched else plan

    with torch.no_grad():
        err = marginal_error(plan.sum(-1), log_a, fe, eps / rho_a) + marginal_error(
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
