"""One batched encoding loop (issue 12): :func:`optical.encoders.encoded_batches` serves
:meth:`Encoder.encode`, :meth:`Encoder.encode_tokens`, the retrieval encoder
(:func:`iter_encoded` / :func:`encode_texts`) and the teacher cache, and each gives the
same vectors, bit for bit, as the three loops it replaced (copied below as references)."""

from __future__ import annotations

import random

import numpy as np
import pytest
import torch
from torch import nn

import optical.encoders as encoders_mod
import optical.retrieval.encoding as encoding_mod
import optical.train.teacher_cache as teacher_mod
from optical.encoders import Encoder, encoded_batches, length_buckets, mean_pool
from optical.retrieval.encoding import encode_texts, iter_encoded, token_counts
from optical.train.teacher_cache import teacher_outputs
from tests.helpers import WORDS


# ----------------------------------------------------------------- the replaced loops
# What the three loops did before there was one, written out as references: which batches
# (order and content), eval mode around inference mode, and what each kept of a batch.
def _old_batches(enc, texts, is_query, buckets, max_length=None, whole_module=False):
    """``Encoder._batches`` (model.eval()) or ``iter_encoded``'s loop (``whole_module``)."""
    module = enc if whole_module else enc.model
    was_training = module.training
    module.eval()
    try:
        with torch.inference_mode():
            for idx in buckets:
                yield idx, enc(enc.tokenize([texts[i] for i in idx], is_query, max_length))
    finally:
        module.train(was_training)


def _by_chars(texts, batch_size):  # Encoder._batches' buckets
    return list(length_buckets([len(t) for t in texts], batch_size)) if texts else []


def _old_encode(enc, texts, is_query, batch_size):
    rows = {}
    for idx, out in _old_batches(enc, texts, is_query, _by_chars(texts, batch_size)):
        rows.update(zip(idx, enc.pool(out).cpu().numpy(), strict=True))
    return np.stack([rows[i] for i in range(len(texts))]).astype(np.float32)


def _old_encode_tokens(enc, texts, is_query, batch_size, content_only=True):
    rows = {}
    for idx, out in _old_batches(enc, texts, is_query, _by_chars(texts, batch_size)):
        mask = (out.content_mask if content_only else out.attention_mask.bool()).cpu().numpy()
        unit = nn.functional.normalize(out.hidden.float(), dim=-1).cpu().numpy()
        rows.update({i: unit[r][mask[r]] for r, i in enumerate(idx)})
    return [rows[i] for i in range(len(texts))]


def _old_iter_encoded(enc, texts, is_query, batch_size, with_tokens=True):
    """``iter_encoded`` as it was: token-length buckets, one batch in input order."""
    one = len(texts) <= batch_size
    buckets = [list(range(len(texts)))] if one else list(
        length_buckets(token_counts(enc, texts, is_query)[0], batch_size))
    empty = np.zeros((0, enc.hidden_size), dtype=np.float32)
    for idx, out in _old_batches(enc, texts, is_query, buckets, whole_module=True):
        mask = out.content_mask.to(out.hidden.device)
        vecs = nn.functional.normalize(out.hidden[mask].float(), dim=-1).cpu().numpy() if with_tokens else empty
        n = mask.sum(1).cpu().numpy().astype(np.int64) * with_tokens
        yield np.asarray(idx, dtype=np.int64), enc.pool(out).float().cpu().numpy(), vecs, n


def _old_teacher(enc, texts, is_query, max_length, batch_size):
    """The teacher cache's ``_compute`` as it was (through ``Encoder._batches``)."""
    pooled, tokens = {}, {}
    for idx, out in _old_batches(enc, texts, is_query, _by_chars(texts, batch_size), max_length):
        raw = out.hidden.float()
        pooled.update(zip(idx, mean_pool(raw, out.attention_mask).cpu().numpy(), strict=True))
        mask = out.content_mask.cpu().numpy()
        tokens.update({i: raw.cpu().numpy()[r][mask[r]].astype(np.float16) for r, i in enumerate(idx)})
    ragged = [tokens[i] for i in range(len(texts))]
    offsets = np.concatenate([[0], np.cumsum([len(t) for t in ragged])]).astype(np.int64)
    return np.concatenate(ragged), offsets, np.stack([pooled[i] for i in range(len(texts))])


# ----------------------------------------------------------------------- fixtures
def _texts(n: int = 37, seed: int = 0) -> list[str]:
    rng = random.Random(seed)
    texts = [" ".join(rng.choice(WORDS) for _ in range(rng.randint(1, 18))) for _ in range(n)]
    texts[4] = ""  # no content token at all
    return texts


@pytest.fixture(scope="module", params=["plain", "projected"])
def encoder(request, tiny_model_dir):
    enc = Encoder(str(tiny_model_dir))
    if request.param == "projected":  # a student's bridge to a wider teacher
        torch.manual_seed(3)
        enc.set_projection(nn.Linear(enc.model.config.hidden_size, 24))
    return enc


def _same(a: np.ndarray, b: np.ndarray) -> None:
    """Bit-identical arrays (same dtype, shape and bytes)."""
    a, b = np.asarray(a), np.asarray(b)
    assert a.dtype == b.dtype and a.shape == b.shape
    assert a.tobytes() == b.tobytes()


# --------------------------------------------------------- same vectors as before
@pytest.mark.parametrize("batch_size", [1, 5, 64])
@pytest.mark.parametrize("is_query", [True, False])
def test_pooled_and_token_paths_match_the_old_loops(encoder, batch_size, is_query):
    texts = _texts()
    _same(encoder.encode(texts, is_query, batch_size), _old_encode(encoder, texts, is_query, batch_size))
    for content_only in (True, False):
        new = encoder.encode_tokens(texts, is_query, batch_size, content_only=content_only)
        old = _old_encode_tokens(encoder, texts, is_query, batch_size, content_only)
        assert len(new) == len(old) == len(texts)
        for a, b in zip(new, old, strict=True):
            _same(a, b)


@pytest.mark.parametrize("batch_size", [1, 5, 64])
@pytest.mark.parametrize("with_tokens", [True, False])
def test_retrieval_batches_match_the_old_loop(encoder, batch_size, with_tokens):
    texts = _texts()
    new = list(iter_encoded(encoder, texts, False, batch_size, with_tokens))
    old = list(_old_iter_encoded(encoder, texts, False, batch_size, with_tokens))
    assert len(new) == len(old)
    for batch, (index, pooled, tokens, counts) in zip(new, old, strict=True):
        _same(batch.index, index)
        _same(batch.pooled, pooled)
        _same(batch.tokens, tokens)
        _same(batch.counts, counts)
    pooled, tokens = encode_texts(encoder, texts, True, batch_size, with_tokens=with_tokens)
    old_pooled = np.zeros_like(pooled)
    old_tokens = [None] * len(texts)
    for index, p, t, counts in _old_iter_encoded(encoder, texts, True, batch_size, with_tokens):
        old_pooled[index] = p
        for i, part in zip(index, np.split(t, np.cumsum(counts)[:-1]), strict=True):
            old_tokens[i] = part
    _same(pooled, old_pooled)
    if with_tokens:
        for a, b in zip(tokens, old_tokens, strict=True):
            _same(a, b)
    else:
        assert tokens == []


@pytest.mark.parametrize(("batch_size", "max_length"), [(4, None), (64, 6), (7, 9)])
def test_teacher_outputs_match_the_old_loop(encoder, batch_size, max_length):
    texts = _texts(seed=1)
    tokens, offsets, pooled = _old_teacher(encoder, texts, True, max_length or encoder.max_length, batch_size)
    for cache in (False, True):
        got = teacher_outputs(encoder, texts, True, max_length=max_length, batch_size=batch_size,
                              progress=False, cache=cache)
        _same(got.tokens, tokens)
        _same(got.offsets, offsets)
        _same(got.pooled, pooled)


# ------------------------------------------------------------------ the one loop
def test_every_encoding_path_runs_through_the_one_loop(encoder, monkeypatch):
    calls: list[str] = []

    def counting(enc, texts, is_query, batch_size=64, **kwargs):
        calls.append(kwargs.get("desc") or "-")
        yield from encoded_batches(enc, texts, is_query, batch_size, **kwargs)

    for module in (encoders_mod, encoding_mod, teacher_mod):
        monkeypatch.setattr(module, "encoded_batches", counting)
    texts = _texts(9)
    encoder.encode(texts, True)
    encoder.encode_tokens(texts, True)
    encode_texts(encoder, texts, False)
    list(iter_encoded(encoder, texts, False, 4, desc="corpus"))
    teacher_outputs(encoder, texts, True, progress=False, cache=False)
    assert calls == ["-", "-", "-", "corpus", "teacher outputs"]


def test_the_loop_covers_every_text_once_under_inference_mode(encoder):
    texts = _texts(23)
    seen: list[int] = []
    for idx, out in encoded_batches(encoder, texts, True, 4, max_length=5):
        assert len(idx) <= 4 and out.hidden.shape[0] == len(idx)
        assert out.hidden.shape[1] <= 5  # the token limit applies
        assert out.hidden.is_inference() and not out.hidden.requires_grad
        seen += idx
    assert sorted(seen) == list(range(len(texts)))
    # the default buckets: character lengths, longest first (ties in input order)
    order = [i for idx, _ in encoded_batches(encoder, texts, True, 4) for i in idx]
    assert order == [i for b in length_buckets([len(t) for t in texts], 4) for i in b]
    # equal lengths keep the input order
    same = [i for idx, _ in encoded_batches(encoder, texts, True, 4, lengths=[0] * 23) for i in idx]
    assert same == list(range(23))


def test_the_loop_checks_its_batch_size_and_accepts_no_texts(encoder):
    assert list(encoded_batches(encoder, [], True, 0)) == []
    with pytest.raises(ValueError, match="batch_size must be >= 1, got 0"):
        next(encoded_batches(encoder, ["mungu"], True, 0))
    with pytest.raises(ValueError, match="batch_size must be >= 1"):
        list(iter_encoded(encoder, ["mungu", "maji"], True, 0))
    assert encoder.encode([], True).shape == (0, encoder.hidden_size)
    assert encoder.encode_tokens([], True) == []


def test_the_loop_restores_every_module_s_mode(encoder):
    encoder.train()
    encoder.model.embeddings.eval()  # a frozen part stays as it was
    before = {name: m.training for name, m in encoder.named_modules()}
    gen = encoded_batches(encoder, _texts(12), True, 4)
    next(gen)
    assert not any(m.training for m in encoder.modules())  # eval while encoding (no dropout)
    gen.close()  # stopped half-way
    assert {name: m.training for name, m in encoder.named_modules()} == before
    encoder.encode(_texts(5), True)
    assert {name: m.training for name, m in encoder.named_modules()} == before
    encoder.eval()
