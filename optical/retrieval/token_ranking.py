"""Token-level ranking loops over a :class:`~.tokens.TokenStore`: reranking and exact MaxSim.

The loops that feed :mod:`optical.retrieval.scoring`'s tensor functions with a store's
token rows, for :class:`~.search.Retriever`:

- :func:`rerank_candidates` — MaxSim or OT scores of each query against its pooled
  candidates (OT on groups of one padded width, set by each document's own length).
- :func:`maxsim_exact` — MaxSim of every query against every document, in contiguous
  blocks of the store, and the top ``k`` of each query (with ties at the cut).

Scores depend only on a query's and a document's token vectors, never on the block
or group a document is scored in (see :mod:`.search`).
"""

from __future__ import annotations

import numpy as np
import torch

from optical.retrieval.maxsim_screen import screen_available, screened_maxsim_topk
from optical.retrieval.scoring import exact_operand, maxsim_scores_packed, ot_scores
from optical.retrieval.tokens import TokenStore

__all__ = ["maxsim_exact", "maxsim_exact_direct", "rerank_candidates"]

_CELLS = 1 << 24  # max similarity cells (float64: 128 MiB) materialised at once in exact MaxSim
_BLOCK_DOCS = 1024  # documents per block in exact MaxSim
_QUERY_CHUNK = 256  # queries scored together in exact MaxSim
_OT_GROUP = 32  # OT rerank: candidates per Sinkhorn call (all of one padded width)
_OT_WIDTHS = (8, 16, 24, 32, 48, 64, 96, 128, 192, 256, 384, 512)  # OT rerank padding


def _pad(tokens: list[np.ndarray], dim: int, device: torch.device):
    """Stack variable-length ``[n_i, H]`` arrays into ``[B, n, H]`` + mask ``[B, n]``."""
    width = max([len(t) for t in tokens] + [1])
    out = np.zeros((len(tokens), width, dim), dtype=np.float32)
    mask = np.zeros((len(tokens), width), dtype=bool)
    for i, t in enumerate(tokens):
        out[i, : len(t)] = t
        mask[i, : len(t)] = True
    return torch.from_numpy(out).to(device), torch.from_numpy(mask).to(device)


def _padded_width(length: int) -> int:
    """Token slots a document of ``length`` tokens is padded to in OT reranking: a function
    of its own length only (at most 1.5x padding past 16 tokens)."""
    for width in _OT_WIDTHS:
        if length <= width:
            return width
    return -(-length // 256) * 256


def _width_groups(lengths: np.ndarray, size: int) -> list[tuple[int, np.ndarray]]:
    """``(padded width, indices)`` groups of at most ``size`` documents of one width, so a
    document's padded shape never depends on the other candidates."""
    widths = np.array([_padded_width(int(n)) for n in lengths], dtype=np.int64)
    groups = []
    for width in np.unique(widths):
        members = np.flatnonzero(widths == width)
        groups += [(int(width), members[i : i + size]) for i in range(0, len(members), size)]
    return groups


def _progress_bar(progress: bool, total: int, desc: str, unit: str):
    """A tqdm bar on stderr (the encoding's mechanism); disabled when ``progress`` is False."""
    from tqdm.auto import tqdm

    return tqdm(total=total, desc=desc, unit=unit, disable=not progress)


def _bar(items, progress: bool, desc: str, unit: str):
    from tqdm.auto import tqdm

    return tqdm(items, desc=desc, unit=unit, disable=not progress)


# ---------------------------------------------------------------- reranking
def rerank_candidates(
    store: TokenStore,
    mode: str,
    q_tokens: list[np.ndarray],
    candidates: list[np.ndarray],
    device: torch.device,
    *,
    ot_eps: float,
    ot_max_iter: int,
    progress: bool = False,
) -> list[tuple[np.ndarray, np.ndarray]]:
    """``(positions, scores float32)`` of each query's candidate ``positions`` in ``mode``.

    Parameters
    ----------
    store : TokenStore
    mode : {"maxsim", "ot"}
    q_tokens : list of numpy.ndarray ``[n_i, H]``
        Each query's content-token vectors.
    candidates : list of numpy.ndarray, int64
        Each query's candidate document positions (same length as ``q_tokens``).
    device : torch.device
    ot_eps, ot_max_iter : float, int
        Sinkhorn settings of the ``ot`` mode.
    progress : bool
        A tqdm bar (``"<mode> rerank"``, one step per query) on stderr.
    """
    return [
        _rerank_one(store, mode, q_tokens[i], candidates[i], device, ot_eps, ot_max_iter)
        for i in _bar(range(len(q_tokens)), progress, f"{mode} rerank", "query")
    ]


def _rerank_one(
    store: TokenStore,
    mode: str,
    q_tok: np.ndarray,
    positions: np.ndarray,
    device: torch.device,
    ot_eps: float,
    ot_max_iter: int,
) -> tuple[np.ndarray, np.ndarray]:
    """Token scores of one query against candidate ``positions``.

    MaxSim: one GEMM over the candidates' packed token rows (no padding) and a
    segmented max. OT: Sinkhorn on padded groups of similar-length candidates
    (its cost grows with the padded n x m cells).
    """
    q = torch.from_numpy(np.ascontiguousarray(q_tok, dtype=np.float32)).to(device)[None]
    with torch.inference_mode():
        if mode == "maxsim":
            rows, doc = store.gather_packed(positions, as_float32=False)  # exact_operand takes fp16 as is
            s = maxsim_scores_packed(
                q, torch.from_numpy(rows).to(device), torch.from_numpy(doc), len(positions)
            )
            return positions, s[0].float().cpu().numpy()
        scores = np.empty(len(positions), dtype=np.float32)
        for width, group in _width_groups(store.lengths[positions], _OT_GROUP):
            d, d_mask = store.gather(positions[group])
            pad = width - d.shape[1]
            d = np.pad(d, ((0, 0), (0, pad), (0, 0)))
            d_mask = np.pad(d_mask, ((0, 0), (0, pad)))
            s = ot_scores(
                q,
                torch.from_numpy(d).to(device),
                None,
                torch.from_numpy(d_mask).to(device),
                eps=ot_eps,
                max_iter=ot_max_iter,
            )
            scores[group] = s[0].float().cpu().numpy()
    return positions, scores


# ------------------------------------------------------------- exact MaxSim
def maxsim_exact(
    store: TokenStore,
    n_docs: int,
    q_tokens: list[np.ndarray],
    k: int,
    device: torch.device,
    progress: bool = False,
) -> list[tuple[np.ndarray, np.ndarray]]:
    """MaxSim of every query against every document; top-k (with ties at the cut).

    Returns ``(positions, scores float32)`` per query; ``n_docs`` is the index's size.
    The same result as scoring every document exactly (:func:`maxsim_exact_direct`), got
    through a float32 screen with a proven error bound where the device allows it
    (:mod:`.maxsim_screen`).
    """
    if k < n_docs and screen_available(device):  # same top k, screened in float32 first
        label = f"exact MaxSim ({len(q_tokens)} queries x {n_docs} docs)"
        with _progress_bar(progress, len(q_tokens), label, "query") as bar:
            return screened_maxsim_topk(store, n_docs, q_tokens, k, device, bar=bar)
    return maxsim_exact_direct(store, n_docs, q_tokens, k, device, progress)


def maxsim_exact_direct(
    store: TokenStore,
    n_docs: int,
    q_tokens: list[np.ndarray],
    k: int,
    device: torch.device,
    progress: bool = False,
) -> list[tuple[np.ndarray, np.ndarray]]:
    """:func:`maxsim_exact` scoring every document exactly (the reference the screen matches)."""
    out = []
    steps = -(-len(q_tokens) // _QUERY_CHUNK) * max(1, -(-n_docs // _BLOCK_DOCS))
    with _progress_bar(
        progress, steps, f"exact MaxSim ({len(q_tokens)} queries x {n_docs} docs)", "block"
    ) as bar:
        for chunk in range(0, len(q_tokens), _QUERY_CHUNK):
            all_scores = _maxsim_all(
                store, n_docs, q_tokens[chunk : chunk + _QUERY_CHUNK], device, bar
            )
            out += [_top(row, k) for row in all_scores]
    return out


def _maxsim_all(
    store: TokenStore, n_docs: int, q_tokens: list[np.ndarray], device: torch.device, bar=None
) -> np.ndarray:
    """MaxSim scores ``[B_q, n_docs]`` float32; documents in contiguous packed blocks."""
    q_pad, q_mask = _pad(q_tokens, store.dim, device)
    q_pad = exact_operand(q_pad)  # once, not per block (float64 passes through scoring)
    all_scores = np.empty((len(q_tokens), n_docs), dtype=np.float32)
    n_q = q_pad.shape[1]
    with torch.inference_mode():
        for start in range(0, n_docs, _BLOCK_DOCS):
            if bar is not None and start:
                bar.update(1)
            block = np.arange(start, min(n_docs, start + _BLOCK_DOCS))
            # a contiguous slice of the store, float16 -> float64 once per block
            rows, doc = store.gather_packed(block, as_float32=False)
            rows_t = exact_operand(torch.from_numpy(rows).to(device))
            doc_t = torch.from_numpy(doc).to(device)
            per = max(1, _CELLS // max(1, n_q * len(rows)))
            for qs in range(0, len(q_tokens), per):
                s = maxsim_scores_packed(
                    q_pad[qs : qs + per], rows_t, doc_t, len(block), q_mask[qs : qs + per]
                )
                all_scores[qs : qs + per, start : start + len(block)] = s.float().cpu().numpy()
    if bar is not None:
        bar.update(1)
    return all_scores


def _top(row: np.ndarray, k: int) -> tuple[np.ndarray, np.ndarray]:
    """Positions and scores of the top ``k`` of ``row``, plus ties with the k-th."""
    n_docs = len(row)
    if k < n_docs:
        cut = np.partition(row, n_docs - k)[n_docs - k]
        positions = np.flatnonzero(row >= cut)
    else:
        positions = np.arange(n_docs)
    return positions, row[positions]
