"""The FAISS inner-product indexes a :class:`~optical.retrieval.index.DenseIndex` is built on.

``flat`` is exact (``IndexFlatIP``); ``ivf`` (``IndexIVFFlat``) and ``hnsw``
(``IndexHNSWFlat``) are approximate, for large corpora. FAISS is imported on first use.
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np

__all__ = ["KINDS", "import_faiss", "make_faiss_index"]

KINDS = ("flat", "ivf", "hnsw")


def import_faiss():
    """The ``faiss`` module (imported lazily: it is slow to import)."""
    import faiss

    return faiss


def _default_nlist(n: int) -> int:
    return int(min(max(1, round(4 * math.sqrt(n))), max(1, n)))


def make_faiss_index(vectors: np.ndarray, kind: str = "flat", params: dict[str, Any] | None = None):
    """A FAISS inner-product index of ``kind`` holding ``vectors``.

    Parameters
    ----------
    vectors : numpy.ndarray, shape (N, H), float32
    kind : {"flat", "ivf", "hnsw"}
    params : dict, optional
        ``nlist``/``nprobe``/``train_size`` (ivf) or ``hnsw_m``/``ef_construction``/
        ``ef_search`` (hnsw); updated in place with the values used.
    """
    params = {} if params is None else params
    faiss = import_faiss()
    n, dim = vectors.shape
    if kind == "flat":
        index = faiss.IndexFlatIP(dim)
    elif kind == "ivf":
        nlist = int(params.get("nlist") or _default_nlist(n))
        if not 1 <= nlist <= max(1, n):
            raise ValueError(f"nlist must be in [1, {n}] for {n} documents, got {nlist}")
        quantizer = faiss.IndexFlatIP(dim)
        index = faiss.IndexIVFFlat(quantizer, dim, nlist, faiss.METRIC_INNER_PRODUCT)
        train_size = int(params.get("train_size") or min(n, 64 * nlist))
        rng = np.random.default_rng(0)
        sample = vectors if train_size >= n else vectors[rng.choice(n, train_size, replace=False)]
        index.cp.min_points_per_centroid = 1  # small corpora: no warning spam
        index.train(np.ascontiguousarray(sample))
        index.nprobe = int(params.get("nprobe") or min(nlist, 16))
        params.update(nlist=nlist, nprobe=int(index.nprobe), train_size=train_size)
    elif kind == "hnsw":
        m = int(params.get("hnsw_m") or 32)
        index = faiss.IndexHNSWFlat(dim, m, faiss.METRIC_INNER_PRODUCT)
        index.hnsw.efConstruction = int(params.get("ef_construction") or 80)
        index.hnsw.efSearch = int(params.get("ef_search") or 64)
        params.update(
            hnsw_m=m,
            ef_construction=int(index.hnsw.efConstruction),
            ef_search=int(index.hnsw.efSearch),
        )
    else:
        raise ValueError(f"unknown index kind {kind!r}; use one of {', '.join(KINDS)}")
    if n:
        index.add(np.ascontiguousarray(vectors, dtype=np.float32))
    return index
