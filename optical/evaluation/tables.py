"""Per-language comparison tables from long per-query results.

Input everywhere is a long ``pandas.DataFrame`` with columns ``system``, ``language``, ``qid``,
``measure``, ``value`` (one row per system, language, query and measure; duplicates raise
``ValueError``), e.g. the concatenation of :func:`optical.evaluation.per_query` frames with
``system`` and ``language`` columns added.

* Per-language scores are means over that language's queries; cross-language aggregates
  (``Avg`` column, :func:`resource_gap`, :func:`language_spread`) are *macro* averages, every
  language weighing the same.
* Significance (:func:`significance_table`) compares every system with the baseline on the
  queries of each language with a paired test from :mod:`optical.evaluation.significance`;
  the correction for multiple comparisons runs, per measure, over all (language, system)
  pairs.
* Orders of systems, languages and measures follow first appearance unless given.

Rendering (markdown, LaTeX, a frame with significance marks) is
:class:`optical.evaluation.comparison.Comparison`'s job; this module only computes.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Literal

import numpy as np
import pandas as pd

from optical.evaluation.significance import (
    CorrectionName,
    TestName,
    adjust_pvalues,
    check_alpha,
    compare_systems,
)

__all__ = [
    "RESOURCE_LEVELS",
    "language_spread",
    "mean_table",
    "resource_gap",
    "significance_table",
]

REQUIRED_COLUMNS = ("system", "language", "qid", "measure", "value")
RESOURCE_LEVELS = ("low", "medium", "high")


def _check(results: pd.DataFrame) -> pd.DataFrame:
    missing = [c for c in REQUIRED_COLUMNS if c not in results.columns]
    if missing:
        raise ValueError(f"results lack columns {missing}; need {list(REQUIRED_COLUMNS)}")
    frame = results.loc[:, list(REQUIRED_COLUMNS)].copy()
    if frame.empty:
        raise ValueError("results are empty")
    frame["value"] = pd.to_numeric(frame["value"], errors="raise").astype(np.float64)
    if not np.isfinite(frame["value"].to_numpy()).all():
        raise ValueError("results contain NaN or infinite values")
    dupes = frame.duplicated(["system", "language", "qid", "measure"])
    if dupes.any():
        first = frame.loc[dupes].iloc[0]
        raise ValueError(
            "duplicate (system, language, qid, measure) rows, e.g. "
            f"{tuple(first[['system', 'language', 'qid', 'measure']])}"
        )
    return frame


def _order(frame: pd.DataFrame, column: str, given: Sequence[str] | None) -> list[str]:
    present = list(dict.fromkeys(frame[column]))
    if given is None:
        return present
    unknown = [g for g in given if g not in set(present)]
    if unknown:
        raise ValueError(f"unknown {column} values {unknown}; available: {present}")
    return list(given)


def _language_means(frame: pd.DataFrame) -> pd.Series:
    return frame.groupby(["system", "language", "measure"], sort=False)["value"].mean()


def mean_table(
    results: pd.DataFrame,
    systems: Sequence[str] | None = None,
    languages: Sequence[str] | None = None,
    measures: Sequence[str] | None = None,
    average: bool = False,
) -> pd.DataFrame:
    """Wide table of means: systems x (language, measure).

    Parameters
    ----------
    results : pandas.DataFrame
        Long per-query results (see module docstring).
    systems, languages, measures : sequence of str, optional
        Subsets and orders; default all, in order of first appearance.
    average : bool, default False
        Append a language ``"Avg"``: the macro average over the selected languages but a
        task's ceiling queries (:func:`averaged_languages`; NaN when a system lacks one).

    Returns
    -------
    pandas.DataFrame
        Index ``system``; columns MultiIndex ``(language, measure)``; NaN where a system was
        not evaluated on a language.
    """
    frame = _check(results)
    systems = _order(frame, "system", systems)
    languages = _order(frame, "language", languages)
    measures = _order(frame, "measure", measures)
    means = _language_means(frame)
    columns = pd.MultiIndex.from_product([languages, measures], names=["language", "measure"])
    table = pd.DataFrame(index=pd.Index(systems, name="system"), columns=columns, dtype=float)
    for (system, language, measure), value in means.items():
        if system in table.index and (language, measure) in table.columns:
            table.loc[system, (language, measure)] = value
    if average:
        if "Avg" in languages:
            raise ValueError("a language is called 'Avg'; cannot add the average column")
        averaged = averaged_languages(languages)
        for measure in measures:
            table[("Avg", measure)] = table.xs(measure, axis=1, level="measure")[averaged].mean(
                axis=1, skipna=False
            )
    return table


def averaged_languages(languages: Sequence[str]) -> list[str]:
    """The languages an ``Avg`` column averages: all but a task's ceiling queries (resource
    level ``ceiling``, e.g. ``en-web``, the document's own text), unless only those are
    shown."""
    from optical.assets.languages import resource_level

    kept = [lang for lang in languages if resource_level(lang) != "ceiling"]
    return kept or list(languages)


def significance_table(
    results: pd.DataFrame,
    baseline: str,
    test: TestName = "randomization",
    correction: CorrectionName = "holm",
    alpha: float = 0.05,
    n_resamples: int = 10_000,
    seed: int = 0,
    on_missing: Literal["error", "intersect"] = "error",
) -> pd.DataFrame:
    """Paired tests of every system against ``baseline``, per language and measure.

    Parameters
    ----------
    results : pandas.DataFrame
        Long per-query results.
    baseline : str
        Baseline system; it must cover every language present.
    test : {"randomization", "bootstrap", "ttest"}, default "randomization"
    correction : {"holm", "bonferroni", "none"}, default "holm"
        Applied per measure over all (language, non-baseline system) comparisons.
    alpha : float, default 0.05
    n_resamples, seed : int
        For the resampling tests.
    on_missing : {"error", "intersect"}, default "error"
        Query sets differing between systems within a language raise, or the comparison
        uses the common queries (see :func:`~optical.evaluation.significance.compare_systems`).

    Returns
    -------
    pandas.DataFrame
        Columns ``measure``, ``language``, ``system``, ``mean``, ``baseline_mean``, ``delta``,
        ``p``, ``p_adjusted``, ``significant``, ``direction`` (``"better"``, ``"worse"`` or
        ``""``), one row per non-baseline system present in the language.  ``attrs`` records
        ``baseline``, ``test``, ``correction``, ``alpha``, ``n_resamples`` and
        ``n_comparisons`` (per measure).
    """
    check_alpha(alpha)
    frame = _check(results)
    if baseline not in set(frame["system"]):
        raise ValueError(f"baseline {baseline!r} not in results")
    rows = []
    n_comparisons: dict[str, int] = {}
    for measure, by_measure in frame.groupby("measure", sort=False):
        family = []
        for language, by_lang in by_measure.groupby("language", sort=False):
            scores = {
                system: dict(zip(g["qid"], g["value"], strict=True))
                for system, g in by_lang.groupby("system", sort=False)
            }
            if baseline not in scores:
                raise ValueError(f"baseline {baseline!r} has no {measure} results for {language!r}")
            if len(scores) == 1:
                continue
            compared = compare_systems(
                scores,
                baseline,
                test=test,
                correction="none",
                alpha=alpha,
                n_resamples=n_resamples,
                seed=seed,
                on_missing=on_missing,
            )
            base_mean = float(compared["mean"].iloc[0])
            for rec in compared.iloc[1:].itertuples(index=False):
                family.append(
                    {
                        "measure": measure,
                        "language": language,
                        "system": rec.system,
                        "mean": rec.mean,
                        "baseline_mean": base_mean,
                        "delta": rec.delta,
                        "p": rec.p,
                    }
                )
        if family:
            adjusted = adjust_pvalues([r["p"] for r in family], correction)
            for r, p_adj in zip(family, adjusted, strict=True):
                significant = bool(p_adj < alpha)
                direction = ""
                if significant and r["delta"] != 0:
                    direction = "better" if r["delta"] > 0 else "worse"
                r.update(p_adjusted=float(p_adj), significant=significant, direction=direction)
            rows.extend(family)
        n_comparisons[str(measure)] = len(family)
    columns = [
        "measure",
        "language",
        "system",
        "mean",
        "baseline_mean",
        "delta",
        "p",
        "p_adjusted",
        "significant",
        "direction",
    ]
    table = pd.DataFrame(rows, columns=columns)
    table.attrs.update(
        {
            "baseline": baseline,
            "test": test,
            "correction": correction,
            "alpha": alpha,
            "n_resamples": n_resamples,
            "n_comparisons": n_comparisons,
        }
    )
    return table


def resource_gap(
    results: pd.DataFrame,
    resource_level: Mapping[str, str],
    high: str = "high",
    low: str = "low",
) -> pd.DataFrame:
    """High- minus low-resource gap: macro mean over ``high`` languages minus over ``low`` ones.

    Parameters
    ----------
    results : pandas.DataFrame
        Long per-query results.
    resource_level : mapping language -> {"low", "medium", "high"}
        Must cover every language in ``results``.
    high, low : str
        The two levels compared (default ``"high"`` and ``"low"``).

    Returns
    -------
    pandas.DataFrame
        Index ``system``, one column per measure; NaN when a system lacks every language of
        one of the two groups.  Each group mean averages the per-language means available.
    """
    frame = _check(results)
    bad = {lang: lvl for lang, lvl in resource_level.items() if lvl not in RESOURCE_LEVELS}
    if bad:
        raise ValueError(f"resource levels must be one of {RESOURCE_LEVELS}, got {bad}")
    for level in (high, low):
        if level not in RESOURCE_LEVELS:
            raise ValueError(f"unknown level {level!r}")
    unmapped = sorted(set(frame["language"]) - set(resource_level))
    if unmapped:
        raise ValueError(f"languages without a resource level: {unmapped}")
    means = _language_means(frame).rename("value").reset_index()
    means["level"] = means["language"].map(resource_level)
    for level in (high, low):
        if not (means["level"] == level).any():
            raise ValueError(f"no {level!r}-resource language in results")
    grouped = means.groupby(["system", "measure", "level"], sort=False)["value"].mean()
    wide = grouped.unstack("level")
    gap = (wide[high] - wide[low]).unstack("measure")
    systems = list(dict.fromkeys(frame["system"]))
    measures = list(dict.fromkeys(frame["measure"]))
    gap = gap.reindex(index=systems, columns=measures)
    gap.index.name, gap.columns.name = "system", "measure"
    return gap


def language_spread(results: pd.DataFrame, ddof: int = 1) -> pd.DataFrame:
    """Spread of the per-language means of each system.

    Parameters
    ----------
    results : pandas.DataFrame
        Long per-query results.
    ddof : int, default 1
        Delta degrees of freedom of ``std``/``var`` (1: sample estimate, NaN for a single
        language; 0: population).

    Returns
    -------
    pandas.DataFrame
        Index ``system``; columns MultiIndex ``(measure, stat)`` with stats ``mean`` (macro
        average), ``std``, ``var``, ``min``, ``max`` and ``n_languages``.
    """
    frame = _check(results)
    means = _language_means(frame).rename("value").reset_index()
    grouped = means.groupby(["system", "measure"], sort=False)["value"]
    stats = pd.DataFrame(
        {
            "mean": grouped.mean(),
            "std": grouped.std(ddof=ddof),
            "var": grouped.var(ddof=ddof),
            "min": grouped.min(),
            "max": grouped.max(),
            "n_languages": grouped.size().astype(float),
        }
    )
    wide = stats.unstack("measure").swaplevel(0, 1, axis=1)
    wide.columns.names = ["measure", "stat"]
    systems = list(dict.fromkeys(frame["system"]))
    measures = list(dict.fromkeys(frame["measure"]))
    order = pd.MultiIndex.from_product(
        [measures, ["mean", "std", "var", "min", "max", "n_languages"]], names=["measure", "stat"]
    )
    return wide.reindex(index=systems, columns=order)
