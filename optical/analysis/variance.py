"""RQ4 — variance across languages and the high–low gap, OT vs contrastive, over seeds.

Per system *and seed*, the per-language scores give a macro mean, a spread across
languages (:func:`optical.evaluation.tables.language_spread`) and the high- minus
low-resource gap (:func:`optical.evaluation.tables.resource_gap`). Across seeds each of
these is summarised by its mean and a Student-t confidence interval
(:func:`optical.results.frames.seed_stats`); an untrained system has one "seed".
"""

from __future__ import annotations

from collections.abc import Mapping

import numpy as np
import pandas as pd

from optical.assets.languages import resource_level
from optical.results.frames import seed_stats

__all__ = ["language_levels", "per_seed_spread", "variance_summary", "language_ci", "STATS"]

STATS = ("mean", "std", "min", "max", "gap", "low", "high")


def language_levels(languages, levels: Mapping[str, str] | None = None) -> dict[str, str]:
    """Resource level of each language (``levels`` first, then the built-in table); unknown ones are left out."""
    out = {}
    for lang in languages:
        level = (levels or {}).get(lang) or resource_level(lang)
        if level in {"low", "medium", "high"}:
            out[lang] = level
    return out


def per_seed_spread(
    per_query: pd.DataFrame, measure: str, levels: Mapping[str, str] | None = None
) -> pd.DataFrame:
    """Spread statistics of each (system, seed) over languages for one measure.

    Parameters
    ----------
    per_query : DataFrame
        :func:`optical.results.frames.per_query_frame` rows (``system, method, seed,
        language, qid, measure, value``).
    measure : str
    levels : mapping language -> level, optional
        Overrides the built-in resource levels.

    Returns
    -------
    DataFrame
        ``system, method, model, seed, mean, std, min, max, gap, low, high, n_languages``:
        macro mean, spread across languages, and the macro means of the low- and
        high-resource languages with ``gap = high - low`` (NaN when a level is missing).
    """
    from optical.evaluation.tables import language_spread, resource_gap

    part = per_query[per_query["measure"] == measure]
    out = []
    for (system, seed), rows in part.groupby(["system", "seed"], sort=False, dropna=False):
        long = rows[["system", "language", "qid", "measure", "value"]]
        spread = language_spread(long).loc[system, measure]
        mapped = language_levels(long["language"].unique(), levels)
        means = long.groupby("language")["value"].mean()
        level_mean = {
            lvl: float(means[[g for g, v in mapped.items() if v == lvl]].mean())
            if lvl in mapped.values()
            else float("nan")
            for lvl in ("low", "high")
        }
        gap = float("nan")
        if {"high", "low"} <= set(mapped.values()):
            known = long[long["language"].isin(mapped)]
            gap = float(resource_gap(known, mapped).loc[system, measure])
        out.append(
            {
                "system": system,
                "method": rows["method"].iloc[0] if "method" in rows else system,
                "model": rows["model"].iloc[0] if "model" in rows else "",
                "seed": None if pd.isna(seed) else seed,
                "mean": float(spread["mean"]),
                "std": float(spread["std"]),
                "min": float(spread["min"]),
                "max": float(spread["max"]),
                "gap": gap,
                **level_mean,
                "n_languages": int(spread["n_languages"]),
            }
        )
    return pd.DataFrame(out, columns=["system", "method", "model", "seed", *STATS, "n_languages"])


def variance_summary(per_seed: pd.DataFrame, confidence: float = 0.95) -> pd.DataFrame:
    """Mean and t-interval over seeds of each statistic of :func:`per_seed_spread`.

    Returns ``system, method, model, stat, mean, std, n, ci_low, ci_high`` (long format).
    """
    long = per_seed.melt(
        id_vars=["system", "method", "model", "seed"], value_vars=list(STATS), var_name="stat"
    )
    long = long[np.isfinite(long["value"].astype(float))]
    return seed_stats(long, ["system", "method", "model", "stat"], confidence=confidence)


def language_ci(results: pd.DataFrame, measure: str, confidence: float = 0.95) -> pd.DataFrame:
    """Per system and language: mean over seeds and its t-interval, from a
    :func:`optical.results.frames.results_frame`."""
    part = results[results["measure"] == measure]
    return seed_stats(part, ["system", "method", "language", "resource"], confidence=confidence)
