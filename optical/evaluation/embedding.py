"""Embedding-space metrics: alignment, uniformity and bitext-mining accuracy.

Inputs are 2-d ``torch.Tensor`` or array-likes of shape ``(n, dim)``; every row is
L2-normalised first (rows of norm 0 raise ``ValueError``).  Computation is in float64 NumPy
and results are Python floats.
"""

from __future__ import annotations

from typing import Any, Literal

import numpy as np
from scipy.special import logsumexp

__all__ = [
    "alignment",
    "bitext_mining_accuracy",
    "l2_normalize",
    "similarity_matrix",
    "uniformity",
]

_BLOCK = 1024


def _as_matrix(x: Any, name: str) -> np.ndarray:
    if hasattr(x, "detach") and hasattr(x, "cpu"):  # torch.Tensor without importing torch
        x = x.detach().cpu().double().numpy()
    arr = np.asarray(x, dtype=np.float64)
    if arr.ndim != 2:
        raise ValueError(f"{name} must be 2-d (n, dim), got shape {arr.shape}")
    if arr.shape[0] == 0 or arr.shape[1] == 0:
        raise ValueError(f"{name} is empty: shape {arr.shape}")
    if not np.isfinite(arr).all():
        raise ValueError(f"{name} contains NaN or infinite values")
    return arr


def l2_normalize(x: Any, name: str = "x") -> np.ndarray:
    """Return the rows of ``x`` scaled to unit L2 norm as a float64 array.

    Parameters
    ----------
    x : torch.Tensor or array-like, shape (n, dim)
    name : str
        Used in error messages.

    Returns
    -------
    numpy.ndarray

    Raises
    ------
    ValueError
        Non-2-d input, non-finite values or a zero row.
    """
    arr = _as_matrix(x, name)
    norms = np.linalg.norm(arr, axis=1, keepdims=True)
    if (norms == 0).any():
        bad = np.flatnonzero(norms[:, 0] == 0)[:5].tolist()
        raise ValueError(f"{name} has zero vectors (rows {bad}) that cannot be L2-normalised")
    return arr / norms


def similarity_matrix(src: Any, tgt: Any) -> np.ndarray:
    """Cosine similarities ``S[i, j] = cos(src_i, tgt_j)``.

    Parameters
    ----------
    src : torch.Tensor or array-like, shape (n, dim)
    tgt : torch.Tensor or array-like, shape (m, dim)

    Returns
    -------
    numpy.ndarray, shape (n, m)
    """
    s = l2_normalize(src, "src")
    t = l2_normalize(tgt, "tgt")
    if s.shape[1] != t.shape[1]:
        raise ValueError(f"dimension mismatch: src {s.shape[1]} vs tgt {t.shape[1]}")
    return s @ t.T


def alignment(x: Any, y: Any, alpha: float = 2) -> float:
    """Alignment of positive pairs (Wang & Isola 2020): ``mean_i ||x_i - y_i||_2 ** alpha``.

    Parameters
    ----------
    x, y : torch.Tensor or array-like, shape (n, dim)
        Row ``i`` of ``x`` and of ``y`` form a positive pair; rows are L2-normalised.
    alpha : float, default 2
        Exponent (> 0).

    Returns
    -------
    float
        In ``[0, 2 ** alpha]``; 0 for identical directions. Lower is better.
    """
    if alpha <= 0:
        raise ValueError(f"alpha must be > 0, got {alpha}")
    a = l2_normalize(x, "x")
    b = l2_normalize(y, "y")
    if a.shape != b.shape:
        raise ValueError(f"x and y must have the same shape, got {a.shape} and {b.shape}")
    dist = np.linalg.norm(a - b, axis=1)
    return float(np.mean(dist**alpha))


def uniformity(x: Any, t: float = 2) -> float:
    """Uniformity (Wang & Isola 2020): ``log mean_{i<j} exp(-t ||x_i - x_j||_2 ** 2)``.

    Parameters
    ----------
    x : torch.Tensor or array-like, shape (n, dim), n >= 2
        Rows are L2-normalised; the mean runs over the ``n (n - 1) / 2`` distinct pairs.
    t : float, default 2
        Temperature (> 0).

    Returns
    -------
    float
        In ``[-4 t, 0]``; lower means more uniformly spread.  Computed blockwise with a
        streaming log-sum-exp, in O(block * n) memory.
    """
    if t <= 0:
        raise ValueError(f"t must be > 0, got {t}")
    a = l2_normalize(x, "x")
    n = a.shape[0]
    if n < 2:
        raise ValueError("uniformity needs at least 2 vectors")
    partial = []
    for start in range(0, n - 1, _BLOCK):
        stop = min(start + _BLOCK, n - 1)
        rows = a[start:stop]
        sq = np.clip(2.0 - 2.0 * rows @ a.T, 0.0, 4.0)
        upper = np.arange(n)[None, :] > np.arange(start, stop)[:, None]
        partial.append(logsumexp(-t * sq[upper]))
    n_pairs = n * (n - 1) / 2
    return float(logsumexp(partial) - np.log(n_pairs))


def bitext_mining_accuracy(
    src: Any,
    tgt: Any,
    margin: Literal["ratio", "distance"] | None = None,
    k: int = 4,
) -> float:
    """Bitext-mining accuracy: fraction of sources whose best target is their translation.

    Source ``i`` is correct when ``argmax_j score(src_i, tgt_j) == i`` (ties go to the lowest
    ``j``).  ``tgt`` may hold extra distractor rows after the ``n`` gold translations.

    Parameters
    ----------
    src : torch.Tensor or array-like, shape (n, dim)
    tgt : torch.Tensor or array-like, shape (m, dim), m >= n
        Row ``i < n`` is the translation of source ``i``.
    margin : {None, "ratio", "distance"}, default None
        ``None`` scores with the cosine.  Otherwise the margin criterion of Artetxe & Schwenk
        (2019): with ``d(x, y) = sum_{z in NN_k(x)} cos(x, z) / 2k
        + sum_{z in NN_k(y)} cos(y, z) / 2k`` (``NN_k(x)``: the k targets nearest to ``x``;
        ``NN_k(y)``: the k sources nearest to ``y``), ``ratio`` uses ``cos(x, y) / d(x, y)``
        and ``distance`` uses ``cos(x, y) - d(x, y)``.  ``ratio`` assumes positive
        neighbourhood similarities (``d > 0``), as with usual sentence encoders.
    k : int, default 4
        Neighbourhood size for the margin, ``1 <= k <= min(n, m)``.

    Returns
    -------
    float
        Accuracy in ``[0, 1]``.
    """
    if margin not in (None, "ratio", "distance"):
        raise ValueError(f"unknown margin {margin!r}; use None, 'ratio' or 'distance'")
    sim = similarity_matrix(src, tgt)
    n, m = sim.shape
    if m < n:
        raise ValueError(f"tgt has fewer rows ({m}) than src ({n}); row i must translate src i")
    if margin is None:
        scores = sim
    else:
        if not 1 <= k <= min(n, m):
            raise ValueError(f"k must be in [1, {min(n, m)}], got {k}")
        fwd = np.sort(sim, axis=1)[:, -k:].mean(axis=1)  # src -> its k nearest targets
        bwd = np.sort(sim, axis=0)[-k:, :].mean(axis=0)  # tgt -> its k nearest sources
        denom = (fwd[:, None] + bwd[None, :]) / 2.0
        scores = sim / denom if margin == "ratio" else sim - denom
    predicted = np.argmax(scores, axis=1)
    return float(np.mean(predicted == np.arange(n)))
