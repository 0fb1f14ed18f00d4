"""The float32 screen of exact MaxSim returns exactly what scoring every document exactly does."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from optical.retrieval.maxsim_screen import _bound, screen_available, screened_maxsim_topk
from optical.retrieval.token_ranking import maxsim_exact, maxsim_exact_direct
from optical.retrieval.tokens import TokenStore

CPU = torch.device("cpu")


def _unit(rng, n, dim):
    x = rng.standard_normal((n, dim)).astype(np.float32)
    return x / np.linalg.norm(x, axis=1, keepdims=True)


def _store(rng, n_docs, dim, max_len=40, empty=(), duplicate=()):
    docs = [_unit(rng, int(rng.integers(1, max_len)), dim) for _ in range(n_docs)]
    for i in empty:
        docs[i] = np.zeros((0, dim), dtype=np.float32)
    for i, j in duplicate:  # identical documents: exact ties
        docs[i] = docs[j].copy()
    return _build(docs, dim)


def _build(docs, dim):
    offsets = np.concatenate([[0], np.cumsum([len(d) for d in docs])]).astype(np.int64)
    vectors = np.concatenate(docs).astype(np.float16) if docs else np.zeros((0, dim), np.float16)
    return TokenStore(vectors, offsets)


def _same(a, b):
    assert len(a) == len(b)
    for (pa, sa), (pb, sb) in zip(a, b, strict=True):
        np.testing.assert_array_equal(pa, pb)
        np.testing.assert_array_equal(sa, sb)  # bit for bit


@pytest.mark.parametrize("seed", range(6))
def test_screen_gives_the_exact_top_k(seed):
    rng = np.random.default_rng(seed)
    dim = int(rng.choice([16, 32, 64]))
    n_docs = int(rng.integers(50, 400))
    store = _store(rng, n_docs, dim, empty=(3, 7), duplicate=((10, 11), (12, 11), (20, 21)))
    queries = [_unit(rng, int(rng.integers(1, 25)), dim) for _ in range(int(rng.integers(5, 40)))]
    queries[0] = store.get(11)[:5]  # a query matching tied documents
    for k in (1, 5, 10, 49):
        _same(screened_maxsim_topk(store, n_docs, queries, k, CPU, chunk=7),
              maxsim_exact_direct(store, n_docs, queries, k, CPU))


def test_ties_at_the_cut_are_all_kept():
    rng = np.random.default_rng(0)
    dim = 16
    base = _unit(rng, 6, dim)
    docs = [base.copy() for _ in range(5)] + [_unit(rng, 6, dim) for _ in range(60)]
    store = _build(docs, dim)
    q = [base[:3]]
    [(positions, scores)] = screened_maxsim_topk(store, len(docs), q, 2, CPU)
    assert set(positions) >= {0, 1, 2, 3, 4} and len(set(scores[:5].tolist())) == 1
    _same([(positions, scores)], maxsim_exact_direct(store, len(docs), q, 2, CPU))


def test_maxsim_exact_uses_the_screen_and_falls_back_when_k_covers_the_corpus(monkeypatch):
    import optical.retrieval.token_ranking as tr

    rng = np.random.default_rng(1)
    store = _store(rng, 80, 32)
    queries = [_unit(rng, 8, 32) for _ in range(4)]
    calls = []
    monkeypatch.setattr(tr, "screened_maxsim_topk", lambda *a, **k: calls.append("screen") or [])
    tr.maxsim_exact(store, 80, queries, 10, CPU)
    assert calls == ["screen"]
    calls.clear()
    _same(tr.maxsim_exact(store, 80, queries, 80, CPU), maxsim_exact_direct(store, 80, queries, 80, CPU))
    assert calls == []  # k >= n_docs: every document is scored exactly anyway
    monkeypatch.undo()
    _same(maxsim_exact(store, 80, queries, 10, CPU), maxsim_exact_direct(store, 80, queries, 10, CPU))


def test_the_bound_covers_the_float32_error_of_adversarial_sums():
    """Many equal-sign products of one size: float32's worst case grows with the dimension."""
    rng = np.random.default_rng(2)
    dim = 384
    worst = 0.0
    for _ in range(200):
        q = np.abs(_unit(rng, 20, dim)).astype(np.float16).astype(np.float64)
        d = np.abs(_unit(rng, 30, dim)).astype(np.float16).astype(np.float64)
        exact = (q @ d.T).max(1).sum()
        approx = (q.astype(np.float32) @ d.astype(np.float32).T).max(1).astype(np.float32).sum(dtype=np.float32)
        worst = max(worst, abs(float(approx) - exact))
        delta = _bound(np.sqrt((q**2).sum(1)), float(np.sqrt((d**2).sum(1)).max()), dim)
        assert abs(float(approx) - exact) <= delta
    assert worst > 0  # the screen is not exact: the bound is doing work


def test_screen_is_refused_where_float32_products_may_be_tf32(monkeypatch):
    assert screen_available(CPU)
    assert not screen_available(torch.device("meta"))
    monkeypatch.setattr(torch, "get_float32_matmul_precision", lambda: "high")  # TF32 allowed
    assert not screen_available(torch.device("cuda"))
    monkeypatch.setattr(torch, "get_float32_matmul_precision", lambda: "highest")
    assert screen_available(torch.device("cuda")) == (not torch.backends.cuda.matmul.allow_tf32)
