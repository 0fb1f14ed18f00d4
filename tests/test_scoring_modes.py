"""Rows of one system scored in two modes are two results: never averaged together."""

from __future__ import annotations

import pytest

from optical.app.results_view import load_results
from optical.report import bench_table, report_blocks
from optical.results.frames import per_query_frame, results_frame
from optical.results.row import make_row
from optical.results.store import ResultsStore
from optical.systems import System

ZERO = System("zero-shot", "m", "m", "zero-shot")
OTHER = System("other", "o", "o", "model")


def _store(tmp_path):
    store = ResultsStore(tmp_path / "r.jsonl")
    for system, pooled, maxsim in ((ZERO, 0.2, 0.9), (OTHER, 0.4, 0.5)):
        for mode, value in (("pooled", pooled), ("maxsim", maxsim)):
            per_query = {"AP": {f"q{i}": value for i in range(6)}}
            store.append(make_row(system, "bible:sw", "test", {"AP": value}, settings={"mode": mode, "k": 10},
                                  per_query=per_query, context={"group": "g"}))
    return store


def test_frames_carry_the_mode(tmp_path):
    store = _store(tmp_path)
    assert sorted(set(results_frame(store)["mode"])) == ["maxsim", "pooled"]
    assert sorted(set(per_query_frame(store)["mode"])) == ["maxsim", "pooled"]


def test_a_table_over_two_modes_is_refused_and_one_mode_is_shown(tmp_path):
    rows = _store(tmp_path).rows()
    with pytest.raises(ValueError, match="several modes \\(maxsim, pooled\\)"):
        bench_table(rows, measures=["AP"], dataset_family=None)
    pooled = bench_table(rows, measures=["AP"], dataset_family=None, mode="pooled")
    maxsim = bench_table(rows, measures=["AP"], dataset_family=None, mode="maxsim")
    assert "| zero-shot | 0.200 |" in pooled and "| other | **0.400**" in pooled
    assert "| zero-shot | **0.900** |" in maxsim and "0.550" not in maxsim  # not the mean of the two modes


def test_the_report_has_one_block_per_mode(tmp_path):
    blocks = report_blocks(_store(tmp_path))
    assert [(b.mode, b.title) for b in blocks] == [("pooled", "bible (test)"), ("maxsim", "bible (test, maxsim scoring)")]
    assert all({r.mode for r in b.rows} == {b.mode} for b in blocks)


def test_the_app_shows_one_mode_at_a_time(tmp_path):
    data = load_results(_store(tmp_path).path)
    assert data.modes() == ["pooled", "maxsim"]
    only = data.in_mode("maxsim")
    assert set(only.summary["mode"]) == {"maxsim"} and set(only.per_query["mode"]) == {"maxsim"}
    assert only.summary.set_index("system").loc["zero-shot", "value"] == pytest.approx(0.9)
