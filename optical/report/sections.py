"""The sections of one report block: the summary line, the paper table, the embedding
tables, mean ± std over seeds, the high–low gap and spread, other measures; as markdown (the
report) or as LaTeX tables (``optical report --latex``).

Every table's heading (caption) names the block's task and, for tables of retrieval rows, the
scoring mode (:func:`optical.report.paper_table.table_context`).  On the cross-reference task
the paper table adds the gap to the teacher ceiling
(:data:`optical.report.paper_table.CEILINGS`)."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd

from optical.analysis.variance import language_levels, per_seed_spread
from optical.evaluation.comparison import Comparison, Table, latex_escape
from optical.evaluation.measure_sets import (
    REPORT_RETRIEVAL_MEASURES,
    display_label,
    primary_measure,
)
from optical.evaluation.tables import significance_table
from optical.report.blocks import LOWER_IS_BETTER, Block, block_measures
from optical.report.paper_table import PaperTable, bench_tables, heading, table_context, task_label
from optical.results.frames import per_query_frame, results_frame, seed_averaged

__all__ = [
    "BlockTable",
    "block_latex",
    "block_tables",
    "gap_table",
    "other_table",
    "render_block",
    "seeds_table",
    "summary_line",
]

GAP_NOTE = (
    "Gap: macro mean over high-resource minus low-resource languages (– when a system lacks one of "
    "the two levels); std, min–max: across the system's languages; ± = std over seeds."
)


def _fmt(value: float, std: float | None = None, n: int | None = None) -> str:
    if value is None or not np.isfinite(value):
        return "–"
    text = f"{value:.3f}"
    if std is not None and n and n > 1 and np.isfinite(std):
        text += f" ± {std:.3f}"
    return text


def seeds_table(results: pd.DataFrame, measure: str) -> Table:
    """Systems x languages: mean ± std over seeds (n seeds in the last column)."""
    part = results[results["measure"] == measure]
    languages = list(dict.fromkeys(part["language"]))
    stats = part.groupby(["system", "language"], sort=False)["value"].agg(["mean", "std", "count"])
    seeds = part.groupby("system", sort=False)["seed"].nunique(dropna=False)
    rows = []
    for system in dict.fromkeys(part["system"]):
        cells = [system]
        for lang in languages:
            if (system, lang) in stats.index:
                s = stats.loc[(system, lang)]
                cells.append(_fmt(float(s["mean"]), float(s["std"]), int(s["count"])))
            else:
                cells.append("–")
        rows.append(cells + [str(int(seeds[system]))])
    return Table(["System", *languages, "seeds"], rows)


def gap_table(per_query: pd.DataFrame, measures: Sequence[str]) -> Table:
    """Per system: high−low gap and spread across languages (mean ± std over seeds)."""
    header = ["System"]
    stats = {}
    for m in measures:
        per_seed = per_seed_spread(per_query, m)
        agg = per_seed.groupby("system", sort=False).agg(
            gap=("gap", "mean"),
            gap_sd=("gap", "std"),
            std=("std", "mean"),
            std_sd=("std", "std"),
            low=("min", "mean"),
            high=("max", "mean"),
            n=("seed", "size"),
            langs=("n_languages", "max"),
        )
        stats[m] = agg
        label = display_label(m)
        header += [f"{label} gap (high−low)", f"{label} std across languages", f"{label} min–max"]
    systems = list(dict.fromkeys(per_query["system"]))
    rows = []
    for system in systems:
        cells = [system]
        for m in measures:
            if system not in stats[m].index:
                cells += ["–", "–", "–"]
                continue
            s = stats[m].loc[system]
            cells += [
                _fmt(s["gap"], s["gap_sd"], int(s["n"])),
                _fmt(s["std"], s["std_sd"], int(s["n"])),
                f"{s['low']:.3f}–{s['high']:.3f}",
            ]
        langs = [int(stats[m].loc[system, "langs"]) for m in measures if system in stats[m].index]
        rows.append(cells + [str(max(langs, default=0))])
    return Table(header + ["languages"], rows, notes=[GAP_NOTE])


def summary_line(primary: str, per_query: pd.DataFrame, results: pd.DataFrame) -> str:
    """Numbers only: systems, languages, seeds, best vs zero-shot, significant cells, gap."""
    label = display_label(primary)
    part = results[results["measure"] == primary]
    systems = list(dict.fromkeys(part["system"]))
    languages = list(dict.fromkeys(part["language"]))
    max_seeds = int(part.groupby("system")["seed"].nunique().max()) if len(part) else 0
    text = [
        f"{len(systems)} systems × {len(languages)} languages ({', '.join(languages)})"
        + (f", up to {max_seeds} seeds" if max_seeds > 1 else "")
        + "."
    ]
    lang_means = part.groupby(["system", "language"], sort=False)["value"].mean()
    complete = [s for s in systems if all((s, lang) in lang_means.index for lang in languages)]
    macro = {s: float(np.mean([lang_means[(s, lang)] for lang in languages])) for s in complete}
    lower = primary in LOWER_IS_BETTER
    if macro:
        best = (min if lower else max)(macro, key=macro.get)
        line = f"Macro {label}: best {best} {macro[best]:.3f}"
        if "zero-shot" in macro and best != "zero-shot":
            line += (
                f", zero-shot {macro['zero-shot']:.3f} (Δ {macro[best] - macro['zero-shot']:+.3f})"
            )
        text.append(line + (" (lower is better)." if lower else "."))
    pq = per_query[per_query["measure"] == primary]
    if "zero-shot" in set(pq["system"]) and pq["system"].nunique() > 1 and not lower:
        try:
            sig = significance_table(seed_averaged(pq), "zero-shot")
            better, worse = (
                int((sig["direction"] == "better").sum()),
                int((sig["direction"] == "worse").sum()),
            )
            text.append(
                f"Cells significantly better / worse than zero-shot on {label}: {better} / {worse} "
                f"of {len(sig)}."
            )
        except ValueError as err:  # e.g. zero-shot lacks a language of the block
            text.append(f"(no significance count: {err})")
    if len(pq) and set(language_levels(languages).values()) >= {"low", "high"} and not lower:
        gaps = per_seed_spread(pq, primary).groupby("system", sort=False)["gap"].mean().dropna()
        if len(gaps):
            smallest = gaps.abs().idxmin()
            line = f"High−low {label} gap: "
            if "zero-shot" in gaps.index:
                line += f"zero-shot {gaps['zero-shot']:+.3f}; "
            text.append(line + f"smallest |gap| {smallest} {gaps[smallest]:+.3f}.")
    return " ".join(text)


def other_table(results: pd.DataFrame, measures: Sequence[str]) -> Table:
    """Aggregate-only measures: systems x (language, measure), mean ± std over seeds."""
    part = results[results["measure"].isin(measures)]
    stats = part.groupby(["system", "language", "measure"], sort=False)["value"].agg(
        ["mean", "std", "count"]
    )
    columns = list(dict.fromkeys(zip(part["language"], part["measure"], strict=True)))
    rows = []
    for system in dict.fromkeys(part["system"]):
        cells = [system]
        for lang, m in columns:
            key = (system, lang, m)
            cells.append(
                _fmt(
                    *[float(stats.loc[key][c]) for c in ("mean", "std")],
                    int(stats.loc[key]["count"]),
                )
                if key in stats.index
                else "–"
            )
        rows.append(cells)
    return Table(["System", *[f"{lang} {display_label(m)}" for lang, m in columns]], rows)


@dataclass(frozen=True)
class BlockTable:
    """One table of a block, with the bold title and what it shows (``context``: task, scoring
    mode) written above it, then the plain suffix.  A :class:`PaperTable` (no title) writes its
    own headings."""

    title: str | None
    table: Table | Comparison | PaperTable
    suffix: str = ""
    context: str = ""

    def markdown(self) -> list[str]:
        head = [f"**{heading(self.title, self.context)}**{self.suffix}", ""] if self.title else []
        return [*head, self.table.to_markdown(), ""]

    def latex(self, context: str) -> str:
        title = f"{self.title}{self.suffix}" if self.title else ""
        return self.table.to_latex(heading(context, title, self.context if self.title else ""))


BlockContent = tuple[str | None, list[BlockTable], dict[str, Any]]
"""A block's summary line, tables and figure inputs (:func:`block_tables`)."""


def block_tables(block: Block) -> BlockContent:
    """A block's summary line (None without a primary measure), its tables in report order,
    and what its figure needs."""
    tables, others = block_measures(block)
    results = results_frame(block.rows)
    per_query = per_query_frame(block.rows)
    primary = primary_measure([*tables, *others])
    summary = summary_line(primary, per_query, results) if primary is not None else None
    out: list[BlockTable] = []
    retrieval = [m for m in REPORT_RETRIEVAL_MEASURES if m in tables]
    rows = [r for r in block.rows if r.task == "retrieval"]
    # what the headings say: the task, and the scoring mode for tables of retrieval rows
    task = task_label(r.benchmark for r in block.rows)
    scored = table_context([r.benchmark for r in rows], block.mode) if rows else task

    def where(measures: Sequence[str]) -> str:
        return scored if set(measures) & set(retrieval) else task

    if retrieval:
        out.append(BlockTable(None, bench_tables(rows, measures=retrieval, split=block.split, dataset_family=None)))
    for m in ("mining_acc", "alignment"):
        if m in tables:
            part = seed_averaged(per_query[per_query["measure"] == m])
            lower = m in LOWER_IS_BETTER
            baseline = "zero-shot" if not lower and "zero-shot" in set(part["system"]) else None
            comparison = Comparison.from_results(part, baseline=baseline, average=True, bold_best=not lower)
            out.append(BlockTable(display_label(m), comparison, " (lower is better)" if lower else "", task))
    seeded = results[results["seed"].notna()]
    if len(seeded) and seeded.groupby("system")["seed"].nunique().max() > 1:
        for m in [x for x in (*retrieval, "mining_acc") if x in tables]:
            out.append(BlockTable(f"{display_label(m)}, mean ± std over seeds", seeds_table(results, m),
                                  context=where([m])))
    gap_measures = [m for m in (*retrieval, "mining_acc") if m in tables]
    if gap_measures and len(set(per_query["language"])) > 1:
        table = gap_table(per_query[per_query["measure"].isin(gap_measures)], gap_measures)
        out.append(BlockTable("Gap and variance across languages", table, context=where(gap_measures)))
    if others:
        out.append(BlockTable("Other measures", other_table(results, others), " (mean ± std over seeds)",
                              where(others)))
    return summary, out, {"primary": primary, "results": results}


def render_block(block: Block, content: BlockContent | None = None) -> tuple[str, dict[str, Any]]:
    """Markdown of one block and what its figure needs (``content``: its
    :func:`block_tables`, when already computed)."""
    summary, tables, figure = content if content is not None else block_tables(block)
    out = [f"### {block.title}", ""]
    if summary is not None:
        out += [f"*Summary.* {summary}", ""]
    out += [f"*{n}*" for n in block.notes] + ([""] if block.notes else [])
    for table in tables:
        out += table.markdown()
    return "\n".join(out).rstrip() + "\n", figure


def block_latex(block: Block, context: str = "", content: BlockContent | None = None) -> str:
    """Every table of one block as LaTeX, under a ``\\subsection*``, captioned ``context — family
    (split) — title``; the block's notes (e.g. measures left out) as a paragraph."""
    _, tables, _ = content if content is not None else block_tables(block)
    where = block.title
    out = [r"\subsection*{" + latex_escape(where) + "}", ""]
    out += [latex_escape(n) + "\n" for n in block.notes]
    caption = " — ".join(c for c in (context, where) if c)
    out += [table.latex(caption) for table in tables]
    return "\n".join(out)
