"""The BM25 baseline: a lexical ranking of the corpus, with queries as given or translated."""

from __future__ import annotations

import pytest

from optical.data.types import Document
from optical.evaluation import evaluate
from optical.results.collect import bench, evaluate_system, load_collection_checked
from optical.results.store import ResultsStore
from optical.retrieval.lexical import BM25Index
from optical.systems import parse_system
from tests.train_fixtures import write_tiny_beir

CORPUS = {
    "a": Document("a", "the water of life flows"),
    "b": Document("b", "light of the world", title="Light"),
    "c": Document("c", "in the beginning was the word"),
    "d": Document("d", "water and light and water"),
}


def test_bm25_ranks_by_shared_words_and_retrieves_nothing_without_one():
    run = BM25Index(CORPUS).search({"q1": "water", "q2": "light world", "q3": "maji", "q4": "the of"}, k=10)
    assert list(run["q1"]) == ["d", "a"]  # "water" twice in a shorter text first; b, c share no word
    assert next(iter(run["q2"])) == "b" and set(run["q2"]) == {"b", "d"}
    assert run["q3"] == {} and run["q4"] == {}  # an unknown word; stop words only
    assert all(s > 0 for docs in run.values() for s in docs.values())
    assert len(BM25Index(CORPUS).search({"q": "water light"}, k=1)["q"]) == 1
    with pytest.raises(ValueError, match="corpus is empty"):
        BM25Index({})


def test_bm25_systems_parse():
    plain = parse_system("bm25")
    assert (plain.name, plain.kind, plain.translator) == ("bm25", "bm25", None)
    with pytest.raises(ValueError, match="expected bm25 or bm25\\+translate"):
        parse_system("bm25+nonsense")


def test_bench_scores_bm25_as_the_index_ranks_and_refuses_token_modes(tmp_path):
    data = write_tiny_beir(tmp_path / "tiny")
    store = ResultsStore(tmp_path / "r.jsonl")
    with pytest.raises(ValueError, match="no token vectors to score in mode 'maxsim'"):
        bench(["bm25"], [str(data)], store=store, mode="maxsim", progress=None)
    assert not store.path.exists()  # refused before anything ran
    row = evaluate_system(parse_system("bm25"), str(data), "test", k=10, progress=False)
    col = load_collection_checked(str(data), "test")
    direct = {q: d for q, d in BM25Index(col.corpus).search(col.queries, 10).items() if d}
    assert row.kind == "bm25" and row.metrics == pytest.approx(dict(evaluate(direct, col.qrels, list(row.metrics))))


def test_bm25_over_translated_queries(tmp_path, tiny_model_dir, monkeypatch):
    from optical.translation import Translator, translate_queries
    from tests.test_translate_test import _marian

    mt = _marian(tmp_path, tiny_model_dir, "water")
    system = parse_system(f"bm25+translate:{mt}")
    assert (system.kind, system.translator, system.name) == ("bm25", str(mt), f"bm25+translate:{mt.name}")
    translator = Translator(str(mt), "cpu", max_new_tokens=2)
    monkeypatch.setattr("optical.translation.load_translator", lambda spec, device=None: translator)
    corpus = {"w": Document("w", "water water"), "x": Document("x", "stone")}
    data = tmp_path / "beir"
    from optical.data.beir import write_beir
    from optical.data.types import RetrievalCollection

    write_beir(RetrievalCollection(corpus, {"q": "maji"}, {"q": {"w": 1}}), data, split="test")
    row = evaluate_system(system, str(data), "test", k=10, progress=False)
    translated = translate_queries(translator, {"q": "maji"})
    assert "water" in translated["q"] and row.metrics["R@1"] == 1.0 and "translate_s" in row.timings


def test_two_corpora_of_one_name_and_size_get_two_indexes():
    from optical.retrieval.lexical import bm25_index

    other = {k: Document(k, "stone " + d.text.replace("water", "sand")) for k, d in CORPUS.items()}
    assert bm25_index(CORPUS, "sw") is bm25_index(dict(CORPUS), "sw")
    assert bm25_index(other, "sw") is not bm25_index(CORPUS, "sw")
    assert bm25_index(other, "sw").search({"q": "water"}, 5)["q"] == {}


def test_reciprocal_rank_fusion():
    from optical.retrieval.fusion import reciprocal_rank_fusion

    a = {"q": {"x": 3.0, "y": 2.0, "z": 1.0}}
    b = {"q": {"y": 0.9, "w": 0.8}, "r": {"x": 1.0}}
    fused = reciprocal_rank_fusion([a, b], k=3)
    assert list(fused["q"]) == ["y", "x", "w"]  # y: 1/62 + 1/61 beats x: 1/61
    assert fused["q"]["y"] == pytest.approx(1 / 62 + 1 / 61) and fused["r"] == {"x": pytest.approx(1 / 61)}
    with pytest.raises(ValueError, match="k must be"):
        reciprocal_rank_fusion([a], k=0)


def test_rrf_system_fuses_bm25_and_a_dense_system(tmp_path, tiny_model_dir):
    from optical.results.collect import system_run
    from optical.retrieval.fusion import reciprocal_rank_fusion

    system = parse_system(f"rrf:bm25|{tiny_model_dir}")
    assert system.kind == "rrf" and [p.kind for p in system.parts] == ["bm25", "model"]
    assert system.name == f"rrf(bm25, {tiny_model_dir.name})"
    assert system.identity()["parts"][0]["kind"] == "bm25"
    data = write_tiny_beir(tmp_path / "tiny")
    col = load_collection_checked(str(data), "test")
    fused, _ = system_run(system, str(data), col, 10, "maxsim")  # the BM25 part ranks lexically
    lexical, _ = system_run(system.parts[0], str(data), col, 10, "pooled")
    dense, _ = system_run(system.parts[1], str(data), col, 10, "maxsim")
    assert fused == reciprocal_rank_fusion([lexical, dense], 10)
    row = evaluate_system(system, str(data), "test", k=10, progress=False)
    assert row.kind == "rrf" and row.mode == "pooled" and "index_s" in row.timings
    with pytest.raises(ValueError, match="at least two systems"):
        parse_system("rrf:bm25")
