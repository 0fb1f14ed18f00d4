"""The report as a standalone HTML page: its markdown converted (the subset the report
writes), each block's figure after its section."""

from __future__ import annotations

import html
import re
from collections.abc import Sequence
from typing import Any

from optical.evaluation.measure_sets import display_label
from optical.report.blocks import Block, question_title

__all__ = ["markdown_to_html", "render_html"]

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
