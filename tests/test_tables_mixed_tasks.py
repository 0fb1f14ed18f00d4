"""A table never averages two tasks that share a query language (bible:sw and
bible-xref:sw) as if they were seeds; the bench CLI prints one table per task."""

from __future__ import annotations

import pytest

from optical.cli import main
from optical.report import bench_table, bench_tables
from optical.results.store import ResultsStore
from tests.test_table_captions import BIBLE, BIBLE_MEASURES, XREF, XREF_MEASURES, _rows


@pytest.fixture
def rows():
    return _rows("bible", BIBLE, BIBLE_MEASURES, modes=("pooled",)) + _rows(
        "bible-xref", XREF, XREF_MEASURES, modes=("pooled",))


def test_two_tasks_with_one_query_language_are_refused(rows):
    with pytest.raises(ValueError, match=r"several tasks with the same query language \(bible, bible-xref\)"):
        bench_tables(rows, dataset_family=None, ceiling=None)
    # languages in one task only are not mixed: de is aligned verses only, en-web xref only
    table = bench_tables(rows, dataset_family=None, languages=["de", "en-web"], measures=["AP"], ceiling=None)
    assert table.tables
    # one task chosen: its own numbers (optical-sw sw, bible AP = mean of 1, 1, 0, 1)
    md = bench_table(rows, dataset_family="bible", measures=["AP"], ceiling=None)
    assert "| optical-sw | **0.750** | 0.500 |" in md


def test_bench_cli_prints_a_table_per_task(rows, tmp_path, capsys):
    store = ResultsStore(tmp_path / "r.jsonl")
    store.extend(rows)
    argv = ["bench", "--table-only", "--store", str(store.path), "--systems", "zero-shot", "optical-sw",
            "--datasets", "bible:sw", "bible-xref:sw", "bible-xref:en-web"]
    assert main(argv) == 0
    out = capsys.readouterr().out
    assert "**R@1 (rel=2) — aligned-verse retrieval (bible), pooled scoring**" in out
    assert "**MAP — cross-reference retrieval (bible-xref), pooled scoring**" in out
