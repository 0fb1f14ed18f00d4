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

from optical.app.available_systems import RunFolder
from optical.assets.languages import resource_level
from optical.dataset_spec import DatasetSpec
from optical.evaluation.measure_sets import (
    TABLE_MEASURES,
    TRAINING_LABELS,
    measure_label,
    table_measures,
)
from optical.evaluation.tables import language_spread, resource_gap, significance_table
from optical.results import ResultsStore

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
MARKS = {"better": " ▲", "worse": " ▼", "": ""}


def family(dataset: str) -> str:
    """``bible:sw`` -> ``bible``; a folder dataset -> its name (:attr:`DatasetSpec.benchmark`)."""
    return DatasetSpec.parse(dataset, check=False).benchmark


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
        return sorted(set(self.summary["family"]), key=lambda f: (f != "bible", f))

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
        return table_measures(s.loc[(s["split"] == split) & (s["family"] == fam), "measure"].unique())

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


def _pairs(row: dict) -> float:
    """Bitext pairs a trained row saw (its run's summary, else ``data.max_pairs``)."""
    run = row.get("run_dir")
    if run and (Path(run) / "summary.json").is_file():
        try:
            return float(json.loads((Path(run) / "summary.json").read_text())["pairs"])
        except (ValueError, KeyError, TypeError, OSError):
            pass
    cfg = (row.get("config") or {}).get("data") or {}
    value = cfg.get("max_pairs")
    return float(value) if isinstance(value, int | float) else np.nan


def load_results(path: str | Path) -> ResultsData:
    """Read a results store (an absent file is an empty store)."""
    store = ResultsStore(path)
    rows = store.rows()  # read once: a malformed row warns once
    summary = store.summary_frame(rows)
    extra = pd.DataFrame(
        [
            {
                "key": r["key"],
                "objective": ((r.get("config") or {}).get("objective") or {}).get(
                    "name", r.get("kind", "")
                ),
                "pairs": _pairs(r),
            }
            for r in rows
        ],
        columns=["key", "objective", "pairs"],
    ).drop_duplicates("key")
    summary = summary.merge(extra, on="key", how="left")
    summary["family"] = summary["dataset"].map(family) if len(summary) else pd.Series(dtype=str)
    per_query = store.per_query_frame(rows)
    per_query["family"] = (
        per_query["dataset"].map(family) if len(per_query) else pd.Series(dtype=str)
    )
    return ResultsData(Path(path), summary, per_query)


def _select(
    frame: pd.DataFrame,
    split: str,
    fam: str,
    measures: Sequence[str] | None,
    systems: Sequence[str] | None,
) -> pd.DataFrame:
    keep = (frame["split"] == split) & (frame["family"] == fam)
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

    Columns: measure, language, system, delta, p_adjusted, direction, mark (``▲`` / ``▼``).
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
    """Systems x languages (+ macro ``avg``) for one measure: ``"0.683 ▲"`` strings."""
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
        for obj in _read_metrics(run.path / "metrics.jsonl"):
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
