"""The whole report: its blocks rendered into one markdown document (and the HTML page),
or every block's tables as LaTeX; written to files by :func:`write_report`."""

from __future__ import annotations

import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from optical.evaluation.comparison import Table, latex_escape
from optical.report.blocks import Block, question_title, report_blocks
from optical.report.html_page import render_html
from optical.report.mode_overview import mode_overview
from optical.report.sections import BlockContent, block_latex, block_tables, render_block
from optical.results import ResultsStore
from optical.results.frames import older_trainings

__all__ = ["render_latex", "render_markdown", "write_report"]

Contents = list[tuple[Block, BlockContent]]


def _contents(
    store: ResultsStore, groups: Sequence[str] | None, split: str, blocks: Sequence[Block] | None
) -> Contents:
    blocks = list(blocks) if blocks is not None else report_blocks(store, groups, split)
    return [(block, block_tables(block)) for block in blocks]


def _markdown(store: ResultsStore, split: str, contents: Contents) -> tuple[str, list[tuple[Block, dict[str, Any]]]]:
    rows = store.rows()
    n_older = len(older_trainings(rows))
    left_out = f", {n_older} of them from older trainings of retrained runs, left out" if n_older else ""
    head = [
        "# optical — results report",
        "",
        f"Generated {time.strftime('%Y-%m-%d %H:%M')} by `optical report` from `{store.path}` "
        f"({len(rows)} rows{left_out}; split `{split}`). Each section is one sweep group (research question); "
        "rerun the notebooks or `optical sweep --spec configs/sweeps/<question>.toml` to reproduce it.",
        "",
    ]
    if not contents:
        return "\n".join(head + ["No results in this split yet."]) + "\n", []
    body, figures = [], []
    current, task = None, None
    for block, content in contents:
        if block.group != current:
            current = block.group
            body += [
                f"## {question_title(block.group)}",
                "",
                f"Group `{block.group or '(none)'}`.",
                "",
            ]
        if (block.group, block.family) != task:
            task = (block.group, block.family)
            body += _overview(block, contents)
        text, fig = render_block(block, content)
        body += [text]
        figures.append((block, fig))
    return "\n".join(head + body).rstrip() + "\n", figures


def _overview_table(first: Block, contents: Contents) -> tuple[str, Table] | None:
    """The title and systems x modes table of ``first``'s group and task
    (:func:`mode_overview`), when its rows were scored in several modes."""
    rows = [r for b, _ in contents if (b.group, b.family) == (first.group, first.family) for r in b.rows]
    table = mode_overview(rows, first.family, first.split)
    if table is None:
        return None
    return f"{first.family} ({first.split}): all scoring modes at a glance", table


def _overview(first: Block, contents: Contents) -> list[str]:
    found = _overview_table(first, contents)
    return [] if found is None else [f"### {found[0]}", "", found[1].to_markdown()]


def _overview_latex(first: Block, contents: Contents) -> list[str]:
    found = _overview_table(first, contents)
    if found is None:
        return []
    return [r"\subsection*{" + latex_escape(found[0]) + "}", "", found[1].to_latex(found[0])]


def render_markdown(
    store: ResultsStore,
    groups: Sequence[str] | None = None,
    split: str = "test",
    blocks: Sequence[Block] | None = None,
) -> tuple[str, list[tuple[Block, dict[str, Any]]]]:
    """The report's markdown and, per block, what its figure needs."""
    return _markdown(store, split, _contents(store, groups, split, blocks))


def _latex(store: ResultsStore, split: str, contents: Contents) -> str:
    out = [
        "% optical results report: every block's tables "
        f"(from {store.path}, split {split}; generated {time.strftime('%Y-%m-%d %H:%M')} by `optical report`).",
        "% Needs \\usepackage{booktabs} and UTF-8 input.",
        "",
    ]
    if not contents:
        return "\n".join(out + ["% No results in this split yet."]) + "\n"
    current, task = None, None
    for block, content in contents:
        if block.group != current:
            current = block.group
            out += [
                r"\section*{" + latex_escape(question_title(block.group)) + "}",
                "",
                r"Group \texttt{" + latex_escape(block.group or "(none)") + "}.",
                "",
            ]
        if (block.group, block.family) != task:
            task = (block.group, block.family)
            out += _overview_latex(block, contents)
        out.append(block_latex(block, content=content))
    return "\n".join(out).rstrip() + "\n"


def render_latex(
    store: ResultsStore,
    groups: Sequence[str] | None = None,
    split: str = "test",
    blocks: Sequence[Block] | None = None,
) -> str:
    """Every block's tables as booktabs LaTeX (``\\section*`` per group, ``\\subsection*`` per
    block, legends as captions)."""
    return _latex(store, split, _contents(store, groups, split, blocks))


def write_report(
    store: ResultsStore | None = None,
    out: str | Path = "docs/report.md",
    html_out: str | Path | None = "docs/report.html",
    groups: Sequence[str] | None = None,
    split: str = "test",
    plotlyjs: str = "inline",
    latex_out: str | Path | None = None,
) -> dict[str, Any]:
    """Render the report; write the markdown (and HTML, and LaTeX tables); return the paths
    written and the block count."""
    from optical.paths import atomic_write_text

    store = store or ResultsStore()
    if not store.path.is_file():
        raise FileNotFoundError(
            f"no results store at {store.path}: run a sweep, a notebook or `optical bench` first"
        )
    _check_selection(store, groups, split)
    contents = _contents(store, groups, split, None)
    markdown, figures = _markdown(store, split, contents)
    Path(out).parent.mkdir(parents=True, exist_ok=True)
    atomic_write_text(out, markdown)
    written = {"markdown": str(out), "blocks": len(figures)}
    if html_out is not None:
        Path(html_out).parent.mkdir(parents=True, exist_ok=True)
        atomic_write_text(html_out, render_html(markdown, figures, plotlyjs))
        written["html"] = str(html_out)
    if latex_out is not None:
        Path(latex_out).parent.mkdir(parents=True, exist_ok=True)
        atomic_write_text(latex_out, _latex(store, split, contents))
        written["latex"] = str(latex_out)
    return written


def _check_selection(store: ResultsStore, groups: Sequence[str] | None, split: str) -> None:
    """Refuse a split or group the store has no rows of (the report would be empty)."""
    rows = store.rows()
    splits = sorted({r.split for r in rows})
    if split not in splits:
        raise ValueError(f"split {split!r}: the store {store.path} has rows of {', '.join(splits) or 'no split'}")
    if groups is not None:
        present = {r.group for r in rows if r.split == split}
        unknown = [g for g in groups if g not in present]
        if unknown:
            shown = ", ".join(sorted(g or "(no group)" for g in present))
            raise ValueError(f"unknown group(s) {', '.join(unknown)} in the {split} rows of {store.path}; "
                             f"groups: {shown}")
