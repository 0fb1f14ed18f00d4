"""``optical report``: the results store as a paper-style report (markdown, HTML with figures,
and LaTeX tables).

For every sweep group (one research question each) and dataset family, in the chosen split:

- a one-line summary, numbers only (best system vs zero-shot, significant cells, gap);
- the paper-style table: systems x languages for R@1 and MAP, marked † / ‡ when
  significantly better / worse than ``zero-shot`` (:func:`bench_table`);
- mean ± std over seeds, when any system has several;
- the high–low gap and the spread across languages per system (mean ± std over seeds of
  :func:`~optical.evaluation.tables.resource_gap` and
  :func:`~optical.evaluation.tables.language_spread`);
- the other measures of the group: embedding metrics (RQ2) and threshold F1 (RQ3).

Collections judged with grade 1 only (CLDR) are benched with binary measures (R@1, MRR@10);
rows stored before that carry grade-2 measures (R@1 (rel=2), MRR@10 (rel=2)), which are left
out of such a family's tables, with a note.

Modules: :mod:`.blocks` (rows into blocks, measures per block), :mod:`.paper_table`
(:func:`bench_table`), :mod:`.sections` (a block's summary and tables), :mod:`.html_page`
(markdown to HTML, figures), :mod:`.document` (the whole report, :func:`write_report`).
Every table is an :class:`optical.evaluation.comparison.Comparison` or
:class:`~optical.evaluation.comparison.Table`, rendered as markdown or LaTeX.  The report
reads the evaluation and results layers; they never import it.
"""

from __future__ import annotations

from optical.evaluation.measure_sets import display_label
from optical.report.blocks import LOWER_IS_BETTER, QUESTIONS, Block, question_title, report_blocks
from optical.report.document import render_latex, render_markdown, write_report
from optical.report.html_page import markdown_to_html, render_html
from optical.report.paper_table import FORMATS, PaperTable, bench_table, bench_tables
from optical.report.sections import gap_table, render_block, seeds_table, summary_line

__all__ = [
    "FORMATS",
    "LOWER_IS_BETTER",
    "QUESTIONS",
    "Block",
    "PaperTable",
    "bench_table",
    "bench_tables",
    "display_label",
    "gap_table",
    "markdown_to_html",
    "question_title",
    "render_block",
    "render_html",
    "render_latex",
    "render_markdown",
    "report_blocks",
    "seeds_table",
    "summary_line",
    "write_report",
]
