"""Validation of :func:`optical.ot.sinkhorn`'s arguments, and their batched log form.

:func:`check_options` and :func:`parse_reg_m` check the solver settings;
:func:`prepare_problem` checks the cost matrices, weights and masks (one device
synchronisation for every data-dependent check) and returns the batched ``-C / eps``
and log-weights that :class:`optical.ot_solver.SinkhornLog` iterates on.
"""

from __future__ import annotations

import math
import numbers
from collections.abc import Sequence

import torch
from torch import Tensor

__all__ = ["check_options", "parse_reg_m", "prepare_problem"]


def _is_real(x: object) -> bool:
    return isinstance(x, numbers.Real) and not isinstance(x, bool)


def _is_int(x: object) -> bool:
    return isinstance(x, numbers.Integral) and not isinstance(x, bool)


def check_options(eps: float, max_iter: int, tol: float | None, check_every: int) -> None:
    if not _is_real(eps) or not 0 < eps < math.inf:
        raise ValueError(f"eps must be a positive finite float, got {eps!r}")
    if not _is_int(max_iter) or max_iter < 1:
        raise ValueError(f"max_iter must be an int >= 1, got {max_iter!r}")
    if tol is not None and (not _is_real(tol) or not tol > 0):
        raise ValueError(f"tol must be None or a positive float, got {tol!r}")
    if not _is_int(check_every) or check_every < 1:
        raise ValueError(f"check_every must be an int >= 1, got {check_every!r}")


def parse_reg_m(
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


def prepare_problem(
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
