"""RQ1 — OT distillation vs cross-entropy fine-tuning (and contrastive, MSE) with few pairs.

Every method trains on the same number of pairs (10, 30, 100 by default) with the same
step budget: cross-entropy on labelled (query, relevant document) pairs, the others on
bitext pairs. :func:`budget_curve` gives each (model, method, pairs, language) score
with a t-interval over seeds; :func:`head_to_head` tests one method against another at
every budget with a paired test over queries (scores averaged over seeds), Holm-corrected.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from optical.results.frames import seed_stats

__all__ = ["budget_curve", "head_to_head"]


def budget_curve(results: pd.DataFrame, measure: str, confidence: float = 0.95) -> pd.DataFrame:
    """Score per (model, method, pairs, language) over seeds.

    Parameters
    ----------
    results : DataFrame
        :func:`optical.results.frames.results_frame` rows of the experiment; zero-shot
        rows get ``pairs = 0``.

    Returns
    -------
    DataFrame
        ``model, method, pairs, language, mean, std, n, ci_low, ci_high``, sorted.
    """
    part = results[results["measure"] == measure].copy()
    part["pairs"] = part["pairs"].fillna(0).astype(int)
    out = seed_stats(part, ["model", "method", "pairs", "language"], confidence=confidence)
    return out.sort_values(["model", "method", "pairs", "language"], kind="stable").reset_index(
        drop=True
    )


def head_to_head(
    per_query: pd.DataFrame,
    measure: str,
    a: str = "optical",
    b: str = "ce",
    test: str = "randomization",
    correction: str = "holm",
    n_resamples: int = 10_000,
    seed: int = 0,
) -> pd.DataFrame:
    """Method ``a`` vs method ``b`` at each (model, pairs, language), paired over queries.

    Returns
    -------
    DataFrame
        ``model, pairs, language, n_queries, a_mean, b_mean, delta, p, p_adjusted`` with
        ``delta = a_mean - b_mean`` (per-query scores averaged over seeds first).
    """
    from optical.evaluation import adjust_pvalues, paired_test

    part = per_query[(per_query["measure"] == measure) & per_query["method"].isin([a, b])]
    part = (
        part.groupby(["model", "pairs", "language", "method", "qid"], sort=False)["value"]
        .mean()
        .reset_index()
    )
    rows = []
    for (model, pairs, language), cell in part.groupby(["model", "pairs", "language"], sort=False):
        wide = cell.pivot(index="qid", columns="method", values="value").dropna()
        if a not in wide or b not in wide or len(wide) < 2:
            continue
        res = paired_test(
            wide[a].to_numpy(), wide[b].to_numpy(), test=test, n_resamples=n_resamples, seed=seed
        )
        rows.append(
            {
                "model": model,
                "pairs": int(pairs),
                "language": language,
                "n_queries": len(wide),
                "a_mean": float(wide[a].mean()),
                "b_mean": float(wide[b].mean()),
                "delta": float(wide[a].mean() - wide[b].mean()),
                "p": float(res.pvalue),
            }
        )
    out = pd.DataFrame(
        rows, columns=["model", "pairs", "language", "n_queries", "a_mean", "b_mean", "delta", "p"]
    )
    out["p_adjusted"] = (
        adjust_pvalues(out["p"].to_numpy(), correction) if len(out) else np.array([])
    )
    out.attrs.update({"a": a, "b": b, "measure": measure, "test": test, "correction": correction})
    return out.sort_values(["model", "pairs", "language"], kind="stable").reset_index(drop=True)
