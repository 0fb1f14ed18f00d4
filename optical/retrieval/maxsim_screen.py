"""Exact MaxSim over a whole token store, fast: a float32 screen, then exact rescoring.

Exact MaxSim (:func:`optical.retrieval.scoring.maxsim_scores_packed`) computes every dot
product in float64, where it is exact and therefore independent of batch, order and
kernel. Over a whole corpus that is slow (float64 GEMM, and a scatter over every token).
This module gets the *same* top k, bit for bit, much faster:

1. **Screen.** Every document is scored in float32 on a layout of the store grouped by
   length (documents of one length form a dense block, so the maximum over a document's
   tokens is a plain reduction, with no padding), queries packed without padding too. A
   float32 score is within a proven bound ``delta`` of the exact one (below).
2. **Keep** every document whose screened score is at least ``t - 2 delta``, where ``t``
   is the k-th best screened score. Any document left out scores exactly less than
   ``t - delta``, below at least k kept documents, so the exact top k (with its ties) is
   among the kept ones.
3. **Rescore** the kept documents exactly (the float64 path) and take the top k of those.

The bound. The inputs are float16 values (exact in float32); a float32 dot product of
``H`` terms, in any order, is within ``gamma_H * sum_h |q_h d_h| <= gamma_H * |q| * |d|`` of
the exact one (``gamma_n = n u / (1 - n u)``, ``u = 2^-24``; Higham, *Accuracy and
Stability of Numerical Algorithms*, 3.1). Maxima and the masking are exact; summing ``n``
query-token maxima in float32 adds at most ``gamma_n`` times the sum of their magnitudes.
``delta`` adds both over the query's tokens, plus the rounding of the exact score to
float32, and is doubled for margin. The screen is used only where float32 matrix
products are true float32 (never TF32: on CUDA it needs ``torch.backends.cuda.matmul.
allow_tf32`` off); elsewhere, and when ``k`` covers the corpus, the exact path runs alone.

Cost: the screen is one float32 product of every query token with every document token
(5.3 GFLOP per query on the Bible's 242,943 tokens), so it runs at the machine's float32
GEMM rate; the layout (a float16 copy of the store, 187 MB for the Bible) is built on the
first exact search and kept while the store lives. ``perf/bench_maxsim_exact.py``
measures it.
"""

from __future__ import annotations

import weakref
from dataclasses import dataclass

import numpy as np
import torch

from optical.retrieval.scoring import exact_operand, maxsim_scores_packed
from optical.retrieval.tokens import TokenStore

__all__ = ["screen_available", "screened_maxsim_topk"]

_U = 2.0**-24  # float32 unit roundoff
_BLOCK_CELLS = 1 << 25  # similarity cells (float32: 128 MiB) per screening product
_LAYOUTS: weakref.WeakKeyDictionary[TokenStore, _Layout] = weakref.WeakKeyDictionary()


def _gamma(n: int) -> float:
    return n * _U / (1.0 - n * _U)


@dataclass(frozen=True)
class _Block:
    positions: np.ndarray  # [G] document positions
    tokens: np.ndarray  # [G * W, H] float16: G documents of exactly W tokens each
    width: int


@dataclass(frozen=True)
class _Layout:
    blocks: tuple[_Block, ...]
    max_norm: float  # largest L2 norm of a stored token vector


def _layout(store: TokenStore) -> _Layout:
    """The store's documents grouped by length, so a group is a dense ``[G, W, H]`` block
    with no padding (built once per store, then kept while the store lives)."""
    cached = _LAYOUTS.get(store)
    if cached is not None:
        return cached
    blocks = []
    for width in np.unique(store.lengths):
        if width == 0:
            continue  # documents without a token score 0 (the screen's default)
        members = np.flatnonzero(store.lengths == width)
        rows, _ = store.gather_packed(members, as_float32=False)  # document by document
        blocks.append(_Block(members, np.ascontiguousarray(rows, dtype=np.float16), int(width)))
    max_norm = 0.0
    for start in range(0, store.n_tokens, 1 << 16):  # float64 in slices: no full-store copy
        rows = np.asarray(store.vectors[start : start + (1 << 16)], dtype=np.float64)
        max_norm = max(max_norm, float(np.sqrt((rows**2).sum(1).max())))
    layout = _Layout(tuple(blocks), max_norm)
    _LAYOUTS[store] = layout
    return layout


def screen_available(device: torch.device) -> bool:
    """Whether float32 matrix products on ``device`` are true float32 (the bound holds)."""
    if device.type == "cpu":
        return True
    if device.type == "cuda":
        return not torch.backends.cuda.matmul.allow_tf32 and torch.get_float32_matmul_precision() == "highest"
    return False


def _screen(layout: _Layout, n_docs: int, q: torch.Tensor, segment: torch.Tensor, n_queries: int) -> np.ndarray:
    """Float32 MaxSim ``[n_queries, n_docs]`` of queries packed as token rows ``q [R, H]``
    (float16 values) with ``segment [R]`` naming each row's query."""
    out = np.zeros((n_queries, n_docs), dtype=np.float32)
    with torch.inference_mode():
        for block in layout.blocks:
            d = torch.from_numpy(block.tokens).to(q.device, torch.float32)
            g = len(block.positions)
            step = max(1, _BLOCK_CELLS // max(1, len(q) * block.width))
            for s in range(0, g, step):
                rows = d[s * block.width : (s + step) * block.width]
                best = (q @ rows.T).view(len(q), -1, block.width).amax(-1)  # [R, docs]
                total = torch.zeros(n_queries, best.shape[1], dtype=best.dtype, device=q.device)
                total.index_add_(0, segment, best)
                out[:, block.positions[s : s + step]] = total.cpu().numpy()
    return out


def _bound(q_norms: np.ndarray, max_norm: float, dim: int) -> float:
    """``delta``: how far a screened score may be from the exact one, doubled (see the module)."""
    terms = q_norms * max_norm * (1.0 + 1e-6)
    dots = _gamma(dim) * terms.sum()
    total = terms.sum() * (1.0 + _gamma(dim))
    summing = _gamma(max(1, len(q_norms))) * total
    rounding = 2.0 * _U * total
    return 2.0 * float(dots + summing + rounding)


def screened_maxsim_topk(
    store: TokenStore,
    n_docs: int,
    q_tokens: list[np.ndarray],
    k: int,
    device: torch.device,
    chunk: int = 64,
    bar=None,
) -> list[tuple[np.ndarray, np.ndarray]]:
    """Exact MaxSim top ``k`` (ties at the cut kept) of each query over all ``n_docs``
    documents: ``(positions ascending, scores float32)``, identical to scoring every
    document exactly. Needs ``k < n_docs`` and :func:`screen_available`."""
    layout = _layout(store)
    out: list[tuple[np.ndarray, np.ndarray]] = []
    for c in range(0, len(q_tokens), chunk):
        part = q_tokens[c : c + chunk]
        lengths = [len(t) for t in part]
        starts = np.concatenate([[0], np.cumsum(lengths)])
        packed = np.concatenate([np.asarray(t, dtype=np.float32) for t in part])
        q64 = exact_operand(torch.from_numpy(packed).to(device))  # float16 values, as the exact path
        segment = torch.from_numpy(np.repeat(np.arange(len(part)), lengths)).to(device)
        screened = _screen(layout, n_docs, q64.float(), segment, len(part))
        for i in range(len(part)):
            q_exact = q64[starts[i] : starts[i + 1]][None]
            q_norms = q_exact[0].pow(2).sum(1).sqrt().cpu().numpy()
            delta = _bound(q_norms, layout.max_norm, store.dim)
            row = screened[i]
            cut = np.partition(row, n_docs - k)[n_docs - k]
            kept = np.flatnonzero(row >= cut - 2.0 * delta)
            rows, doc = store.gather_packed(kept, as_float32=False)
            with torch.inference_mode():
                exact = maxsim_scores_packed(
                    q_exact, torch.from_numpy(rows).to(device), torch.from_numpy(doc), len(kept)
                )[0].float().cpu().numpy()
            top = np.partition(exact, len(exact) - k)[len(exact) - k] if k < len(exact) else -np.inf
            chosen = exact >= top
            out.append((kept[chosen], exact[chosen]))
        if bar is not None:
            bar.update(len(part))
    return out
