"""OT rerank batches (query, candidate) pairs across queries; every pair scores what it
scores alone (its own query length, its document padded by its own length)."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from optical.retrieval import token_ranking
from optical.retrieval.scoring import ot_scores, ot_scores_paired
from optical.retrieval.token_ranking import _padded_width, rerank_candidates
from optical.retrieval.tokens import TokenStore

H = 16
CPU = torch.device("cpu")


def _unit_rows(rng: np.random.Generator, n: int) -> np.ndarray:
    x = rng.standard_normal((n, H)).astype(np.float32)
    return x / np.linalg.norm(x, axis=1, keepdims=True)


def _store(rng: np.random.Generator, n_docs: int) -> TokenStore:
    docs = [_unit_rows(rng, int(rng.integers(1, 40))) for _ in range(n_docs)]
    offsets = np.concatenate([[0], np.cumsum([len(d) for d in docs])])
    return TokenStore(np.concatenate(docs).astype(np.float16), offsets)


def _alone(store: TokenStore, q_tok: np.ndarray, position: int) -> np.float32:
    """The pair scored by itself with :func:`ot_scores`, its document padded to its width."""
    d, d_mask = store.gather(np.array([position]))
    pad = _padded_width(int(store.lengths[position])) - d.shape[1]
    d, d_mask = np.pad(d, ((0, 0), (0, pad), (0, 0))), np.pad(d_mask, ((0, 0), (0, pad)))
    s = ot_scores(torch.from_numpy(q_tok)[None], torch.from_numpy(d), None, torch.from_numpy(d_mask))
    return s[0, 0].numpy()


@pytest.mark.parametrize("pairs_per_call", [1, 7, 512])
def test_batched_ot_rerank_scores_every_pair_as_alone(monkeypatch, pairs_per_call):
    monkeypatch.setattr(token_ranking, "_OT_PAIRS", pairs_per_call)
    rng = np.random.default_rng(3)
    store = _store(rng, 40)
    lengths = [3, 3, 5, 0, 8, 3]  # shared lengths batch together; an empty query scores -1
    queries = [_unit_rows(rng, n) for n in lengths]
    candidates = [rng.choice(40, size=int(rng.integers(1, 15)), replace=False).astype(np.int64) for _ in queries]
    out = rerank_candidates(store, "ot", queries, candidates, CPU, ot_eps=0.05, ot_max_iter=100)
    assert len(out) == len(queries)
    for q_tok, cand, (positions, scores) in zip(queries, candidates, out, strict=True):
        assert np.array_equal(positions, cand) and scores.dtype == np.float32
        expected = np.array([_alone(store, q_tok, int(p)) for p in cand], dtype=np.float32)
        assert np.array_equal(scores, expected)
    assert np.all(out[3][1] == -1.0)


def test_paired_scores_are_the_diagonal_of_all_pairs_and_check_their_shapes():
    rng = np.random.default_rng(5)
    q = torch.from_numpy(np.stack([_unit_rows(rng, 4) for _ in range(6)]))
    d = torch.from_numpy(np.stack([_unit_rows(rng, 9) for _ in range(6)]))
    d_mask = torch.from_numpy(rng.random((6, 9)) < 0.7)
    d_mask[2] = False  # an empty document: cost 1
    paired = ot_scores_paired(q, d, None, d_mask)
    every = ot_scores(q, d, None, d_mask)
    assert torch.equal(paired, torch.diagonal(every))
    assert paired[2] == -1.0
    with pytest.raises(ValueError, match="as many queries as documents"):
        ot_scores_paired(q, d[:5])
