"""The paper-style table of ``optical bench`` and the report: systems x languages per measure,
marked † / ‡ when significantly better / worse than a baseline (one system alone: its
languages as rows, measures as columns), in markdown or LaTeX.

Input is per-query results: a long frame (``system``, ``language``, ``qid``, ``measure``,
``value``, and the ``split`` / ``group`` / ``dataset`` / ``mode`` columns the selection uses),
or results rows, read with :func:`optical.results.frames.per_query_frame`.

Every heading (markdown) and caption (LaTeX) names the task and the scoring mode of its rows:
``MAP — cross-reference retrieval (bible-xref), MaxSim scoring`` (:func:`table_context`).
A task with a ceiling (:data:`CEILINGS`: on ``bible-xref``, the frozen teacher ``zero-shot``
with the WEB verse itself as the query) adds the primary measure's gap to it, per system and
language, and states the ceiling's values in the note.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Literal

import pandas as pd

from optical.assets.languages import XREF_WEB, resource_level
from optical.dataset_spec import DatasetSpec
from optical.evaluation.comparison import Cell, Comparison, Table, signed
from optical.evaluation.measure_sets import (
    measure_label,
    measure_note,
    primary_measure,
    table_measures,
)
from optical.evaluation.tables import averaged_languages
from optical.results.frames import per_query_frame

__all__ = [
    "CEILINGS",
    "FORMATS",
    "MODE_NAMES",
    "QUERY_NAMES",
    "TASK_NAMES",
    "PaperTable",
    "bench_table",
    "bench_tables",
    "heading",
    "mode_label",
    "table_context",
    "task_label",
]

TableFormat = Literal["markdown", "latex"]
FORMATS = ("markdown", "latex")

#: A reader's name of each task (benchmark); any other is named by itself (``cldr``, a folder).
TASK_NAMES = {
    "bible": "aligned-verse retrieval (bible)",
    "bible-xref": "cross-reference retrieval (bible-xref)",
}
#: A reader's name of each retrieval scoring mode (:attr:`optical.results.row.ResultRow.mode`).
MODE_NAMES = {"pooled": "pooled", "maxsim": "MaxSim", "ot": "OT-rerank"}
#: What the English query languages of the Bible tasks are (the documents are the WEB); other
#: languages (and tasks) read ``<language> queries``.
QUERY_NAMES = {XREF_WEB: "WEB queries", "en": "KJV queries"}
_BIBLE_TASKS = ("bible", "bible-xref")
#: A task's default ceiling: the (system, query language) its gap tables are measured against,
#: then the other query languages of that system the note states.  On the cross-reference task,
#: the frozen teacher with the WEB verse itself as the query (the purest monolingual matching),
#: and with the KJV (an English paraphrase).
CEILINGS: dict[str, tuple[tuple[str, str], tuple[str, ...]]] = {
    "bible-xref": (("zero-shot", XREF_WEB), ("en",)),
}
CeilingOption = tuple[str, str] | Literal["default"] | None


def task_label(benchmarks: Iterable[str]) -> str:
    """The tasks' reader's names (:data:`TASK_NAMES`), joined by `` + `` when several."""
    return " + ".join(TASK_NAMES.get(b, b) for b in dict.fromkeys(benchmarks) if b)


def mode_label(mode: str | None) -> str:
    """``MaxSim scoring`` for ``maxsim`` (:data:`MODE_NAMES`); ``""`` without a mode."""
    return f"{MODE_NAMES.get(mode, mode)} scoring" if mode else ""


def table_context(benchmarks: Iterable[str], mode: str | None) -> str:
    """What a table's heading says it shows: ``cross-reference retrieval (bible-xref), pooled
    scoring`` (either part left out when unknown)."""
    return ", ".join(part for part in (task_label(benchmarks), mode_label(mode)) if part)


def heading(*parts: str | None) -> str:
    """The non-empty parts of a heading or caption, joined by `` — ``."""
    return " — ".join(p for p in parts if p)


@dataclass(frozen=True)
class PaperTable:
    """What :func:`bench_table` shows: titled tables (a :class:`Comparison` per measure, or one
    system's :class:`Table`; a gap table after the primary measure's when there is a ceiling),
    what they show (``context``: task and scoring mode, in every heading) and the note on the
    measures (and the ceiling) under them."""

    tables: tuple[tuple[str, Comparison | Table], ...]
    note: str = ""
    single_system: bool = False
    context: str = ""

    def to_markdown(self) -> str:
        """Each table under its bold heading ``title — context``, then the note."""
        text = "\n\n".join(
            f"**{heading(title, self.context)}**\n\n{t.markdown_body() if self.single_system else t.to_markdown()}"
            for title, t in self.tables
        )
        return f"{text}\n\n{self.note}" if self.note else text

    def to_latex(self, caption: str = "") -> str:
        """One booktabs table per measure (per system), captioned ``caption — title —
        context``, the legend and the note."""
        notes = [self.note] if self.note else []
        return "\n".join(t.to_latex(heading(caption, title, self.context), notes=notes) for title, t in self.tables)

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


def _benchmark(dataset: str) -> str:
    return DatasetSpec.parse(dataset, check=False).benchmark


def _benchmarks(frame: pd.DataFrame) -> list[str]:
    """The benchmarks (tasks) of per-query results, in order of first appearance."""
    if "dataset" in frame.columns:
        return list(dict.fromkeys(_benchmark(d) for d in frame["dataset"].unique()))
    if "benchmark" in frame.columns:
        return list(dict.fromkeys(frame["benchmark"]))
    return []


@dataclass(frozen=True)
class _Ceiling:
    """The reference of a gap table: a system's mean on one query language (None when the
    selection has no such rows), and the values of the other languages the note states."""

    system: str
    language: str
    measure: str
    value: float | None
    stated: tuple[tuple[str, float | None], ...]
    mode: str
    task: str = ""

    def queries(self, language: str) -> str:
        """``WEB queries`` / ``KJV queries`` on the Bible tasks, else ``<language> queries``."""
        named = QUERY_NAMES.get(language) if self.task in _BIBLE_TASKS else None
        return named or f"{language} queries"

    @property
    def name(self) -> str:
        return "teacher ceiling" if self.system == "zero-shot" else "ceiling"

    def title(self) -> str:
        assert self.value is not None
        return (f"{measure_label(self.measure)}: gap to the {self.name} "
                f"({self.system}, {self.queries(self.language)} = {self.value:.3f})")

    def gap_note(self) -> str:
        return (f"Gap: {measure_label(self.measure)} minus the {self.name}'s ({self.system} with "
                f"{self.queries(self.language)}, {self.value:.3f}); negative = below the ceiling.")

    def note(self) -> str:
        """The sentence under the tables: the ceiling's values, or that its rows are missing."""
        label = measure_label(self.measure)
        known = [f"{v:.3f} with {self.queries(lang)} ({lang})" for lang, v in self.stated if v is not None]
        absent = [f"{self.queries(lang)} ({lang})" for lang, v in self.stated if v is None]
        if self.value is None:
            where = f" in {mode_label(self.mode)}" if self.mode else ""
            text = (f"No gap to the {self.name}: the selected rows have no {self.system} results with "
                    f"{self.queries(self.language)} ({self.language}){where}")
            if known:
                return f"{text} ({self.system} {label}: {', '.join(known)})."
            return text + (f" (nor with {', '.join(absent[1:])})." if len(absent) > 1 else ".")
        where = f", {mode_label(self.mode)}" if self.mode else ""
        text = f"{self.name.capitalize()} ({self.system}{where}): {label} {', '.join(known)}"
        return text + (f"; no rows with {', '.join(absent)}." if absent else ".")


def _ceiling(ceiling: CeilingOption, benchmarks: Sequence[str], scope: pd.DataFrame, measure: str | None,
             mode: str) -> _Ceiling | None:
    """The ceiling a table is measured against (``ceiling``; ``"default"``: its task's entry in
    :data:`CEILINGS`), its values read from ``scope`` (the selection before systems and languages
    are picked); None without one."""
    default = CEILINGS.get(benchmarks[0]) if len(benchmarks) == 1 else None
    if ceiling == "default":
        if default is None:
            return None
        ceiling = default[0]
    if ceiling is None or measure is None:
        return None
    system, language = ceiling
    stated = [language]
    if default is not None and default[0][0] == system:  # the task's other ceiling queries
        stated += [lang for lang in (default[0][1], *default[1]) if lang not in stated]
    part = scope[(scope["system"] == system) & (scope["measure"] == measure)]
    if "dataset" in part.columns:  # the table's task only (the report passes several families' rows)
        names = {d: _benchmark(d) for d in part["dataset"].unique()}
        part = part[part["dataset"].map(names).isin(benchmarks)]
    values = {lang: _query_mean(part[part["language"] == lang]) for lang in stated}
    task = benchmarks[0] if len(benchmarks) == 1 else ""
    return _Ceiling(system, language, measure, values[language], tuple(values.items()), mode, task)


def _query_mean(part: pd.DataFrame) -> float | None:
    """Mean over queries (each averaged over its seeds / repeats) of one system and language."""
    return float(part.groupby("qid")["value"].mean().mean()) if len(part) else None


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
    ceiling: CeilingOption = "default",
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
    scope = frame  # where a ceiling is looked up: whatever systems and languages are shown
    if systems is not None:
        frame = frame[frame["system"].isin(systems)]
    if languages is not None:
        frame = frame[frame["language"].isin(languages)]
    modes = sorted(set(frame["mode"]) - {""}) if "mode" in frame.columns else []
    if len(modes) > 1:  # averaging them as seeds would mix two different results
        raise ValueError(f"the selected rows were scored in several modes ({', '.join(modes)}): "
                         "choose one (`optical bench --mode`, or mode=...)")
    shown_mode = modes[0] if modes else ""
    tasks = {lang: _benchmarks(rows) for lang, rows in frame.groupby("language")} if "dataset" in frame.columns else {}
    mixed = sorted({b for found in tasks.values() if len(found) > 1 for b in found})
    if mixed:  # the same query language in two tasks: averaging them as seeds would mix two results
        raise ValueError(f"the selected rows come from several tasks with the same query language "
                         f"({', '.join(mixed)}): choose one (`optical bench --datasets`, or dataset_family=...)")
    if shown_mode:
        scope = scope[scope["mode"] == shown_mode]
    measures = list(measures) if measures is not None else list(table_measures(frame["measure"].unique()))
    frame = frame[frame["measure"].isin(measures)]
    if frame.empty:
        raise ValueError("no results match the requested systems/languages/split")
    benchmarks = _benchmarks(frame)
    context = table_context(benchmarks, shown_mode)
    present_measures = set(frame["measure"])
    primary = primary_measure(m for m in measures if m in present_measures)
    reference = _ceiling(ceiling, benchmarks, scope, primary, shown_mode)
    # several rows of one system and language are seeds (or repeats): average per query
    frame = frame.groupby(["system", "language", "qid", "measure"], as_index=False, sort=False)["value"].mean()
    present = list(dict.fromkeys(frame["system"]))
    if baseline not in present or len(present) < 2:
        baseline = None
    systems = [s for s in (systems or present) if s in present]
    languages = [lang for lang in (languages or list(dict.fromkeys(frame["language"])))
                 if lang in set(frame["language"])]
    note = " ".join(n for n in (measure_note(measures), reference.note() if reference else "") if n)
    gap = reference if reference is not None and reference.value is not None else None
    if len(systems) == 1:  # one system: languages as rows, measures as columns (and the gap)
        table = _single_system_table(frame, systems[0], languages, measures, gap)
        note = " ".join(n for n in (note, gap.gap_note() if gap is not None else "") if n)
        return PaperTable(((systems[0], table),), note, single_system=True, context=context)
    tables: list[tuple[str, Comparison | Table]] = []
    for measure in measures:
        part = frame[frame["measure"] == measure][["system", "language", "qid", "measure", "value"]]
        if part.empty:
            continue
        comparison = Comparison.from_results(part, baseline=baseline, systems=systems, languages=languages,
                                             measures=[measure], average=True)
        tables.append((measure_label(measure), comparison))
        if gap is not None and measure == gap.measure:
            assert gap.value is not None
            tables.append((gap.title(), comparison.difference_table(gap.value, notes=[gap.gap_note()])))
    return PaperTable(tuple(tables), note, context=context)


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
    ceiling: CeilingOption = "default",
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
        Pipe tables with bold headings, or booktabs tables with captions; every heading and
        caption names the task and the scoring mode.
    ceiling : (system, language), "default" or None
        Add the primary measure's gap to this system's score on this query language, per
        system and language (the selection in the same mode, whatever ``systems`` and
        ``languages`` show), and state the ceiling in the note; a note says so when the
        selection has no such rows. ``"default"``: the task's :data:`CEILINGS` entry (on
        ``bible-xref``: ``("zero-shot", "en-web")``; the note also states ``en``), none on
        the other tasks. None: no gap.
    """
    table = bench_tables(results, systems, languages, measures, baseline, split, dataset_family, group, mode,
                         ceiling)
    return table.render(fmt)


def _single_system_table(frame: pd.DataFrame, system: str, languages: Sequence[str],
                         measures: Sequence[str], gap: _Ceiling | None = None) -> Table:
    """Languages as rows, measures as columns; with ``gap``, a last column: its measure minus
    the ceiling."""
    sub = frame[frame["system"] == system]
    means = sub.groupby(["language", "measure"])["value"].mean()
    counts = sub.groupby("language")["qid"].nunique()
    averaged = sub[sub["language"].isin(averaged_languages(languages))]  # not the ceiling queries
    macro = {m: averaged[averaged["measure"] == m].groupby("language")["value"].mean().mean() for m in measures}
    ceiling = gap.value if gap is not None and gap.measure in measures else None
    rows: list[list[Cell | str]] = []
    for lang in languages:
        values = [means.get((lang, m), float("nan")) for m in measures]
        rows.append([lang, resource_level(lang), str(counts.get(lang, 0)), *map(_cell, values)])
    rows.append([Cell("macro avg", italic=True), "", "", *[_cell(macro[m]) for m in measures]])
    header = ["language", "resource", "queries", *[measure_label(m) for m in measures]]
    if gap is not None and ceiling is not None:
        primary = [means.get((lang, gap.measure), float("nan")) for lang in languages] + [macro[gap.measure]]
        rows = [[*row, signed(value - ceiling)] for row, value in zip(rows, primary, strict=True)]
        header.append(f"{measure_label(gap.measure)} − ceiling")
    return Table(header, rows, align="llr" + "r" * (len(header) - 3))


def _cell(value: float) -> str:
    return "–" if pd.isna(value) else f"{value:.3f}"
