"""A sweep's store travels: gzip stores, and a sweep resumed from its store alone."""

from __future__ import annotations

import gzip
import shutil

import pytest

from optical.results.row import make_row
from optical.results.store import ResultsStore
from optical.sweeps.runner import load_spec, run_sweep
from optical.systems import System
from tests.test_sweep_modes import _spec

ZERO = System("zero-shot", "m", "m", "zero-shot")


def _row(dataset: str, value: float):
    return make_row(ZERO, dataset, "test", {"AP": value}, per_query={"AP": {"q1": value}}, n_queries=1)


def test_a_gzip_store_reads_like_a_plain_one_and_stays_a_gzip_file(tmp_path):
    gz, plain = ResultsStore(tmp_path / "r.jsonl.gz"), ResultsStore(tmp_path / "r.jsonl")
    for store in (gz, plain):
        store.extend([_row("a", 0.5), _row("b", 0.25)])
    assert [r.to_dict() | {"created": None} for r in gz.rows()] == [
        r.to_dict() | {"created": None} for r in plain.rows()]
    assert gzip.decompress(gz.path.read_bytes()).decode().count("\n") == 2  # zcat reads it


def test_a_gzip_member_cut_short_is_ignored_then_replaced(tmp_path):
    store = ResultsStore(tmp_path / "r.jsonl.gz")
    store.append(_row("a", 0.5))
    good = store.path.stat().st_size
    store.append(_row("b", 0.25))
    with open(store.path, "r+b") as fh:  # a crash in the middle of the second append
        fh.truncate(good + 10)
    assert [r.dataset for r in store.rows()] == ["a"]
    store.append(_row("c", 0.75))
    assert [r.dataset for r in store.rows()] == ["a", "c"]
    assert gzip.decompress(store.path.read_bytes()).decode().count("\n") == 2


def test_a_gzip_store_with_garbage_is_refused(tmp_path):
    path = tmp_path / "r.jsonl.gz"
    path.write_bytes(b"not gzip at all")
    with pytest.raises(ValueError, match="not a gzip results store"):
        ResultsStore(path).rows()


def test_a_sweep_resumed_from_its_store_alone_does_not_retrain(tmp_path, tiny_model_dir):
    """The run folders (weights, never committed) are gone; the committed store says it is done."""
    spec = load_spec(_spec(tmp_path, 'modes = ["pooled"]', str(tiny_model_dir)))
    store = ResultsStore(tmp_path / "r.jsonl.gz")
    assert run_sweep(spec, store, progress=None)["trained"] == 1
    shutil.rmtree(tmp_path / "runs")
    stats = run_sweep(spec, store, progress=None)
    assert stats["trained"] == 0 and stats["skipped"] == 1 and stats["evaluated"] == 0
    spec.eval.append(spec.eval[0] + "/")  # a dataset the store has no row of: the run is redone
    assert run_sweep(spec, store, progress=None)["trained"] == 1
