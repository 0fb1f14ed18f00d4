"""Paired significance tests between systems on per-query scores.

All tests are two-sided and paired on queries: ``a[i]`` and ``b[i]`` are the scores of two
systems on the same query ``i``.  The test statistic is the mean difference ``mean(a - b)``
(the t statistic for the t-test).

* :func:`paired_ttest` -- ``scipy.stats.ttest_rel``.  When every difference is 0 the p-value
  is 1; when the differences are a non-zero constant (up to rounding) it is 0 (t -> inf).
* :func:`randomization_test` -- paired randomisation (sign-flip permutation) test.  The sign of
  each difference is flipped at random ``n_resamples`` times with a seeded
  ``numpy.random.Generator``; ``p = (1 + #{|T*| >= |T|}) / (1 + n_resamples)`` (never 0).
  When ``2**n <= n_resamples`` all sign patterns are enumerated and the p-value is exact,
  ``p = #{|T*| >= |T|} / 2**n``.
* :func:`bootstrap_test` -- paired bootstrap test (Efron & Tibshirani 1993, sec. 16.4): the
  differences are shifted to mean 0 (the null), resampled with replacement ``n_resamples``
  times, and ``p = (1 + #{|mean*| >= |T|}) / (1 + n_resamples)``.

Comparisons ``|T*| >= |T|`` use a relative tolerance of 1e-9 so that permutations giving the
observed statistic up to rounding are counted.  Identical systems get ``p = 1`` from all tests.
"""

from __future__ import annotations

import numbers
from collections.abc import Callable, Mapping, Sequence
from typing import Literal, NamedTuple

import numpy as np
import pandas as pd
from scipy import stats

__all__ = [
    "PairedTestResult",
    "adjust_pvalues",
    "bonferroni",
    "bootstrap_test",
    "check_alpha",
    "compare_systems",
    "holm",
    "paired_test",
    "paired_ttest",
    "randomization_test",
]

Scores = Sequence[float] | np.ndarray  # per-query scores of one system, aligned by query
TestName = Literal["randomization", "bootstrap", "ttest"]
CorrectionName = Literal["holm", "bonferroni", "none"]

_RTOL = 1e-9
_CHUNK = 1 << 22  # max number of float64 cells materialised at once (32 MiB)


class PairedTestResult(NamedTuple):
    """Outcome of a paired test: ``statistic`` (mean difference, or t) and two-sided ``pvalue``."""

    statistic: float
    pvalue: float


def _differences(a: Scores, b: Scores) -> np.ndarray:
    x = np.asarray(a, dtype=np.float64)
    y = np.asarray(b, dtype=np.float64)
    if x.ndim != 1 or x.shape != y.shape:
        raise ValueError(f"a and b must be 1-d of equal length, got {x.shape} and {y.shape}")
    if x.size < 2:
        raise ValueError("paired tests need at least 2 queries")
    if not (np.isfinite(x).all() and np.isfinite(y).all()):
        raise ValueError("scores must be finite")
    return x - y


def _check_resampling(n_resamples: int) -> None:
    if isinstance(n_resamples, bool) or not isinstance(n_resamples, numbers.Integral) or n_resamples < 1:
        raise ValueError(f"n_resamples must be an integer >= 1, got {n_resamples!r}")


def check_alpha(alpha: float) -> float:
    """The significance level as a float strictly between 0 and 1, else ``ValueError``
    (``alpha = 2`` would mark every difference significant)."""
    if isinstance(alpha, bool) or not isinstance(alpha, numbers.Real) or not 0 < alpha < 1:
        raise ValueError(f"alpha must be a number strictly between 0 and 1, got {alpha!r}")
    return float(alpha)


def paired_ttest(a: Scores, b: Scores) -> PairedTestResult:
    """Two-sided paired t-test (``scipy.stats.ttest_rel(a, b)``).

    Parameters
    ----------
    a, b : array-like of float
        Per-query scores of the two systems, aligned by query.

    Returns
    -------
    PairedTestResult
        t statistic and p-value.  Differences that are constant up to rounding
        (spread <= 1e-12 x the largest score) give ``(0, 1)`` when they are 0 and
        ``(+-inf, 0)`` otherwise, instead of scipy's NaN.
    """
    x = np.asarray(a, dtype=np.float64)
    y = np.asarray(b, dtype=np.float64)
    d = _differences(x, y)
    scale = max(float(np.max(np.abs(x))), float(np.max(np.abs(y))), 1e-300)
    if np.ptp(d) <= 1e-12 * scale:  # constant differences up to rounding
        if abs(d.mean()) <= 1e-12 * scale:
            return PairedTestResult(0.0, 1.0)
        return PairedTestResult(float(np.sign(d.mean()) * np.inf), 0.0)
    res = stats.ttest_rel(x, y)
    return PairedTestResult(float(res.statistic), float(res.pvalue))


def _observed(a: Scores, b: Scores, n_resamples: int) -> tuple[np.ndarray, float, float]:
    """Differences ``a - b``, their mean and the threshold ``|T*|`` must reach to count."""
    _check_resampling(n_resamples)
    d = _differences(a, b)
    observed = float(d.mean())
    return d, observed, abs(observed) * (1 - _RTOL)


def _resampled_pvalue(
    n: int, n_resamples: int, seed: int, exceeds: Callable[[np.random.Generator, int], np.ndarray]
) -> float:
    """``(1 + hits) / (1 + n_resamples)``, drawing ``n_resamples`` resamples of ``n`` queries
    in blocks of at most :data:`_CHUNK` cells: ``exceeds(rng, rows)`` draws ``rows`` of them
    and says which reach the observed statistic."""
    rng = np.random.default_rng(seed)
    hits = 0
    step = max(1, _CHUNK // n)
    for start in range(0, n_resamples, step):
        hits += int(np.count_nonzero(exceeds(rng, min(step, n_resamples - start))))
    return (hits + 1) / (n_resamples + 1)


def randomization_test(
    a: Scores, b: Scores, n_resamples: int = 10_000, seed: int = 0
) -> PairedTestResult:
    """Two-sided paired randomisation (sign-flip) test on the mean difference.

    Parameters
    ----------
    a, b : array-like of float
        Per-query scores, aligned by query.
    n_resamples : int, default 10000
        Number of random sign patterns; exact enumeration when ``2**n <= n_resamples``.
    seed : int, default 0
        Seed of ``numpy.random.default_rng``; equal seeds give equal p-values.

    Returns
    -------
    PairedTestResult
        Observed mean difference and p-value.
    """
    d, observed, threshold = _observed(a, b, n_resamples)
    n = d.size
    if n < 63 and 2**n <= n_resamples:
        total = 2**n
        hits = 0
        codes = np.arange(total, dtype=np.int64)
        bits = np.arange(n, dtype=np.int64)
        step = max(1, _CHUNK // n)
        for start in range(0, total, step):
            block = codes[start : start + step, None]
            signs = 1.0 - 2.0 * ((block >> bits) & 1)
            hits += int(np.count_nonzero(np.abs(signs @ d) / n >= threshold))
        return PairedTestResult(observed, hits / total)

    def exceeds(rng: np.random.Generator, rows: int) -> np.ndarray:
        signs = rng.integers(0, 2, size=(rows, n)) * 2.0 - 1.0
        return np.abs(signs @ d) / n >= threshold

    return PairedTestResult(observed, _resampled_pvalue(n, n_resamples, seed, exceeds))


def bootstrap_test(
    a: Scores, b: Scores, n_resamples: int = 10_000, seed: int = 0
) -> PairedTestResult:
    """Two-sided paired bootstrap test on the mean difference (null-shifted resampling).

    ``a``, ``b`` and ``seed`` are as in :func:`randomization_test`; ``n_resamples`` is the
    number of bootstrap samples. Returns the observed mean difference and the p-value.
    """
    d, observed, threshold = _observed(a, b, n_resamples)
    n = d.size
    centred = d - observed

    def exceeds(rng: np.random.Generator, rows: int) -> np.ndarray:
        idx = rng.integers(0, n, size=(rows, n))
        return np.abs(centred[idx].mean(axis=1)) >= threshold

    return PairedTestResult(observed, _resampled_pvalue(n, n_resamples, seed, exceeds))


def paired_test(
    a: Scores,
    b: Scores,
    test: TestName = "randomization",
    n_resamples: int = 10_000,
    seed: int = 0,
) -> PairedTestResult:
    """Dispatch to :func:`randomization_test`, :func:`bootstrap_test` or :func:`paired_ttest`.

    Parameters
    ----------
    a, b : array-like of float
    test : {"randomization", "bootstrap", "ttest"}
    n_resamples, seed : int
        Ignored by the t-test.

    Returns
    -------
    PairedTestResult
    """
    if test == "randomization":
        return randomization_test(a, b, n_resamples=n_resamples, seed=seed)
    if test == "bootstrap":
        return bootstrap_test(a, b, n_resamples=n_resamples, seed=seed)
    if test == "ttest":
        return paired_ttest(a, b)
    raise ValueError(f"unknown test {test!r}; use 'randomization', 'bootstrap' or 'ttest'")


def _pvalues(pvalues: Sequence[float] | np.ndarray) -> np.ndarray:
    p = np.asarray(pvalues, dtype=np.float64)
    if p.ndim != 1:
        raise ValueError("p-values must be 1-d")
    if np.isnan(p).any() or (p < 0).any() or (p > 1).any():
        raise ValueError("p-values must lie in [0, 1]")
    return p


def bonferroni(pvalues: Sequence[float] | np.ndarray) -> np.ndarray:
    """Bonferroni-adjusted p-values ``min(1, m * p)`` of p-values in [0, 1], in the input order."""
    p = _pvalues(pvalues)
    return np.minimum(1.0, p * p.size)


def holm(pvalues: Sequence[float] | np.ndarray) -> np.ndarray:
    """Holm (1979) step-down adjusted p-values of p-values in [0, 1], in the input order.

    With ``p_(1) <= ... <= p_(m)`` sorted, ``p~_(i) = max_{j<=i} min(1, (m - j + 1) p_(j))``.
    """
    p = _pvalues(pvalues)
    m = p.size
    if m == 0:
        return p.copy()
    order = np.argsort(p, kind="stable")
    scaled = np.minimum(1.0, p[order] * (m - np.arange(m)))
    adjusted = np.empty_like(p)
    adjusted[order] = np.maximum.accumulate(scaled)
    return adjusted


def adjust_pvalues(
    pvalues: Sequence[float] | np.ndarray, method: CorrectionName = "holm"
) -> np.ndarray:
    """Adjust p-values for multiple comparisons.

    Parameters
    ----------
    pvalues : array-like of float in [0, 1]
    method : {"holm", "bonferroni", "none"}

    Returns
    -------
    numpy.ndarray
        Adjusted p-values in the input order (:func:`holm`, :func:`bonferroni`, or a copy).
    """
    if method == "holm":
        return holm(pvalues)
    if method == "bonferroni":
        return bonferroni(pvalues)
    if method == "none":
        return _pvalues(pvalues).copy()
    raise ValueError(f"unknown correction {method!r}; use 'holm', 'bonferroni' or 'none'")


def compare_systems(
    per_query_scores: Mapping[str, Mapping[str, float]],
    baseline: str,
    test: TestName = "randomization",
    correction: CorrectionName = "holm",
    alpha: float = 0.05,
    n_resamples: int = 10_000,
    seed: int = 0,
    on_missing: Literal["error", "intersect"] = "error",
) -> pd.DataFrame:
    """Test every system against a baseline on per-query scores of one measure.

    Parameters
    ----------
    per_query_scores : mapping system -> {qid: score}
        Scores of one measure (e.g. from :func:`optical.evaluation.per_query`).
    baseline : str
        Key of the baseline system.
    test : {"randomization", "bootstrap", "ttest"}, default "randomization"
    correction : {"holm", "bonferroni", "none"}, default "holm"
        Applied over the non-baseline systems.
    alpha : float, default 0.05
        Significance level for the ``significant`` column (``p_adjusted < alpha``).
    n_resamples, seed : int
        Passed to the resampling tests (each comparison uses the same seed).
    on_missing : {"error", "intersect"}, default "error"
        Systems with different query sets raise ``ValueError``, or are compared on the
        queries common to all systems.

    Returns
    -------
    pandas.DataFrame
        One row per system (baseline first, then input order) with columns ``system``,
        ``mean``, ``delta`` (mean - baseline mean), ``p``, ``p_adjusted``, ``significant``.
        The baseline row has ``delta = 0``, NaN p-values and ``significant = False``.
    """
    check_alpha(alpha)
    _check_resampling(n_resamples)
    if baseline not in per_query_scores:
        raise ValueError(f"baseline {baseline!r} not among systems {list(per_query_scores)}")
    qid_sets = {s: set(scores) for s, scores in per_query_scores.items()}
    common = set.intersection(*qid_sets.values())
    if any(q != common for q in qid_sets.values()):
        if on_missing == "error":
            diff = {s: len(q - common) for s, q in qid_sets.items() if q != common}
            raise ValueError(
                f"systems have different query sets (queries not shared by all: {diff}); "
                "pass on_missing='intersect' to compare on the common queries"
            )
        if on_missing != "intersect":
            raise ValueError(f"unknown on_missing {on_missing!r}")
    if len(common) < 2:
        raise ValueError("need at least 2 queries common to all systems")
    qids = sorted(common)
    vectors = {
        s: np.array([scores[q] for q in qids], dtype=np.float64)
        for s, scores in per_query_scores.items()
    }
    base = vectors[baseline]
    others = [s for s in per_query_scores if s != baseline]
    raw = [
        paired_test(vectors[s], base, test=test, n_resamples=n_resamples, seed=seed).pvalue
        for s in others
    ]
    adjusted = adjust_pvalues(raw, correction) if others else np.array([])
    rows = [
        {
            "system": baseline,
            "mean": float(base.mean()),
            "delta": 0.0,
            "p": np.nan,
            "p_adjusted": np.nan,
            "significant": False,
        }
    ]
    for s, p, p_adj in zip(others, raw, adjusted, strict=True):
        rows.append(
            {
                "system": s,
                "mean": float(vectors[s].mean()),
                "delta": float(vectors[s].mean() - base.mean()),
                "p": float(p),
                "p_adjusted": float(p_adj),
                "significant": bool(p_adj < alpha),
            }
        )
    frame = pd.DataFrame(rows)
    frame.attrs.update(
        {"test": test, "correction": correction, "alpha": alpha, "n_queries": len(qids)}
    )
    return frame
