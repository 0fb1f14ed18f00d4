"""Scores do not depend on index order, block or batch composition, or thread count.

Bit-for-bit equality is the contract here (see ``optical.retrieval.scoring``): MaxSim and
OT costs are exact float64 arithmetic on float16-rounded vectors, so every comparison
below is ``==``, never a tolerance.
"""

from __future__ import annotations

import faiss
import numpy as np
import pytest
import torch

from optical.encoders import Encoder
from optical.retrieval import DenseIndex, Retriever, TokenStore, model_fingerprint
from optical.retrieval.scoring import maxsim_scores, maxsim_scores_packed, ot_scores

H = 32


def _unit_rows(rng: np.random.Generator, n: int, dim: int = H) -> np.ndarray:
    x = rng.standard_normal((n, dim)).astype(np.float32)
    return x / np.linalg.norm(x, axis=1, keepdims=True)


def _docs(seed: int, n_docs: int, dim: int = H) -> list[np.ndarray]:
    rng = np.random.default_rng(seed)
    return [_unit_rows(rng, int(rng.integers(1, 30)), dim) for _ in range(n_docs)]


def _packed_scores(q: torch.Tensor, docs: list[np.ndarray], order: np.ndarray) -> np.ndarray:
    """Scores of ``docs`` packed in ``order``, returned in the original document order."""
    rows = np.concatenate([docs[i] for i in order])
    doc = np.repeat(np.arange(len(order)), [len(docs[i]) for i in order])
    s = maxsim_scores_packed(q, torch.from_numpy(rows), torch.from_numpy(doc), len(order))
    out = np.empty((q.shape[0], len(order)), np.float32)
    out[:, order] = s.numpy()
    return out


@pytest.mark.parametrize("dim", [32, 768])
@pytest.mark.parametrize("n_q", [1, 5, 17])
def test_packed_maxsim_is_bitwise_independent_of_document_order(dim, n_q):
    docs = _docs(1, 60, dim)
    q = torch.from_numpy(_unit_rows(np.random.default_rng(2), n_q, dim))[None]
    natural = _packed_scores(q, docs, np.arange(60))
    for seed in range(3):
        shuffled = _packed_scores(q, docs, np.random.default_rng(seed).permutation(60))
        assert np.array_equal(natural, shuffled)
    # in a smaller block with other neighbours (the first 7 documents alone)
    alone = _packed_scores(q, docs[:7], np.arange(7))
    assert np.array_equal(alone, natural[:, :7])


def test_maxsim_is_bitwise_independent_of_the_other_queries_and_padding():
    docs = _docs(3, 40)
    rng = np.random.default_rng(4)
    queries = [_unit_rows(rng, n) for n in (3, 11, 1, 6)]
    width = max(len(x) for x in queries) + 2  # extra padding
    q_pad = np.zeros((len(queries), width, H), np.float32)
    q_mask = np.zeros((len(queries), width), bool)
    for i, x in enumerate(queries):
        q_pad[i, : len(x)] = x
        q_mask[i, : len(x)] = True
    rows = np.concatenate(docs)
    doc = np.repeat(np.arange(40), [len(d) for d in docs])
    together = maxsim_scores_packed(
        torch.from_numpy(q_pad),
        torch.from_numpy(rows),
        torch.from_numpy(doc),
        40,
        torch.from_numpy(q_mask),
    )
    for i, x in enumerate(queries):
        alone = maxsim_scores_packed(
            torch.from_numpy(x)[None], torch.from_numpy(rows), torch.from_numpy(doc), 40
        )
        assert torch.equal(alone[0], together[i])
    # the padded form gives the very same numbers
    d_pad = np.zeros((40, 29, H), np.float32)
    d_mask = np.zeros((40, 29), bool)
    for j, x in enumerate(docs):
        d_pad[j, : len(x)] = x
        d_mask[j, : len(x)] = True
    padded = maxsim_scores(
        torch.from_numpy(q_pad),
        torch.from_numpy(d_pad),
        torch.from_numpy(q_mask),
        torch.from_numpy(d_mask),
    )
    assert torch.equal(padded, together)


def test_maxsim_is_bitwise_independent_of_the_thread_count():
    docs = _docs(5, 80, 768)
    q = torch.from_numpy(_unit_rows(np.random.default_rng(6), 9, 768))[None]
    threads = torch.get_num_threads()
    try:
        torch.set_num_threads(1)
        one = _packed_scores(q, docs, np.arange(80))
        torch.set_num_threads(max(2, threads))
        many = _packed_scores(q, docs, np.arange(80))
    finally:
        torch.set_num_threads(threads)
    assert np.array_equal(one, many)


def test_ot_scores_do_not_depend_on_the_other_documents_of_a_group():
    rng = np.random.default_rng(7)
    q = torch.from_numpy(_unit_rows(rng, 5))[None]
    same_length = torch.from_numpy(np.stack([_unit_rows(rng, 6) for _ in range(12)]))
    together = ot_scores(q, same_length)
    for j in range(12):
        assert torch.equal(ot_scores(q, same_length[j : j + 1])[0, 0], together[0, j])
    assert torch.equal(ot_scores(q, same_length.flip(0)), together.flip(1))


# --------------------------------------------------------------------------- Retriever


@pytest.fixture(scope="module")
def encoder(tiny_model_dir) -> Encoder:
    return Encoder(str(tiny_model_dir))


def _index(encoder, order: np.ndarray) -> DenseIndex:
    """60 documents of random unit vectors (token counts 1..29), rows in ``order``."""
    rng = np.random.default_rng(11)
    pooled = _unit_rows(rng, 60)
    toks = _docs(12, 60)
    flat = faiss.IndexFlatIP(H)
    flat.add(pooled[order])
    toks = [toks[i] for i in order]
    offsets = np.concatenate([[0], np.cumsum([len(t) for t in toks])])
    store = TokenStore(np.concatenate(toks).astype(np.float16), offsets)
    meta = {"model": "tiny", "fingerprint": model_fingerprint(encoder), "kind": "flat"}
    ids = [f"doc{i:02d}" for i in order]
    return DenseIndex(flat, ids, meta, store, ["x"] * 60)


QUERIES = {"a": "god loved the world", "b": "maji na nuru", "c": "light water earth heaven"}


@pytest.mark.parametrize(
    "mode, exact", [("pooled", None), ("maxsim", True), ("maxsim", False), ("ot", None)]
)
def test_search_is_bitwise_independent_of_index_order(encoder, mode, exact):
    natural = Retriever(encoder, encoder, _index(encoder, np.arange(60)))
    shuffled = Retriever(
        encoder, encoder, _index(encoder, np.random.default_rng(13).permutation(60))
    )
    queries = QUERIES if mode != "ot" else {"c": QUERIES["c"]}  # OT: one query (Sinkhorn is slow)
    for k in (5, 60) if mode != "ot" else (60,):
        kwargs = {"k": k, "mode": mode, "exact": exact, "rerank_depth": 60}
        assert natural.search(queries, **kwargs) == shuffled.search(queries, **kwargs)


@pytest.mark.parametrize(
    "mode, exact", [("pooled", None), ("maxsim", True), ("maxsim", False), ("ot", None)]
)
def test_search_with_one_query_per_batch_matches_one_query_alone(encoder, mode, exact):
    retriever = Retriever(encoder, encoder, _index(encoder, np.arange(60)))
    kwargs = {"k": 60, "mode": mode, "exact": exact, "rerank_depth": 60, "batch_size": 1}
    queries = QUERIES if mode != "ot" else {q: QUERIES[q] for q in "ab"}
    together = retriever.search(queries, **kwargs)
    for qid, text in queries.items():
        assert retriever.search({qid: text}, **kwargs) == {qid: together[qid]}


def test_ot_rerank_score_does_not_depend_on_the_candidate_set(encoder):
    retriever = Retriever(encoder, encoder, _index(encoder, np.arange(60)))
    wide = retriever.search({"a": QUERIES["a"]}, k=60, mode="ot", rerank_depth=60)
    narrow = retriever.search({"a": QUERIES["a"]}, k=10, mode="ot", rerank_depth=10)
    for qid, docs in narrow.items():
        # the top-10 pooled candidates, scored in other groups: the very same scores
        assert docs == {did: wide[qid][did] for did in docs}
        assert [d for d in wide[qid] if d in docs] == list(docs)
