"""``optical report``: the results store as a paper-style report (markdown, and HTML with figures).

For every sweep group (one research question each) and dataset family, in the chosen split:

- a one-line summary, numbers only (best system vs zero-shot, significant cells, gap);
- the paper-style table: systems x languages for R@1 and MAP, marked † / ‡ when
  significantly better / worse than ``zero-shot`` (:func:`optical.results.collect.bench_table`);
- mean ± std over seeds, when any system has several;
- the high–low gap and the spread across languages per system (mean ± std over seeds of
  :func:`~optical.evaluation.tables.resource_gap` and
  :func:`~optical.evaluation.tables.language_spread`);
- the other measures of the group: embedding metrics (RQ2) and threshold F1 (RQ3).

Collections judged with grade 1 only (CLDR) are benched with binary measures (R@1, MRR@10);
rows stored before that carry grade-2 measures (R@1 (rel=2), MRR@10 (rel=2)), which are left
out of such a family's tables, with a note.
"""

from __future__ import annotations

import html
import re
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from optical.analysis.variance import language_levels, per_seed_spread
from optical.evaluation.measure_sets import (
    EXTRA_LABELS,
    GRADE1_NOTE,
    GRADE2_MEASURES,
    REPORT_RETRIEVAL_MEASURES,
    display_label,
    primary_measure,
)
from optical.results import ResultsStore
from optical.results.frames import (
    StoreView,
    dataset_family,
    grade2_judged,
    per_query_frame,
    results_frame,
    seed_averaged,
)

__all__ = [
    "QUESTIONS",
    "Block",
    "question_title",
    "report_blocks",
    "render_markdown",
    "markdown_to_html",
    "render_html",
    "write_report",
]

QUESTIONS = {
    "nb01": "Quickstart — OPTICAL distillation of a query encoder on the embedded benchmark",
    "rq1": "RQ1 — OT distillation vs cross-entropy fine-tuning (and contrastive, MSE) with 10–100 labelled pairs",
    "rq2": "RQ2 — embedding alignment, uniformity and bitext mining before vs after distillation",
    "rq3": "RQ3 — robustness under domain shift: train on the Bible, test in another domain",
    "rq4": "RQ4 — variance between high- and low-resource languages: OT vs contrastive",
    "rq5": "RQ5 — the high–low R@1 gap as model size grows",
}
LOWER_IS_BETTER = {"alignment", "uniformity", "uniformity_en"}


def question_title(group: str) -> str:
    """Title of a group: its research question (``rq1-...`` -> RQ1), else the group name."""
    return QUESTIONS.get(group.split("-", 1)[0], group or "(no group)")


@dataclass
class Block:
    """The rows of one (group, dataset family) in one split."""

    group: str
    family: str
    split: str
    rows: list[dict[str, Any]]
    notes: list[str] = field(default_factory=list)


def report_blocks(
    store: ResultsStore, groups: Sequence[str] | None = None, split: str = "test"
) -> list[Block]:
    """The store's rows in ``split``, split by group and dataset family (sorted by name)."""
    blocks: dict[tuple[str, str], list[dict[str, Any]]] = {}
    for row in store.rows():
        group = row.get("group") or ""
        if row.get("split") != split or (groups is not None and group not in groups):
            continue
        blocks.setdefault((group, dataset_family(row["dataset"])), []).append(row)
    return [Block(g, f, split, rows) for (g, f), rows in sorted(blocks.items())]


# ---------------------------------------------------------------------------- numbers
def _measures(block: Block) -> tuple[list[str], list[str]]:
    """(per-query measures for significance tables, aggregate-only measures) of a block."""
    per_query = list(dict.fromkeys(m for r in block.rows for m in (r.get("per_query") or {})))
    aggregate = list(dict.fromkeys(m for r in block.rows for m in r.get("metrics", {})))
    retrieval = [r for r in block.rows if r.get("task", "retrieval") == "retrieval"]
    if retrieval and not grade2_judged(retrieval) and {*per_query, *aggregate} & set(GRADE2_MEASURES):
        # rows stored before bench chose binary measures for grade-1 collections
        if GRADE1_NOTE not in block.notes:
            block.notes.append(GRADE1_NOTE)
        per_query = [m for m in per_query if m not in GRADE2_MEASURES]
    tables = [m for m in (*REPORT_RETRIEVAL_MEASURES, "mining_acc", "alignment") if m in per_query]
    shown_elsewhere = set(tables) | {m for m in aggregate if m in per_query}
    others = [m for m in aggregate if m not in shown_elsewhere and m in EXTRA_LABELS]
    return tables, others


def _fmt(value: float, std: float | None = None, n: int | None = None) -> str:
    if value is None or not np.isfinite(value):
        return "–"
    text = f"{value:.3f}"
    if std is not None and n and n > 1 and np.isfinite(std):
        text += f" ± {std:.3f}"
    return text


def _md_table(header: list[str], rows: list[list[str]]) -> str:
    lines = [
        "| " + " | ".join(header) + " |",
        "|" + "|".join([":---"] + ["---:"] * (len(header) - 1)) + "|",
    ]
    lines += ["| " + " | ".join(str(c).replace("|", "\\|") for c in row) + " |" for row in rows]
    return "\n".join(lines) + "\n"


def seeds_table(results: pd.DataFrame, measure: str) -> str:
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
    return _md_table(["System", *languages, "seeds"], rows)


def gap_table(per_query: pd.DataFrame, measures: Sequence[str]) -> str:
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
    table = _md_table(header + ["languages"], rows)
    note = (
        "Gap: macro mean over high-resource minus low-resource languages (– when a system lacks one of "
        "the two levels); std, min–max: across the system's languages; ± = std over seeds."
    )
    return table + "\n" + note + "\n"


def summary_line(primary: str, per_query: pd.DataFrame, results: pd.DataFrame) -> str:
    """Numbers only: systems, languages, seeds, best vs zero-shot, significant cells, gap."""
    from optical.evaluation.tables import significance_table

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


def _other_table(results: pd.DataFrame, measures: Sequence[str]) -> str:
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
    return _md_table(["System", *[f"{lang} {display_label(m)}" for lang, m in columns]], rows)


# ---------------------------------------------------------------------------- rendering
def render_block(block: Block) -> tuple[str, dict[str, Any]]:
    """Markdown of one block and what its figure needs."""
    from optical.evaluation.tables import to_markdown
    from optical.results.collect import bench_table

    tables, others = _measures(block)
    results = results_frame(block.rows)
    per_query = per_query_frame(block.rows)
    primary = primary_measure([*tables, *others])
    out = [f"### {block.family} ({block.split})", ""]
    if primary is not None:
        out += [f"*Summary.* {summary_line(primary, per_query, results)}", ""]
    out += [f"*{n}*" for n in block.notes] + ([""] if block.notes else [])
    retrieval = [m for m in REPORT_RETRIEVAL_MEASURES if m in tables]
    if retrieval:
        view = StoreView(r for r in block.rows if r.get("task", "retrieval") == "retrieval")
        out += [bench_table(view, measures=retrieval, split=block.split, dataset_family=None), ""]
    for m in ("mining_acc", "alignment"):
        if m in tables:
            part = seed_averaged(per_query[per_query["measure"] == m])
            baseline = (
                "zero-shot"
                if m not in LOWER_IS_BETTER and "zero-shot" in set(part["system"])
                else None
            )
            out += [
                f"**{display_label(m)}**" + (" (lower is better)" if m in LOWER_IS_BETTER else ""),
                "",
                to_markdown(
                    part, baseline=baseline, average=True, bold_best=m not in LOWER_IS_BETTER
                ),
                "",
            ]
    seeded = results[results["seed"].notna()]
    if len(seeded) and seeded.groupby("system")["seed"].nunique().max() > 1:
        for m in [x for x in (*retrieval, "mining_acc") if x in tables]:
            out += [f"**{display_label(m)}, mean ± std over seeds**", "", seeds_table(results, m), ""]
    gap_measures = [m for m in (*retrieval, "mining_acc") if m in tables]
    if gap_measures and len(set(per_query["language"])) > 1:
        table = gap_table(per_query[per_query["measure"].isin(gap_measures)], gap_measures)
        out += ["**Gap and variance across languages**", "", table, ""]
    if others:
        out += ["**Other measures** (mean ± std over seeds)", "", _other_table(results, others), ""]
    figure = {"primary": primary, "results": results}
    return "\n".join(out).rstrip() + "\n", figure


def render_markdown(
    store: ResultsStore,
    groups: Sequence[str] | None = None,
    split: str = "test",
    blocks: Sequence[Block] | None = None,
) -> tuple[str, list[tuple[Block, dict[str, Any]]]]:
    """The report's markdown and, per block, what its figure needs."""
    blocks = list(blocks) if blocks is not None else report_blocks(store, groups, split)
    n_rows = len(store.rows())
    head = [
        "# optical — results report",
        "",
        f"Generated {time.strftime('%Y-%m-%d %H:%M')} by `optical report` from `{store.path}` "
        f"({n_rows} rows; split `{split}`). Each section is one sweep group (research question); "
        "rerun the notebooks or `optical sweep --spec configs/sweeps/<question>.toml` to reproduce it.",
        "",
    ]
    if not blocks:
        return "\n".join(head + ["No results in this split yet."]) + "\n", []
    body, figures = [], []
    current = None
    for block in blocks:
        if block.group != current:
            current = block.group
            body += [
                f"## {question_title(block.group)}",
                "",
                f"Group `{block.group or '(none)'}`.",
                "",
            ]
        text, fig = render_block(block)
        body += [text]
        figures.append((block, fig))
    return "\n".join(head + body).rstrip() + "\n", figures


_INLINE = [
    (re.compile(r"\*\*(.+?)\*\*"), r"<strong>\1</strong>"),
    (re.compile(r"`([^`]+)`"), r"<code>\1</code>"),
    (re.compile(r"(?<![*\w])\*([^*]+?)\*(?![*\w])"), r"<em>\1</em>"),
]


def _inline(text: str) -> str:
    out = html.escape(text, quote=False)
    for pattern, repl in _INLINE:
        out = pattern.sub(repl, out)
    return out.replace("\\|", "|")


def markdown_to_html(text: str) -> str:
    """The subset of markdown the report writes: headings, paragraphs, pipe tables, bold,
    italics, code spans."""
    out, para, lines = [], [], text.splitlines()
    i = 0

    def flush() -> None:
        if para:
            out.append(f"<p>{_inline(' '.join(para))}</p>")
            para.clear()

    while i < len(lines):
        line = lines[i]
        if line.startswith("#"):
            flush()
            level = len(line) - len(line.lstrip("#"))
            out.append(f"<h{level}>{_inline(line[level:].strip())}</h{level}>")
        elif (
            line.startswith("|")
            and i + 1 < len(lines)
            and re.match(r"^\|[:\-|]+\|$", lines[i + 1].strip())
        ):
            flush()
            head = re.split(r"(?<!\\)\|", line.strip())[1:-1]
            out.append(
                "<table><thead><tr>"
                + "".join(f"<th>{_inline(c.strip())}</th>" for c in head)
                + "</tr></thead><tbody>"
            )
            i += 2
            while i < len(lines) and lines[i].startswith("|"):
                row = re.split(r"(?<!\\)\|", lines[i].strip())[1:-1]
                out.append(
                    "<tr>" + "".join(f"<td>{_inline(c.strip())}</td>" for c in row) + "</tr>"
                )
                i += 1
            out.append("</tbody></table>")
            continue
        elif not line.strip():
            flush()
        else:
            para.append(line.strip())
        i += 1
    flush()
    return "\n".join(out)


def _figure(block: Block, info: dict[str, Any]):
    from optical.results.frames import seed_stats
    from optical.viz.question_figures import score_bars

    primary, results = info["primary"], info["results"]
    if primary is None:
        return None
    part = results[results["measure"] == primary]
    if part.empty:
        return None
    stats = seed_stats(part, ["system", "language"])
    return score_bars(
        stats,
        display_label(primary),
        title=f"{question_title(block.group)} · {block.family}: {display_label(primary)} per language",
    )


def render_html(
    markdown: str, figures: Sequence[tuple[Block, dict[str, Any]]], plotlyjs: str = "inline"
) -> str:
    """A standalone HTML page: the markdown, with each block's figure after its section."""
    import plotly
    from plotly.offline import get_plotlyjs

    if plotlyjs not in {"inline", "cdn"}:
        raise ValueError(f"plotlyjs must be 'inline' or 'cdn', got {plotlyjs!r}")
    script = (
        f"<script>{get_plotlyjs()}</script>"
        if plotlyjs == "inline"
        else f'<script src="https://cdn.plot.ly/plotly-{plotly.__version__}.min.js"></script>'
    )
    sections = re.split(r"(?m)^(?=### )", markdown)
    parts = [markdown_to_html(sections[0])]
    for section, (block, info) in zip(sections[1:], figures, strict=False):
        parts.append(markdown_to_html(section))
        fig = _figure(block, info)
        if fig is not None:
            parts.append(fig.to_html(full_html=False, include_plotlyjs=False))
    style = (
        "body{font-family:system-ui,sans-serif;max-width:1200px;margin:2em auto;padding:0 1em}"
        "table{border-collapse:collapse;margin:1em 0;font-size:13px}td,th{border:1px solid #ccc;"
        "padding:3px 7px;text-align:right}td:first-child,th:first-child{text-align:left}"
    )
    return (
        f"<!DOCTYPE html><html><head><meta charset='utf-8'><title>optical report</title><style>{style}</style>"
        f"{script}</head><body>\n" + "\n".join(parts) + "\n</body></html>\n"
    )


def write_report(
    store: ResultsStore | None = None,
    out: str | Path = "docs/report.md",
    html_out: str | Path | None = "docs/report.html",
    groups: Sequence[str] | None = None,
    split: str = "test",
    plotlyjs: str = "inline",
) -> dict[str, Any]:
    """Render the report; write the markdown (and HTML); return paths and block count."""
    from optical.paths import atomic_write_text

    store = store or ResultsStore()
    if not store.path.is_file():
        raise FileNotFoundError(
            f"no results store at {store.path}: run a sweep, a notebook or `optical bench` first"
        )
    _check_selection(store, groups, split)
    markdown, figures = render_markdown(store, groups, split)
    Path(out).parent.mkdir(parents=True, exist_ok=True)
    atomic_write_text(out, markdown)
    written = {"markdown": str(out), "blocks": len(figures)}
    if html_out is not None:
        Path(html_out).parent.mkdir(parents=True, exist_ok=True)
        atomic_write_text(html_out, render_html(markdown, figures, plotlyjs))
        written["html"] = str(html_out)
    return written


def _check_selection(store: ResultsStore, groups: Sequence[str] | None, split: str) -> None:
    """Refuse a split or group the store has no rows of (the report would be empty)."""
    rows = store.rows()
    splits = sorted({r["split"] for r in rows})
    if split not in splits:
        raise ValueError(f"split {split!r}: the store {store.path} has rows of {', '.join(splits) or 'no split'}")
    if groups is not None:
        present = {r.get("group") or "" for r in rows if r["split"] == split}
        unknown = [g for g in groups if g not in present]
        if unknown:
            shown = ", ".join(sorted(g or "(no group)" for g in present))
            raise ValueError(f"unknown group(s) {', '.join(unknown)} in the {split} rows of {store.path}; "
                             f"groups: {shown}")
