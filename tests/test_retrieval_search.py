"""Retriever: rankings against brute force, ties, modes, explanations, bad input (tiny model)."""

from __future__ import annotations

import faiss
import numpy as np
import pytest

import optical.retrieval.search as search_mod
from optical.data.trec import rank_for_trec
from optical.data.types import Document
from optical.encoders import Encoder
from optical.retrieval import (
    DenseIndex,
    Retriever,
    TokenStore,
    UnknownDocumentError,
    model_fingerprint,
)

WORDS = "god loved the world so much mungu aliupenda ulimwengu sana light water earth heaven maji nuru".split()
QUERIES = {
    "q1": "god loved the world",
    "q2": "maji na nuru",
    "q3": "heaven and earth",
    "q4": "mungu aliupenda ulimwengu sana",
    "q5": "light",
}


def make_corpus(n: int = 30, seed: int = 0) -> dict[str, Document]:
    rng = np.random.default_rng(seed)
    return {
        f"d{i:02d}": Document(f"d{i:02d}", " ".join(rng.choice(WORDS, int(rng.integers(1, 14)))))
        for i in range(n)
    }


@pytest.fixture(scope="module")
def encoder(tiny_model_dir) -> Encoder:
    return Encoder(str(tiny_model_dir))


@pytest.fixture(scope="module")
def corpus() -> dict[str, Document]:
    return make_corpus(30)


@pytest.fixture(scope="module")
def index(encoder, corpus) -> DenseIndex:
    return DenseIndex.build(encoder, corpus, with_tokens=True, batch_size=8, progress=False)


@pytest.fixture(scope="module")
def retriever(encoder, index) -> Retriever:
    return Retriever(encoder, encoder, index)


def _assert_matches_reference(run, reference: dict[str, dict[str, float]], k: int):
    """Same ranking as a brute-force score table: rank r holds a doc whose reference score is
    the r-th best (robust to float noise between near-equal scores)."""
    for qid, docs in run.items():
        ref = reference[qid]
        best = sorted(ref.values(), reverse=True)[:k]
        assert len(docs) == len(best)
        got = [ref[d] for d in docs]
        np.testing.assert_allclose(got, best, rtol=1e-5, atol=1e-5)
        # the scores in the run are the reference scores (up to float32 rounding)
        np.testing.assert_allclose(list(docs.values()), got, rtol=1e-5, atol=1e-5)


def test_pooled_equals_brute_force_numpy(encoder, corpus, retriever):
    texts = [d.full_text() for d in corpus.values()]
    d = encoder.encode(texts, False)
    q = encoder.encode(list(QUERIES.values()), True)
    scores = q @ d.T
    reference = {
        qid: dict(zip(corpus, row.tolist(), strict=True))
        for qid, row in zip(QUERIES, scores, strict=True)
    }
    run = retriever.search(QUERIES, k=7, mode="pooled")
    assert list(run) == list(QUERIES)
    _assert_matches_reference(run, reference, 7)


def test_maxsim_exact_equals_brute_force_and_rerank(encoder, corpus, retriever):
    texts = [d.full_text() for d in corpus.values()]
    d_tok = encoder.encode_tokens(texts, False)
    q_tok = encoder.encode_tokens(list(QUERIES.values()), True)
    reference = {
        qid: {did: float((qt @ dt.T).max(1).sum()) for did, dt in zip(corpus, d_tok, strict=True)}
        for qid, qt in zip(QUERIES, q_tok, strict=True)
    }
    exact = retriever.search(QUERIES, k=10, mode="maxsim", exact=True)
    auto = retriever.search(QUERIES, k=10, mode="maxsim")  # 30 docs <= 10k: exact
    rerank = retriever.search(QUERIES, k=10, mode="maxsim", exact=False, rerank_depth=30)
    assert exact == auto
    # the rerank path scores the same pairs in other batch shapes: the very same scores
    # (exact arithmetic, see optical.retrieval.scoring)
    assert rerank == exact
    # token vectors are stored in float16: compare with a matching tolerance
    for qid, docs in exact.items():
        ref = reference[qid]
        best = sorted(ref.values(), reverse=True)[:10]
        np.testing.assert_allclose([ref[d] for d in docs], best, atol=2e-2)
        np.testing.assert_allclose(list(docs.values()), [ref[d] for d in docs], atol=2e-2)


def test_rerank_only_reorders_pooled_candidates(retriever):
    pooled = retriever.search(QUERIES, k=5, mode="pooled")
    for mode in ("maxsim", "ot"):
        run = retriever.search(QUERIES, k=5, mode=mode, exact=False, rerank_depth=5)
        for qid in QUERIES:
            assert set(run[qid]) == set(pooled[qid])


@pytest.mark.parametrize("mode", ["pooled", "maxsim", "ot"])
def test_scores_strictly_decreasing(retriever, mode):
    run = retriever.search(QUERIES, k=30, mode=mode)
    for docs in run.values():
        values = np.array(list(docs.values()))
        assert len(values) == 30
        assert np.all(np.diff(values) < 0)
        assert np.all(np.diff(values.astype(np.float32)) < 0)
        # the order is the one trec_eval / write_run use
        assert [d for d, _ in rank_for_trec(docs)] == list(docs)


def test_k_larger_than_corpus_and_empty_query_set(retriever):
    run = retriever.search({"q": "water"}, k=1000, mode="ot")
    assert len(run["q"]) == 30
    assert retriever.search({}, k=5) == {}


def _tie_index(encoder, order: list[int]) -> tuple[DenseIndex, list[str]]:
    """40 docs; 15 of them share the query's own vectors (an exact tie at the top)."""
    q = encoder.encode(["water"], True)[0]
    q_tok = encoder.encode_tokens(["water"], True)[0]
    rng = np.random.default_rng(0)
    tied = {3, 5, 7, 11, 13, 17, 19, 20, 22, 25, 28, 31, 33, 36, 39}
    ids = [f"doc{i:02d}" for i in range(40)]
    vecs, toks = [], []
    for i in range(40):
        if i in tied:
            vecs.append(q)
            toks.append(q_tok)
        else:
            v = rng.standard_normal(32).astype(np.float32)
            vecs.append(v / np.linalg.norm(v) * 0.5)
            t = rng.standard_normal((3, 32)).astype(np.float32)
            toks.append(t / np.linalg.norm(t, axis=1, keepdims=True) * 0.5)
    vecs = np.stack(vecs)[order]
    toks = [toks[i] for i in order]
    ids = [ids[i] for i in order]
    flat = faiss.IndexFlatIP(32)
    flat.add(vecs)
    offsets = np.concatenate([[0], np.cumsum([len(t) for t in toks])])
    store = TokenStore(np.concatenate(toks).astype(np.float16), offsets)
    meta = {"model": "tiny", "fingerprint": model_fingerprint(encoder), "kind": "flat"}
    tied_ids = sorted((f"doc{i:02d}" for i in tied), reverse=True)
    return DenseIndex(flat, ids, meta, store, ["water"] * 40), tied_ids


@pytest.mark.parametrize("mode", ["pooled", "maxsim"])
def test_ties_are_broken_by_doc_id_descending_whatever_the_index_order(encoder, mode):
    natural, tied_ids = _tie_index(encoder, list(range(40)))
    shuffled, _ = _tie_index(encoder, list(np.random.default_rng(5).permutation(40)))
    runs = []
    for index in (natural, shuffled):
        r = Retriever(encoder, encoder, index)
        for k in (2, 15, 20):  # cut inside the tie (beyond the first FAISS fetch), at, after
            run = r.search({"q": "water"}, k=k, mode=mode, exact=mode == "maxsim")
            docs = list(run["q"])
            assert docs[: min(k, 15)] == tied_ids[: min(k, 15)]
            assert np.all(np.diff(list(run["q"].values())) < 0)
            runs.append(run)
    assert runs[:3] == runs[3:]  # identical rankings and scores


def test_search_one_hits_and_timings(retriever, index):
    result = retriever.search_one("god loved the world", k=3, mode="maxsim")
    assert [h.rank for h in result.hits] == [1, 2, 3]
    run = retriever.search({"x": "god loved the world"}, k=3, mode="maxsim")
    assert [(h.doc_id, h.score) for h in result.hits] == list(run["x"].items())
    assert result.hits[0].text == index.text(index.position(result.hits[0].doc_id))
    assert set(result.timings) == {"encode", "search", "rerank", "total"}
    assert result.timings["total"] >= result.timings["encode"] > 0


# --------------------------------------------------------------------------- explain


def test_explain_shapes_values_and_uniform_marginals(encoder, retriever, index):
    query = "god loved the world"
    pooled = retriever.search({"q": query}, k=30, mode="pooled")["q"]
    maxsim = retriever.search({"q": query}, k=30, mode="maxsim")["q"]
    ot = retriever.search({"q": query}, k=30, mode="ot")["q"]
    ex = retriever.explain(query, "d04")
    n, m = len(ex.query_tokens), len(ex.doc_tokens)
    assert ex.query_tokens == ["▁god", "▁loved", "▁the", "▁world"]
    assert ex.doc_text == index.text(4) and ex.doc_id == "d04"
    assert ex.similarity.shape == ex.ot_plan.shape == (n, m)
    assert ex.maxsim_index.shape == ex.maxsim_values.shape == (n,)
    q_tok = encoder.encode_tokens([query], True)[0]
    d_tok = encoder.encode_tokens([ex.doc_text], False)[0]
    np.testing.assert_allclose(ex.similarity, q_tok @ d_tok.T, atol=1e-5)
    np.testing.assert_array_equal(ex.maxsim_index, ex.similarity.argmax(1))
    np.testing.assert_allclose(ex.maxsim_values, ex.similarity.max(1), atol=1e-7)
    # uniform marginals: rows 1/n, columns 1/m
    np.testing.assert_allclose(ex.ot_plan.sum(1), np.full(n, 1 / n), atol=1e-4)
    np.testing.assert_allclose(ex.ot_plan.sum(0), np.full(m, 1 / m), atol=1e-5)
    assert ex.ot_marginal_error < 1e-3
    assert ex.ot_cost == pytest.approx(float((ex.ot_plan * (1 - ex.similarity)).sum()), abs=1e-5)
    # the same numbers the search modes rank by (token store is float16)
    assert ex.pooled_cosine == pytest.approx(pooled["d04"], abs=1e-5)
    assert ex.maxsim_score == pytest.approx(maxsim["d04"], abs=1e-2)
    assert -ex.ot_cost == pytest.approx(ot["d04"], abs=1e-2)
    assert [q for q, _, _ in ex.matches()] == ex.query_tokens


def test_explain_raw_text_and_errors(retriever):
    ex = retriever.explain("water", doc_text="maji na nuru water")
    assert ex.doc_id is None and ex.doc_tokens[-1] == "▁water"
    j = int(ex.similarity[0].argmax())
    assert ex.matches() == [("▁water", ex.doc_tokens[j], pytest.approx(ex.similarity[0, j]))]
    with pytest.raises(UnknownDocumentError, match="unknown document id 'nope'.*'d00'"):
        retriever.explain("water", "nope")
    with pytest.raises(ValueError, match="exactly one"):
        retriever.explain("water")
    with pytest.raises(ValueError, match="exactly one"):
        retriever.explain("water", "d01", doc_text="x")
    with pytest.raises(ValueError, match="empty query"):
        retriever.explain("  ", "d01")


# --------------------------------------------------------------------------- bad input


@pytest.mark.parametrize("bad", ["", " ", "\n\t  "])
def test_empty_queries_raise(retriever, bad):
    with pytest.raises(ValueError, match="empty query"):
        retriever.search_one(bad)
    with pytest.raises(ValueError, match=r"empty query \(query id 'b'\)"):
        retriever.search({"a": "water", "b": bad})


def test_bad_arguments(encoder, corpus, retriever):
    with pytest.raises(ValueError, match="unknown mode"):
        retriever.search(QUERIES, mode="bm25")
    with pytest.raises(ValueError, match="k must be"):
        retriever.search(QUERIES, k=0)
    with pytest.raises(ValueError, match="only available for mode='maxsim'"):
        retriever.search(QUERIES, mode="ot", exact=True)
    with pytest.raises(TypeError, match="must be a string"):
        retriever.search({"a": None})
    no_tokens = Retriever(encoder, encoder, DenseIndex.build(encoder, corpus, progress=False))
    with pytest.raises(ValueError, match="with_tokens=True"):
        no_tokens.search(QUERIES, mode="maxsim")


def test_long_query_is_truncated_to_the_token_limit(encoder, retriever):
    long_query = " ".join(["god loved the world"] * 2500)  # 10,000+ characters
    assert len(long_query) >= 10_000
    ex = retriever.explain(long_query, "d00")
    assert 0 < len(ex.query_tokens) <= encoder.max_length - 2  # <s> and </s> kept
    # anything beyond the limit is ignored: same ranking as a shorter text cut past the limit
    for mode in ("pooled", "maxsim", "ot"):
        long_run = retriever.search({"q": long_query}, k=10, mode=mode)
        cut_run = retriever.search({"q": long_query[:2000]}, k=10, mode=mode)
        assert long_run == cut_run and len(long_run["q"]) == 10


@pytest.mark.parametrize(
    "query",
    ["😀🙏 water", "مرحبا بالعالم", "עולם god שלום", "mungu 世界 нуру ✝️ λόγος", "🙏"],
)
def test_emoji_rtl_and_mixed_scripts(retriever, query):
    for mode in ("pooled", "maxsim", "ot"):
        run = retriever.search({"q": query}, k=5, mode=mode)
        assert len(run["q"]) == 5 and np.all(np.diff(list(run["q"].values())) < 0)
    ex = retriever.explain(query, "d02")
    assert len(ex.query_tokens) > 0 and ex.similarity.shape[0] == len(ex.query_tokens)
    assert np.isfinite(ex.similarity).all() and np.isfinite(ex.ot_cost)


def test_query_without_content_tokens_falls_back_to_pooled(retriever, monkeypatch):
    real = search_mod.encode_texts

    def no_tokens_for_b(encoder, texts, *args, **kwargs):
        pooled, tokens = real(encoder, texts, *args, **kwargs)
        if tokens:
            tokens = [
                t[:0] if text == "maji na nuru" else t
                for t, text in zip(tokens, texts, strict=True)
            ]
        return pooled, tokens

    monkeypatch.setattr(search_mod, "encode_texts", no_tokens_for_b)
    pooled = retriever.search(QUERIES, k=5, mode="pooled")
    for mode in ("maxsim", "ot"):
        run = retriever.search(QUERIES, k=5, mode=mode)
        # q2 is searched by FAISS in another query batch than in pooled mode: same ranking,
        # same scores up to FAISS's float32 arithmetic (which may depend on the batch)
        assert list(run["q2"]) == list(pooled["q2"])
        np.testing.assert_allclose(list(run["q2"].values()), list(pooled["q2"].values()), rtol=1e-6)
        assert run["q1"] != pooled["q1"]
