"""The paper-style table of ``optical bench`` and the report: systems x languages per measure,
marked † / ‡ when significantly better / worse than a baseline (one system alone: its
languages as rows, measures as columns), in markdown or LaTeX.

Input is per-query results: a long frame (``system``, ``language``, ``qid``, ``measure``,
``value``, and the ``split`` / ``group`` / ``dataset`` columns the selection uses), or results
rows, read with :func:`optical.results.frames.per_query_frame`.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Literal

import pandas as pd

from optical.assets.languages import resource_level
from optical.dataset_spec import DatasetSpec
from optical.evaluation.comparison import Cell, Comparison, Table
from optical.evaluation.measure_sets import measure_label, measure_note, table_measures
from optical.results.frames import per_query_frame

__all__ = ["FORMATS", "PaperTable", "bench_table", "bench_tables"]

TableFormat = Literal["markdown", "latex"]
FORMATS = ("markdown", "latex")


@dataclass(frozen=True)
class PaperTable:
    """What :func:`bench_table` shows: titled tables (a :class:`Comparison` per measure, or one
    system's :class:`Table`) and the note on the measures under them."""

    tables: tuple[tuple[str, Comparison | Table], ...]
    note: str = ""
    single_system: bool = False

    def to_markdown(self) -> str:
        if self.single_system:
            text = "\n\n".join(f"**{title}**\n\n{t.markdown_body()}" for title, t in self.tables)
        else:
            text = "\n\n".join(f"**{title}**\n\n{t.to_markdown()}" for title, t in self.tables)
        return f"{text}\n\n{self.note}" if self.note else text

    def to_latex(self, caption: str = "") -> str:
        """One booktabs table per measure (per system), captioned ``caption — title``, the
        legend and the note."""
        notes = [self.note] if self.note else []
        return "\n".join(
            t.to_latex(" — ".join(c for c in (caption, title) if c), notes=notes)
            for title, t in self.tables
        )

    def render(self, fmt: TableFormat = "markdown") -> str:
        if fmt == "markdown":
            return self.to_markdown()
        if fmt == "latex":
            return self.to_latex()
        raise ValueError(f"unknown table format {fmt!r}; use one of {', '.join(FORMATS)}")


def _frame(results: pd.DataFrame | Iterable[Mapping[str, Any]]) -> pd.DataFrame:
    if isinstance(results, pd.DataFrame):
        return results
    return per_query_frame(results)


def _select(frame: pd.DataFrame, column: str, option: str) -> pd.Series:
    if column not in frame.columns:
        raise ValueError(f"the per-query results have no {column!r} column to select by; pass {option}=None")
    return frame[column]


def bench_tables(
    results: pd.DataFrame | Iterable[Mapping[str, Any]],
    systems: Sequence[str] | None = None,
    languages: Sequence[str] | None = None,
    measures: Sequence[str] | None = None,
    baseline: str | None = "zero-shot",
    split: str | None = "test",
    dataset_family: str | None = "bible",
    group: str | None = None,
    mode: str | None = None,
) -> PaperTable:
    """The tables of :func:`bench_table`, as data."""
    frame = _frame(results)
    if frame.empty:
        raise ValueError("no per-query results to tabulate: run `optical bench` first")
    if group is not None:
        frame = frame[_select(frame, "group", "group") == group]
    if split is not None:
        frame = frame[_select(frame, "split", "split") == split]
    if dataset_family:
        datasets = _select(frame, "dataset", "dataset_family")
        families = {d: DatasetSpec.parse(d, check=False).family for d in datasets.unique()}
        frame = frame[datasets.map(families) == dataset_family]
    if mode is not None:
        frame = frame[_select(frame, "mode", "mode") == mode]
    if systems is not None:
        frame = frame[frame["system"].isin(systems)]
    if languages is not None:
        frame = frame[frame["language"].isin(languages)]
    modes = sorted(set(frame["mode"]) - {""}) if "mode" in frame.columns else []
    if len(modes) > 1:  # averaging them as seeds would mix two different results
        raise ValueError(f"the selected rows were scored in several modes ({', '.join(modes)}): "
                         "choose one (`optical bench --mode`, or mode=...)")
    measures = list(measures) if measures is not None else list(table_measures(frame["measure"].unique()))
    frame = frame[frame["measure"].isin(measures)]
    if frame.empty:
        raise ValueError("no results match the requested systems/languages/split")
    # several rows of one system and language are seeds (or repeats): average per query
    frame = frame.groupby(["system", "language", "qid", "measure"], as_index=False, sort=False)["value"].mean()
    present = list(dict.fromkeys(frame["system"]))
    if baseline not in present or len(present) < 2:
        baseline = None
    systems = [s for s in (systems or present) if s in present]
    languages = [lang for lang in (languages or list(dict.fromkeys(frame["language"])))
                 if lang in set(frame["language"])]
    note = measure_note(measures)
    if len(systems) == 1:  # one system: languages as rows, measures as columns
        return PaperTable(((systems[0], _single_system_table(frame, systems[0], languages, measures)),),
                          note, single_system=True)
    tables = []
    for measure in measures:
        part = frame[frame["measure"] == measure][["system", "language", "qid", "measure", "value"]]
        if part.empty:
            continue
        comparison = Comparison.from_results(part, baseline=baseline, systems=systems, languages=languages,
                                             measures=[measure], average=True)
        tables.append((measure_label(measure), comparison))
    return PaperTable(tuple(tables), note)


def bench_table(
    results: pd.DataFrame | Iterable[Mapping[str, Any]],
    systems: Sequence[str] | None = None,
    languages: Sequence[str] | None = None,
    measures: Sequence[str] | None = None,
    baseline: str | None = "zero-shot",
    split: str | None = "test",
    dataset_family: str | None = "bible",
    group: str | None = None,
    fmt: TableFormat = "markdown",
    mode: str | None = None,
) -> str:
    """Paper-style table: systems x languages x measures, with significance marks vs ``baseline``.

    Parameters
    ----------
    results : pandas.DataFrame or iterable of results rows
        Per-query results (see the module docstring), e.g. ``store.rows()``.
    systems, languages : sequence of str, optional
        Rows and columns shown, in order (default: all, in order of first appearance).
    measures : sequence of str, optional
        Default: the :func:`~optical.evaluation.measure_sets.table_measures` of the selected
        rows (R@1 (rel=2), MRR@10 (rel=2), MAP, nDCG@10 for the Bible; R@1, MRR@10, MAP,
        nDCG@10 for binary qrels).
    baseline : str, optional
        System the marks compare against (ignored when absent or alone).
    split, dataset_family, group, mode : str, optional
        Keep only these rows (None: all). Rows of several scoring modes (pooled, maxsim,
        ot) are refused together: averaged, they would mix two different results.
    fmt : {"markdown", "latex"}
        Pipe tables with bold headings, or booktabs tables with captions.
    """
    table = bench_tables(results, systems, languages, measures, baseline, split, dataset_family, group, mode)
    return table.render(fmt)


def _single_system_table(frame: pd.DataFrame, system: str, languages: Sequence[str],
                         measures: Sequence[str]) -> Table:
    sub = frame[frame["system"] == system]
    means = sub.groupby(["language", "measure"])["value"].mean()
    counts = sub.groupby("language")["qid"].nunique()
    rows: list[list[Cell | str]] = [
        [lang, resource_level(lang), str(counts.get(lang, 0)),
         *[_cell(means.get((lang, m), float("nan"))) for m in measures]]
        for lang in languages
    ]
    avg = [_cell(sub[sub["measure"] == m].groupby("language")["value"].mean().mean()) for m in measures]
    rows.append([Cell("macro avg", italic=True), "", "", *avg])
    header = ["language", "resource", "queries", *[measure_label(m) for m in measures]]
    return Table(header, rows, align="llr" + "r" * len(measures))


def _cell(value: float) -> str:
    return "–" if pd.isna(value) else f"{value:.3f}"
