"""Per-language results for the app: tables, significance marks, gaps, spread, curves.

Reads the results store (``optical bench`` / ``optical sweep`` write it) and the
``metrics.jsonl`` of training runs. Several rows of one system and language (seeds,
repeats) are averaged. Measures are the registry's
(:func:`optical.evaluation.measure_sets.table_measures`):
R@1 (rel=2), MRR@10 (rel=2), MAP, nDCG@10 on the Bible; R@1, MRR@10, MAP, nDCG@10 on
collections with binary qrels.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd

from optical.assets.languages import resource_level
from optical.evaluation.comparison import significance_mark
from optical.evaluation.measure_sets import (
    TABLE_MEASURES,
    TRAINING_LABELS,
    measure_label,
    table_measures,
)
from optical.evaluation.tables import language_spread, resource_gap, significance_table
from optical.results.frames import per_query_frame, read_rows, results_frame
from optical.results.store import ResultsStore
from optical.run_folder import RunFolder

__all__ = [
    "EMPTY_HINT",
    "ResultsData",
    "csv_frame",
    "display_table",
    "gap_table",
    "language_means",
    "learning_curves",
    "load_results",
    "significance_marks",
    "size_curve",
    "spread_table",
]

EMPTY_HINT = "optical bench --systems zero-shot"
#: The ``mark`` column: the one convention (:data:`optical.evaluation.comparison.MARKS`),
#: † better / ‡ worse than the baseline, after a space.
MARKS = {d: f" {significance_mark(d)}" if d else "" for d in ("better", "worse", "")}


@dataclass
class ResultsData:
    """The store's rows as frames: ``summary`` (aggregate values, one row per measure, with
    ``family``, ``objective`` and ``pairs`` columns) and ``per_query``."""

    path: Path
    summary: pd.DataFrame
    per_query: pd.DataFrame

    @property
    def empty(self) -> bool:
        return self.summary.empty

    def splits(self) -> list[str]:
        order = {"test": 0, "dev": 1}
        return sorted(set(self.summary["split"]), key=lambda s: (order.get(s, 2), s))

    def families(self) -> list[str]:
        """The benchmarks (:attr:`DatasetSpec.benchmark`: a family, or a collection's folder)."""
        return sorted(set(self.summary["benchmark"]), key=lambda f: (f != "bible", f))

    def systems(self) -> list[str]:
        names = list(dict.fromkeys(self.summary["system"]))
        return sorted(names, key=lambda s: (s != "zero-shot", names.index(s)))

    def groups(self) -> list[str]:
        """Experiment groups (sweep names), the one with the most rows first."""
        if "group" not in self.summary.columns:
            return []
        counts = self.summary.drop_duplicates("key")["group"].fillna("").value_counts(sort=False)
        first = {g: i for i, g in enumerate(dict.fromkeys(self.summary["group"].fillna("")))}
        return sorted(counts.index, key=lambda g: (-counts[g], first[g]))

    def table_measures(self, split: str, fam: str) -> tuple[str, ...]:
        """The bench's table measures for the rows of one split and benchmark family."""
        s = self.summary
        if s.empty:
            return TABLE_MEASURES
        return table_measures(s.loc[(s["split"] == split) & (s["benchmark"] == fam), "measure"].unique())

    def modes(self) -> list[str]:
        """The retrieval scoring modes present (``pooled`` first)."""
        order = {"pooled": 0, "maxsim": 1, "ot": 2}
        present = set(self.summary["mode"]) - {""} if "mode" in self.summary.columns else set()
        return sorted(present, key=lambda m: (order.get(m, 3), m))

    def in_mode(self, mode: str | None) -> ResultsData:
        """Only the retrieval rows scored in ``mode`` (``None``: every row). Rows of one
        system in two modes are two results: tables average rows, so they show one mode."""
        if mode is None:
            return self
        return ResultsData(
            self.path,
            self.summary[self.summary["mode"] == mode].reset_index(drop=True),
            self.per_query[self.per_query["mode"] == mode].reset_index(drop=True),
        )

    def in_group(self, group: str | None) -> ResultsData:
        """Only one experiment group's rows (``None``: every row).

        The same system name can stand for different trainings in different groups
        (e.g. ``optical-sw`` in a tuning sweep and in the main comparison), so views that
        average over runs of a system should look at one group at a time.
        """
        if group is None:
            return self
        return ResultsData(
            self.path,
            self.summary[self.summary["group"].fillna("") == group].reset_index(drop=True),
            self.per_query[self.per_query["group"].fillna("") == group].reset_index(drop=True),
        )


def _pairs_seen(run_dir: object) -> float:
    """Bitext pairs a trained run saw (its summary; NaN when it has none)."""
    if not isinstance(run_dir, str) or not RunFolder(Path(run_dir)).finished:
        return np.nan
    try:
        pairs = RunFolder(Path(run_dir)).summary().pairs
    except (OSError, ValueError):
        return np.nan
    return float(pairs) if pairs is not None else np.nan


def load_results(path: str | Path) -> ResultsData:
    """Read a results store (an absent file is an empty store) into the frames of
    :mod:`optical.results.frames`, with the app's ``objective`` (the row's kind when it was
    not trained) and ``pairs`` (what the run saw, else its ``data.max_pairs``).

    Raises
    ------
    ValueError
        A stored line that is not a results row (named by its number).
    """
    rows = read_rows(ResultsStore(path))
    summary = results_frame(rows)
    summary["objective"] = summary["objective"].where(summary["kind"] == "trained", summary["kind"])
    seen = {run: _pairs_seen(run) for run in summary["run_dir"].dropna().unique()}
    configured = pd.to_numeric(summary["pairs"], errors="coerce")
    summary["pairs"] = summary["run_dir"].map(seen).astype(float).fillna(configured)
    return ResultsData(Path(path), summary, per_query_frame(rows))


def _select(
    frame: pd.DataFrame,
    split: str,
    fam: str,
    measures: Sequence[str] | None,
    systems: Sequence[str] | None,
) -> pd.DataFrame:
    keep = (frame["split"] == split) & (frame["benchmark"] == fam)
    if measures is None:  # the bench's table measures of these rows
        measures = table_measures(frame.loc[keep, "measure"].unique())
    keep &= frame["measure"].isin(measures)
    if systems is not None:
        keep &= frame["system"].isin(systems)
    return frame[keep]


def language_means(
    data: ResultsData,
    split: str,
    fam: str,
    measures: Sequence[str] | None = None,
    systems: Sequence[str] | None = None,
) -> pd.DataFrame:
    """Long frame: system, language, resource, measure, label, value (mean over runs), n_runs."""
    part = _select(data.summary, split, fam, measures, systems)
    cols = ["system", "language", "resource", "measure", "label", "value", "n_runs"]
    if part.empty:
        return pd.DataFrame(columns=cols)
    out = (
        part.groupby(["system", "language", "measure"], sort=False)
        .agg(value=("value", "mean"), n_runs=("value", "size"), resource=("resource", "first"))
        .reset_index()
    )
    out["label"] = out["measure"].map(measure_label)
    order = {s: i for i, s in enumerate(systems or data.systems())}
    out["_o"] = out["system"].map(lambda s: order.get(s, len(order)))
    return out.sort_values(["_o"], kind="stable")[cols].reset_index(drop=True)


def _per_query_means(
    data: ResultsData, split: str, fam: str, measures: Sequence[str] | None,
    systems: Sequence[str] | None,
) -> pd.DataFrame:
    part = _select(data.per_query, split, fam, measures, systems)
    return part.groupby(["system", "language", "qid", "measure"], as_index=False, sort=False)[
        "value"
    ].mean()


def significance_marks(
    data: ResultsData,
    split: str,
    fam: str,
    measures: Sequence[str] | None = None,
    systems: Sequence[str] | None = None,
    baseline: str = "zero-shot",
    n_resamples: int = 2000,
) -> pd.DataFrame:
    """Paired randomisation tests vs ``baseline`` per language (Holm over languages x systems).

    Columns: measure, language, system, delta, p_adjusted, direction, mark (`` †`` / `` ‡``:
    significantly better / worse than the baseline, as in the report's tables).
    Empty when the baseline is absent or alone.
    """
    cols = ["measure", "language", "system", "delta", "p_adjusted", "direction", "mark"]
    frame = _per_query_means(data, split, fam, measures, systems)
    if frame.empty or baseline not in set(frame["system"]):
        return pd.DataFrame(columns=cols)
    covered = set(frame.loc[frame["system"] == baseline, "language"])
    frame = frame[frame["language"].isin(covered)]
    if frame["system"].nunique() < 2:
        return pd.DataFrame(columns=cols)
    table = significance_table(frame, baseline, n_resamples=n_resamples, on_missing="intersect")
    table["mark"] = table["direction"].map(MARKS)
    return table[cols]


def display_table(means: pd.DataFrame, marks: pd.DataFrame, measure: str) -> pd.DataFrame:
    """Systems x languages (+ macro ``avg``) for one measure: ``"0.683 †"`` strings."""
    part = means[means["measure"] == measure]
    if part.empty:
        return pd.DataFrame()
    wide = part.pivot_table(
        index="system", columns="language", values="value", aggfunc="mean", sort=False
    )
    wide = wide.reindex(list(dict.fromkeys(part["system"])))
    avg = wide.mean(axis=1, skipna=False)
    mark = {(r.language, r.system): r.mark for r in marks[marks["measure"] == measure].itertuples()}
    out = pd.DataFrame(index=wide.index)
    for lang in wide.columns:
        out[lang] = [
            ("–" if pd.isna(v) else f"{v:.3f}{mark.get((lang, s), '')}")
            for s, v in wide[lang].items()
        ]
    out["avg"] = ["–" if pd.isna(v) else f"{v:.3f}" for v in avg]
    out.index.name = "system"
    return out


def csv_frame(means: pd.DataFrame, marks: pd.DataFrame, split: str, fam: str) -> pd.DataFrame:
    """What the CSV download holds: one row per system, language and measure."""
    out = means.merge(
        marks[["measure", "language", "system", "delta", "p_adjusted", "direction"]],
        on=["measure", "language", "system"],
        how="left",
    )
    out.insert(0, "split", split)
    out.insert(0, "benchmark", fam)
    return out


def gap_table(
    data: ResultsData,
    split: str,
    fam: str,
    measures: Sequence[str] | None = None,
    systems: Sequence[str] | None = None,
) -> tuple[pd.DataFrame | None, str]:
    """High- minus low-resource gap per system and measure, or None and the reason."""
    frame = _per_query_means(data, split, fam, measures, systems)
    if frame.empty:
        return None, "no results"
    levels = {lang: resource_level(lang) for lang in set(frame["language"])}
    known = {k: v for k, v in levels.items() if v != "unknown"}
    have = {lvl: sorted(k for k, v in known.items() if v == lvl) for lvl in ("high", "low")}
    if not have["high"] or not have["low"]:
        listed = ", ".join(f"{lang} ({lvl})" for lang, lvl in sorted(levels.items()))
        return (
            None,
            f"the gap needs at least one high- and one low-resource language; the store has {listed}",
        )
    gap = resource_gap(frame[frame["language"].isin(known)], known)
    shown = measures if measures is not None else data.table_measures(split, fam)
    gap = gap[[m for m in shown if m in gap.columns]]
    gap.columns = [measure_label(c) for c in gap.columns]
    return gap, f"high: {', '.join(have['high'])}; low: {', '.join(have['low'])}"


def spread_table(
    data: ResultsData, split: str, fam: str, measure: str, systems: Sequence[str] | None = None
) -> pd.DataFrame:
    """Mean, std, min, max and count of the per-language means of each system (one measure)."""
    frame = _per_query_means(data, split, fam, [measure], systems)
    if frame.empty:
        return pd.DataFrame()
    spread = language_spread(frame)[measure].rename(columns={"n_languages": "languages"})
    spread = spread.drop(columns="var")  # std says it
    spread["languages"] = spread["languages"].astype(int)
    return spread


def _read_metrics(path: Path) -> list[dict]:
    out = []
    try:
        lines = path.read_text(encoding="utf-8").splitlines()
    except OSError:
        return out
    for line in lines:
        try:
            obj = json.loads(line)
        except json.JSONDecodeError:
            continue  # a line being written
        if isinstance(obj, dict) and "step" in obj:
            out.append(obj)
    return out


def learning_curves(runs: Iterable[RunFolder]) -> pd.DataFrame:
    """Long frame (run, finished, step, metric, value): training loss and dev R@1 / MRR@10."""
    records = []
    for run in runs:
        for obj in _read_metrics(run.metrics_path):
            for metric in TRAINING_LABELS:  # loss, dev_rr10, dev_r1
                value = obj.get(metric)
                if isinstance(value, int | float) and np.isfinite(value):
                    records.append(
                        (
                            run.name,
                            str(run.path),
                            run.finished,
                            int(obj["step"]),
                            metric,
                            float(value),
                        )
                    )
    return pd.DataFrame.from_records(
        records, columns=["run", "path", "finished", "step", "metric", "value"]
    )


def size_curve(data: ResultsData, split: str, fam: str, measure: str) -> pd.DataFrame:
    """Measure vs bitext pairs for trained systems (mean over runs), one series per objective
    and language; only series with at least two bitext sizes."""
    part = _select(data.summary, split, fam, [measure], None)
    part = part[part["pairs"].notna() & (part["kind"] == "trained")]
    cols = ["objective", "language", "pairs", "value", "n_runs"]
    if part.empty:
        return pd.DataFrame(columns=cols)
    out = part.groupby(["objective", "language", "pairs"], as_index=False).agg(
        value=("value", "mean"), n_runs=("value", "size")
    )
    sizes = out.groupby(["objective", "language"])["pairs"].transform("nunique")
    return (
        out[sizes >= 2][cols].sort_values(["objective", "language", "pairs"]).reset_index(drop=True)
    )
