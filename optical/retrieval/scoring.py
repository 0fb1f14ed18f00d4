"""Query-document scores from token vectors: pure tensor functions.

All inputs are L2-normalised token vectors (cosine = dot product), padded into
batches with boolean masks (True = real token). Everything runs on the inputs'
device. Used by the retriever (MaxSim and OT reranking) and by the explanation
heatmaps.

Exact, order-independent scores
-------------------------------
:func:`maxsim_scores`, :func:`maxsim_scores_packed` and the costs of
:func:`ot_scores` do not depend on where a document sits in a batch, on the other
documents or queries of the batch, on the BLAS kernel, the thread count or the
device: both sides are rounded to float16 (the token store's precision) and the
dot products are computed in float64, where they are **exact** — every float16
value is a multiple of 2^-24, so every product and every partial sum of two unit
vectors' components is a multiple of 2^-48 of magnitude < 32, which float64's 53
bits hold exactly, in any summation order. The per-token maxima are summed over
the query tokens in token order, in float64, and the score is rounded to float32.
(float64 inputs are used as they are, without the float16 rounding.) Vectors with
a component beyond float16's range (±65504) are refused: they are not unit vectors.

An *empty side* (a query or document without a single real token) is treated as
orthogonal to everything (cosine 0): MaxSim gives 0, OT gives -1 (cost 1 - 0).
"""

from __future__ import annotations

import torch
from torch import Tensor

__all__ = [
    "cosine_matrix",
    "exact_operand",
    "maxsim_matches",
    "maxsim_scores",
    "maxsim_scores_packed",
    "ot_scores",
]

# Largest number of (query token, document token) cells one OT call handles at once.
_OT_CELLS = 1 << 22


def _as_float(x: Tensor) -> Tensor:
    return x.float() if x.dtype in (torch.float16, torch.bfloat16) else x


def exact_operand(x: Tensor) -> Tensor:
    """``x`` rounded to float16 and held in float64 (see the module docstring).

    Raises
    ------
    ValueError
        A finite component outside float16's range.
    """
    if x.dtype == torch.float64:
        return x
    half = x if x.dtype == torch.float16 else x.to(torch.float16)
    if x.dtype != torch.float16 and x.numel() and bool(torch.isinf(half).any()):
        if not bool(torch.isinf(x[torch.isinf(half)]).all()):
            raise ValueError(
                "token vectors must be L2-normalised: a component exceeds float16's range "
                f"(largest |x| = {float(x.abs().max()):.4g})"
            )
    return half.to(torch.float64)


def _out_dtype(x: Tensor) -> torch.dtype:
    return torch.float64 if x.dtype == torch.float64 else torch.float32


def _sum_over_query_tokens(best: Tensor) -> Tensor:
    """``best.sum(1)`` for ``best [B_q, n, B_d]``, adding the n tokens in order.

    An explicit loop, so a score's summation order is the query's token order, never a
    reduction kernel's choice (which may depend on the batch's shape or padding).
    """
    total = best[:, 0].clone() if best.shape[1] else best.new_zeros(best.shape[0], best.shape[2])
    for i in range(1, best.shape[1]):
        total += best[:, i]
    return total


def _check(q: Tensor, d: Tensor, q_mask: Tensor | None, d_mask: Tensor | None):
    if q.dim() != 3 or d.dim() != 3:
        raise ValueError(
            f"expected q [B_q, n, H] and d [B_d, m, H], got {tuple(q.shape)} and {tuple(d.shape)}"
        )
    if q.shape[-1] != d.shape[-1]:
        raise ValueError(f"dimension mismatch: q has H={q.shape[-1]}, d has H={d.shape[-1]}")
    bq, n, _ = q.shape
    bd, m, _ = d.shape
    if q_mask is None:
        q_mask = torch.ones(bq, n, dtype=torch.bool, device=q.device)
    if d_mask is None:
        d_mask = torch.ones(bd, m, dtype=torch.bool, device=d.device)
    if tuple(q_mask.shape) != (bq, n) or tuple(d_mask.shape) != (bd, m):
        raise ValueError(
            f"masks must have shapes {(bq, n)} and {(bd, m)}, got {tuple(q_mask.shape)} and "
            f"{tuple(d_mask.shape)}"
        )
    return q, d.to(q.device), q_mask.bool(), d_mask.bool().to(q.device)


def cosine_matrix(q: Tensor, d: Tensor) -> Tensor:
    """Cosine similarities of normalised token vectors.

    Parameters
    ----------
    q : Tensor, shape (n, H)
    d : Tensor, shape (m, H)

    Returns
    -------
    Tensor, shape (n, m)
    """
    return _as_float(q) @ _as_float(d).to(q.device).T


def _all_pairs(q: Tensor, d: Tensor) -> Tensor:
    """Exact cosines (float64) of every query token with every document token:
    [B_q, n, B_d, m] (one GEMM)."""
    bq, n, h = q.shape
    bd, m, _ = d.shape
    q64, d64 = exact_operand(q), exact_operand(d)
    return (q64.reshape(bq * n, h) @ d64.reshape(bd * m, h).T).view(bq, n, bd, m)


def maxsim_scores(
    q: Tensor, d: Tensor, q_mask: Tensor | None = None, d_mask: Tensor | None = None
) -> Tensor:
    """Late-interaction (ColBERT MaxSim) scores of every query against every document.

    ``score(q, d) = sum over real query tokens i of max over real document tokens j of
    cos(q_i, d_j)``.

    Parameters
    ----------
    q : Tensor, shape (B_q, n, H)
        Normalised query token vectors.
    d : Tensor, shape (B_d, m, H)
        Normalised document token vectors.
    q_mask : Tensor of bool, shape (B_q, n), optional
        True at real query tokens (default: all).
    d_mask : Tensor of bool, shape (B_d, m), optional
        True at real document tokens (default: all).

    Returns
    -------
    Tensor, shape (B_q, B_d)

    Examples
    --------
    One query with tokens e1 and e2; document 0 holds e1 and e2, document 1 holds
    (0.6, 0.8) and a padding row (0.6 and 0.8 are rounded to float16: 1.3999):

    >>> q = torch.tensor([[[1.0, 0.0], [0.0, 1.0]]])
    >>> d = torch.tensor([[[1.0, 0.0], [0.0, 1.0]], [[0.6, 0.8], [0.0, 0.0]]])
    >>> maxsim_scores(q, d, d_mask=torch.tensor([[True, True], [True, False]])).round(decimals=3)
    tensor([[2.0000, 1.4000]])

    Padding must be masked: an unmasked zero row matches at cosine 0, which beats a
    real token at cosine -1:

    >>> neg = torch.tensor([[[-1.0, 0.0], [0.0, 0.0]]])
    >>> maxsim_scores(q[:, :1], neg)
    tensor([[0.]])
    >>> maxsim_scores(q[:, :1], neg, d_mask=torch.tensor([[True, False]]))
    tensor([[-1.]])
    """
    q, d, q_mask, d_mask = _check(q, d, q_mask, d_mask)
    sims = _all_pairs(q, d).masked_fill(~d_mask[None, None], float("-inf"))
    best = sims.amax(-1)  # [B_q, n, B_d]
    best = best.masked_fill(~torch.isfinite(best), 0.0)  # empty document: cos 0
    best = best.masked_fill(~q_mask[:, :, None], 0.0)
    return _sum_over_query_tokens(best).to(_out_dtype(q))


def maxsim_scores_packed(
    q: Tensor, d_tokens: Tensor, d_index: Tensor, n_docs: int, q_mask: Tensor | None = None
) -> Tensor:
    """MaxSim with documents packed without padding (one GEMM + a segmented max).

    Same scores as :func:`maxsim_scores` for documents given as concatenated token
    rows; no work is spent on padding, which matters when lengths vary.

    Parameters
    ----------
    q : Tensor, shape (B_q, n, H)
        Normalised query token vectors.
    d_tokens : Tensor, shape (T, H)
        Normalised token vectors of all documents, concatenated.
    d_index : Tensor of int64, shape (T,)
        Document (``0 .. n_docs - 1``) of each row of ``d_tokens``.
    n_docs : int
    q_mask : Tensor of bool, shape (B_q, n), optional

    Returns
    -------
    Tensor, shape (B_q, n_docs)
        A document without rows scores 0.

    Examples
    --------
    The documents of :func:`maxsim_scores`' example, packed (document 1 has one token):

    >>> q = torch.tensor([[[1.0, 0.0], [0.0, 1.0]]])
    >>> rows = torch.tensor([[1.0, 0.0], [0.0, 1.0], [0.6, 0.8]])
    >>> maxsim_scores_packed(q, rows, torch.tensor([0, 0, 1]), n_docs=3).round(decimals=3)
    tensor([[2.0000, 1.4000, 0.0000]])
    """
    if q.dim() != 3 or d_tokens.dim() != 2 or q.shape[-1] != d_tokens.shape[-1]:
        raise ValueError(
            f"expected q [B_q, n, H] and d_tokens [T, H], got {tuple(q.shape)} and "
            f"{tuple(d_tokens.shape)}"
        )
    if tuple(d_index.shape) != (d_tokens.shape[0],):
        raise ValueError(
            f"d_index must have shape ({d_tokens.shape[0]},), got {tuple(d_index.shape)}"
        )
    out_dtype = _out_dtype(q)
    bq, n, h = q.shape
    q64 = exact_operand(q).reshape(bq * n, h)
    sims = q64 @ exact_operand(d_tokens.to(q.device)).T  # [B_q * n, T], exact
    index = d_index.to(device=q.device, dtype=torch.int64).expand(bq * n, -1)
    best = torch.full((bq * n, n_docs), float("-inf"), dtype=sims.dtype, device=q.device)
    best.scatter_reduce_(1, index, sims, reduce="amax", include_self=True)
    best = best.masked_fill(~torch.isfinite(best), 0.0).view(bq, n, n_docs)
    if q_mask is not None:
        best = best.masked_fill(~q_mask.bool().to(q.device)[:, :, None], 0.0)
    return _sum_over_query_tokens(best).to(out_dtype)


def maxsim_matches(sim: Tensor) -> tuple[Tensor, Tensor]:
    """Best document token for every query token of one similarity matrix.

    Parameters
    ----------
    sim : Tensor, shape (n, m)

    Returns
    -------
    index : Tensor of int64, shape (n,)
        ``argmax_j sim[i, j]`` (the first one on ties); all ``-1`` when ``m == 0``.
    value : Tensor, shape (n,)
        ``max_j sim[i, j]`` (0 when ``m == 0``); ``value.sum()`` is the MaxSim score.

    Examples
    --------
    >>> maxsim_matches(torch.tensor([[0.1, 0.9, 0.9], [0.5, -0.2, 0.3]]))
    (tensor([1, 0]), tensor([0.9000, 0.5000]))
    """
    if sim.shape[1] == 0:
        n = sim.shape[0]
        return (
            torch.full((n,), -1, dtype=torch.int64, device=sim.device),
            torch.zeros(n, dtype=sim.dtype, device=sim.device),
        )
    value, index = sim.max(dim=1)
    return index, value


def ot_scores(
    q: Tensor,
    d: Tensor,
    q_mask: Tensor | None = None,
    d_mask: Tensor | None = None,
    *,
    eps: float = 0.05,
    max_iter: int = 100,
) -> Tensor:
    """Negative entropic OT cost between token sets, every query against every document.

    Cost ``C_ij = 1 - cos(q_i, d_j)``; uniform marginals over the real tokens of each
    side (balanced Sinkhorn, :func:`optical.ot.sinkhorn`); score ``-<P, C>``, in
    ``[-2, 0]`` (higher = closer).

    Parameters
    ----------
    q : Tensor, shape (B_q, n, H)
    d : Tensor, shape (B_d, m, H)
    q_mask, d_mask : Tensor of bool, shapes (B_q, n) and (B_d, m), optional
    eps : float
        Entropic regularisation (cost units).
    max_iter : int
        Sinkhorn iterations (fixed).

    Returns
    -------
    Tensor, shape (B_q, B_d)

    Examples
    --------
    One token each: the plan is the single cell, the cost ``1 - 0.6``:

    >>> q = torch.tensor([[[1.0, 0.0]]])
    >>> d = torch.tensor([[[0.6, 0.8]]])
    >>> ot_scores(q, d).round(decimals=3)
    tensor([[-0.4000]])

    Two tokens against the same two in the other order: OT matches them crosswise
    at (almost) zero cost, whereas a 2-token document with only one of them costs half:

    >>> q2 = torch.tensor([[[1.0, 0.0], [0.0, 1.0]]])
    >>> d2 = torch.tensor([[[0.0, 1.0], [1.0, 0.0]], [[1.0, 0.0], [1.0, 0.0]]])
    >>> ot_scores(q2, d2).round(decimals=4)
    tensor([[-0.0000, -0.5000]])
    """
    from optical.ot import ot_cost, sinkhorn

    q, d, q_mask, d_mask = _check(q, d, q_mask, d_mask)
    bq, n, _ = q.shape
    bd, m, _ = d.shape
    dtype = _out_dtype(q)
    out = torch.full((bq, bd), -1.0, dtype=dtype, device=q.device)  # empty side: cost 1
    if bq == 0 or bd == 0 or n == 0 or m == 0:
        return out
    q_ok = q_mask.any(1)
    d_ok = d_mask.any(1)
    # Give empty sides one dummy real token so Sinkhorn stays well-posed; overwritten below.
    q_mask_safe = q_mask.clone()
    q_mask_safe[~q_ok, 0] = True
    d_mask_safe = d_mask.clone()
    d_mask_safe[~d_ok, 0] = True
    per_query = max(1, _OT_CELLS // max(1, n * m * bd))
    for start in range(0, bq, per_query):
        stop = min(bq, start + per_query)
        # exact cosines rounded once to the working precision: order-independent costs
        cos = _all_pairs(q[start:stop], d).to(dtype).permute(0, 2, 1, 3)  # [b, B_d, n, m]
        cost = 1.0 - cos
        b = stop - start
        cost = cost.reshape(b * bd, n, m)
        mask_a = q_mask_safe[start:stop, None, :].expand(b, bd, n).reshape(b * bd, n)
        mask_b = d_mask_safe[None].expand(b, bd, m).reshape(b * bd, m)
        plan = sinkhorn(cost, mask_a=mask_a, mask_b=mask_b, eps=eps, max_iter=max_iter)
        out[start:stop] = -ot_cost(
            plan, cost.masked_fill(~(mask_a[:, :, None] & mask_b[:, None, :]), 0.0)
        ).view(b, bd)
    valid = q_ok[:, None] & d_ok[None, :]
    return torch.where(valid, out, torch.full_like(out, -1.0))
