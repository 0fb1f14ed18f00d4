"""Fingerprints, DenseIndex build/save/load, token store and the index cache (tiny model)."""

from __future__ import annotations

import json

import numpy as np
import pytest
import torch

import optical.retrieval.fingerprint as fingerprint_mod
import optical.retrieval.index as index_mod
from optical.data.types import Document
from optical.encoders import Encoder
from optical.retrieval import (
    DenseIndex,
    Retriever,
    TokenStore,
    UnknownDocumentError,
    corpus_checksum,
    corpus_index,
    model_fingerprint,
)
from optical.retrieval.fingerprint import fingerprint_settings
from tests.helpers import make_tiny_model_dir

WORDS = "god loved the world so much mungu aliupenda ulimwengu sana light water earth heaven maji nuru".split()


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
def other_encoder(tmp_path_factory) -> Encoder:
    """Same architecture and tokenizer, different random weights."""
    return Encoder(str(make_tiny_model_dir(tmp_path_factory.mktemp("other"), seed=1)))


# --------------------------------------------------------------------------- fingerprint


def test_fingerprint_is_stable_and_ignores_the_name(encoder, tiny_model_dir):
    fp = model_fingerprint(encoder)
    assert len(fp) == 64 and int(fp, 16) >= 0
    twin = Encoder(str(tiny_model_dir))
    assert model_fingerprint(twin) == fp
    assert "name_or_path" not in fingerprint_settings(encoder)


def test_fingerprint_changes_with_weights_and_settings(encoder, other_encoder, tiny_model_dir):
    fp = model_fingerprint(encoder)
    assert model_fingerprint(other_encoder) != fp
    assert model_fingerprint(Encoder(str(tiny_model_dir), pooling="cls")) != fp
    assert model_fingerprint(Encoder(str(tiny_model_dir), query_prefix="query: ")) != fp
    assert model_fingerprint(Encoder(str(tiny_model_dir), max_length=16)) != fp


def test_fingerprint_is_cached_and_follows_in_place_updates(tiny_model_dir, monkeypatch):
    enc = Encoder(str(tiny_model_dir))
    first = model_fingerprint(enc)
    calls = []
    real = fingerprint_mod._tensor_bytes
    monkeypatch.setattr(fingerprint_mod, "_tensor_bytes", lambda t: calls.append(1) or real(t))
    assert model_fingerprint(enc) == first
    assert calls == []  # served from the cache
    with torch.no_grad():
        next(enc.model.parameters()).add_(1e-3)  # an optimiser-like in-place step
    assert model_fingerprint(enc) != first
    assert calls  # recomputed


# --------------------------------------------------------------------------- index


def test_build_matches_encoder_outputs(encoder):
    corpus = make_corpus(25)
    index = DenseIndex.build(encoder, corpus, with_tokens=True, batch_size=4, progress=False)
    texts = [d.full_text() for d in corpus.values()]
    assert index.doc_ids == list(corpus) and len(index) == 25 and index.dim == 32
    np.testing.assert_allclose(index.vectors(), encoder.encode(texts, False), atol=1e-5)
    tokens = encoder.encode_tokens(texts, False)
    assert index.tokens.n_tokens == sum(len(t) for t in tokens)
    assert index.tokens.vectors.dtype == np.float16
    assert index.tokens.offsets.dtype == np.int64 and index.tokens.offsets[0] == 0
    for i, t in enumerate(tokens):
        np.testing.assert_allclose(index.tokens.get(i), t, atol=2e-3)
    meta = index.meta
    assert meta["fingerprint"] == model_fingerprint(encoder)
    assert meta["corpus_checksum"] == corpus_checksum(corpus)
    assert meta["n_docs"] == 25 and meta["kind"] == "flat" and meta["encoder"] == encoder.settings()


def test_save_load_round_trip_gives_same_results(encoder, tmp_path):
    corpus = make_corpus(30)
    built = DenseIndex.build(encoder, corpus, with_tokens=True, progress=False)
    built.save(tmp_path / "idx")
    loaded = DenseIndex.load(tmp_path / "idx", encoder=encoder)
    meta = json.loads((tmp_path / "idx" / "index.json").read_text())
    for key in ("model", "fingerprint", "encoder", "corpus_checksum", "n_docs", "created_at"):
        assert key in meta
    assert isinstance(loaded.tokens.vectors, np.memmap)
    np.testing.assert_array_equal(loaded.vectors(), built.vectors())
    np.testing.assert_array_equal(loaded.tokens.vectors, built.tokens.vectors)
    np.testing.assert_array_equal(loaded.tokens.offsets, built.tokens.offsets)
    queries = {"a": "god loved the world", "b": "maji na nuru", "c": "heaven earth"}
    for mode in ("pooled", "maxsim", "ot"):
        a = Retriever(encoder, encoder, built).search(queries, k=10, mode=mode)
        b = Retriever(encoder, encoder, loaded).search(queries, k=10, mode=mode)
        assert a == b


def test_build_with_path_writes_complete_folder(encoder, tmp_path):
    index = DenseIndex.build(
        encoder, make_corpus(10), path=tmp_path / "x", with_tokens=True, progress=False
    )
    names = {p.name for p in (tmp_path / "x").iterdir()}
    assert {"index.json", "vectors.faiss", "docs.jsonl", "tokens.npy", "offsets.npy"} <= names
    assert index.path == tmp_path / "x"
    assert not [p for p in tmp_path.iterdir() if p.name.startswith(".")]  # no temp leftovers


def test_load_refuses_a_different_model(encoder, other_encoder, tmp_path):
    DenseIndex.build(encoder, make_corpus(8), path=tmp_path / "idx", progress=False)
    with pytest.raises(ValueError, match=r"index .*built with model .*refusing to"):
        DenseIndex.load(tmp_path / "idx", encoder=other_encoder)
    index = DenseIndex.load(tmp_path / "idx")
    with pytest.raises(ValueError, match="fingerprint"):
        Retriever(encoder, other_encoder, index)
    Retriever(other_encoder, encoder, index)  # a different *query* encoder is the point


def test_load_errors_are_clear(tmp_path, encoder):
    with pytest.raises(FileNotFoundError, match="not an optical index"):
        DenseIndex.load(tmp_path)
    DenseIndex.build(encoder, make_corpus(5), path=tmp_path / "idx", progress=False)
    (tmp_path / "idx" / "vectors.faiss").unlink()
    with pytest.raises(FileNotFoundError, match="vectors.faiss"):
        DenseIndex.load(tmp_path / "idx")


def test_position_and_unknown_ids(encoder):
    index = DenseIndex.build(encoder, make_corpus(5), progress=False)
    assert index.position("d03") == 3
    with pytest.raises(UnknownDocumentError, match="unknown document id 'nope'"):
        index.position("nope")
    assert issubclass(UnknownDocumentError, KeyError) and issubclass(
        UnknownDocumentError, ValueError
    )


@pytest.mark.parametrize("kind", ["ivf", "hnsw"])
def test_approximate_kinds_find_the_exact_top_hits(encoder, kind):
    corpus = make_corpus(60, seed=2)
    flat = DenseIndex.build(encoder, corpus, progress=False)
    approx = DenseIndex.build(encoder, corpus, kind=kind, progress=False, nlist=4, nprobe=4)
    assert approx.kind == kind and not approx.is_exact
    q = encoder.encode(["god loved the world", "maji nuru"], True)
    # nprobe = nlist (ivf) and a tiny graph (hnsw) are exhaustive here
    np.testing.assert_allclose(approx.search(q, 5)[0], flat.search(q, 5)[0], atol=1e-6)
    np.testing.assert_array_equal(approx.vectors(), flat.vectors())
    np.testing.assert_array_equal(approx.vectors([7, 2]), flat.vectors()[[7, 2]])
    with pytest.raises(ValueError, match="unknown index kind"):
        DenseIndex.build(encoder, corpus, kind="lsh", progress=False)


def test_token_store_gather_pads_and_masks():
    vectors = np.arange(12, dtype=np.float16).reshape(6, 2)
    store = TokenStore(vectors, np.array([0, 2, 2, 6]))
    assert len(store) == 3 and store.lengths.tolist() == [2, 0, 4]
    np.testing.assert_array_equal(store.get(2), vectors[2:6].astype(np.float32))
    assert store.get(1).shape == (0, 2)
    tokens, mask = store.gather([2, 0, 1])
    assert tokens.shape == (3, 4, 2) and tokens.dtype == np.float32
    assert mask.tolist() == [[True] * 4, [True, True, False, False], [False] * 4]
    np.testing.assert_array_equal(tokens[1, :2], vectors[:2])
    assert not tokens[1, 2:].any() and not tokens[2].any()
    packed, doc = store.gather_packed([2, 0, 1])
    np.testing.assert_array_equal(packed, np.concatenate([vectors[2:6], vectors[0:2]]))
    assert doc.tolist() == [0, 0, 0, 0, 1, 1]
    packed, doc = store.gather_packed([0, 1, 2])  # consecutive: one contiguous slice
    np.testing.assert_array_equal(packed, vectors.astype(np.float32))
    assert doc.tolist() == [0, 0, 2, 2, 2, 2]
    with pytest.raises(ValueError, match="offsets"):
        TokenStore(vectors, np.array([0, 3, 5]))


# --------------------------------------------------------------------------- cache


def test_corpus_index_is_built_once_and_reused(encoder, monkeypatch):
    calls = []
    real = index_mod.iter_encoded
    monkeypatch.setattr(index_mod, "iter_encoded", lambda *a, **k: calls.append(1) or real(*a, **k))
    corpus = make_corpus(12)
    first = corpus_index(encoder, corpus, "tiny:corpus", progress=False)
    assert len(calls) == 1
    second = corpus_index(encoder, corpus, "tiny:corpus", progress=False)
    assert len(calls) == 1  # loaded from the cache, not re-encoded
    assert second.path == first.path and second.path.name.startswith("tiny-corpus-")
    np.testing.assert_array_equal(second.vectors(), first.vectors())
    # asking for tokens upgrades the cached index once
    with_tokens = corpus_index(encoder, corpus, "tiny:corpus", with_tokens=True, progress=False)
    assert len(calls) == 2 and with_tokens.tokens is not None
    corpus_index(encoder, corpus, "tiny:corpus", progress=False)
    assert len(calls) == 2
    # another corpus (same name) gets its own entry
    corpus_index(encoder, make_corpus(12, seed=9), "tiny:corpus", progress=False)
    assert len(calls) == 3
