"""A baseline that cannot score one dataset (BM25 with no shared word) is reported, and the
sweep goes on to the next dataset instead of stopping."""

from __future__ import annotations

from optical.data.beir import write_beir
from optical.data.types import Document, RetrievalCollection
from optical.results.store import ResultsStore
from optical.sweeps.runner import load_spec, run_sweep
from tests.test_sweep_modes import _spec


def _no_shared_word(path):
    corpus = {f"d{i}": Document(f"d{i}", f"alpha beta gamma {i}") for i in range(6)}
    queries = {f"q{i}": f"zzyzx{i} qwvx" for i in range(6)}
    for split in ("test", "dev"):
        write_beir(RetrievalCollection(corpus, queries, {f"q{i}": {f"d{i}": 2} for i in range(6)}, name="nsw"),
                   path, split=split)
    return path


def test_a_dataset_bm25_cannot_score_is_reported_and_skipped(tmp_path, tiny_model_dir):
    foreign = _no_shared_word(tmp_path / "nsw")
    spec = load_spec(_spec(tmp_path, "", str(tiny_model_dir), eval_first=(foreign,), zero_shot="bm25"))
    tiny = tmp_path / "tiny"
    store = ResultsStore(tmp_path / "r.jsonl")
    said: list[str] = []
    stats = run_sweep(spec, store, progress=said.append)
    bm25_rows = [r.dataset for r in store.rows() if r.kind == "bm25"]
    assert bm25_rows == [str(tiny)]  # the second dataset still ran
    assert stats["evaluated"] == 1 + 2  # and so did the trained run, on both datasets
    assert stats["not_scored"] == [f"bm25 on {foreign} (pooled)"]
    assert any("not scored" in line and "shares a word" in line for line in said)
