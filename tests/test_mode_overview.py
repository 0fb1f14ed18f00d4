"""The report's at-a-glance table: systems x scoring modes on the task's primary measure, each
low-resource language's gap to the teacher ceiling in the same mode, and the high−low gap.
Small synthetic stores (tests/test_table_captions.py), hand-computed numbers."""

from __future__ import annotations

from optical.report import render_markdown
from optical.report.mode_overview import mode_overview
from optical.results.store import ResultsStore
from tests.test_table_captions import BIBLE, BIBLE_MEASURES, XREF, XREF_MEASURES, _rows


def _lines(table) -> list[str]:
    return table.markdown_body().splitlines()


def test_xref_overview_rows_gaps_and_high_low():
    table = mode_overview(_rows("bible-xref", XREF, XREF_MEASURES), "bible-xref")
    lines = _lines(table)
    assert lines[0] == "| system | mode | sw | en | en-web | sw gap | high−low | seeds |"
    # MAP (en ties: both bold); gap = sw minus zero-shot en-web in the same mode; high−low = en minus sw (en-web left out)
    assert lines[2:] == [
        "| zero-shot | pooled | 0.250 | **0.500** | **0.750** | -0.500 | +0.250 | – |",
        "| optical-sw | pooled | **0.500** | **0.500** | 0.625 | -0.250 | +0.000 | – |",
        "| zero-shot | MaxSim | 0.200 | **0.400** | **0.600** | -0.400 | +0.200 | – |",
        "| optical-sw | MaxSim | **0.400** | **0.400** | 0.500 | -0.200 | +0.000 | – |",
        "| zero-shot | OT-rerank | 0.100 | **0.200** | **0.300** | -0.200 | +0.100 | – |",
        "| optical-sw | OT-rerank | **0.200** | **0.200** | 0.250 | -0.100 | +0.000 | – |",
    ]
    notes = " ".join(table.notes)
    assert "cross-reference retrieval (bible-xref), MAP" in notes
    assert "zero-shot with WEB queries, en-web" in notes and "(en-web left out)" in notes


def test_aligned_verse_overview_measures_against_kjv_queries():
    rows = _rows("bible", BIBLE, BIBLE_MEASURES) + _rows("bible-xref", XREF, XREF_MEASURES)
    table = mode_overview(rows, "bible")  # the other task's rows are not mixed in
    lines = _lines(table)
    assert lines[0] == "| system | mode | sw | de | sw gap | high−low | seeds |"
    # R@1 (rel=2), pooled: zero-shot sw 0.5, de 0.75; optical-sw 0.75, 0.5; no en rows: no gap
    assert lines[2] == "| zero-shot | pooled | 0.500 | **0.750** | – | +0.250 | – |"
    assert lines[3] == "| optical-sw | pooled | **0.750** | 0.500 | – | -0.250 | – |"
    assert "zero-shot with KJV queries, en" in " ".join(table.notes)


def test_one_mode_has_no_overview_and_the_report_shows_it_only_with_several(tmp_path):
    assert mode_overview(_rows("bible-xref", XREF, XREF_MEASURES, modes=("pooled",)), "bible-xref") is None
    store = ResultsStore(tmp_path / "r.jsonl")
    store.extend(_rows("bible-xref", XREF, XREF_MEASURES) + _rows("bible", BIBLE, BIBLE_MEASURES, modes=("pooled",)))
    markdown, _ = render_markdown(store)
    assert markdown.count("all scoring modes at a glance") == 1
    assert "### bible-xref (test): all scoring modes at a glance" in markdown
    assert markdown.index("at a glance") < markdown.index("### bible-xref (test, maxsim scoring)")
