"""Real model (bundled multilingual-e5-small) on a 200-verse Bible sub-corpus."""

from __future__ import annotations

import numpy as np
import pytest

pytestmark = [pytest.mark.integration, pytest.mark.slow]  # ~30 s: the real model on CPU


def test_swahili_queries_find_their_english_verse():
    from optical.dataset_loading import load_collection
    from optical.encoders import load_encoder
    from optical.retrieval import DenseIndex, Retriever

    collection = load_collection("bible:sw", "test")
    own = {q: d for q, docs in collection.qrels.items() for d, g in docs.items() if g == 2}
    qids = sorted(q for q in collection.queries if own.get(q) in collection.corpus)[:20]
    assert len(qids) == 20
    targets = {own[q] for q in qids}
    others = [d for d in list(collection.corpus)[::26] if d not in targets][: 200 - len(targets)]
    sub = {d: collection.corpus[d] for d in sorted(targets | set(others))}
    assert len(sub) == 200

    encoder = load_encoder("bundled:multilingual-e5-small", device="cpu")
    index = DenseIndex.build(encoder, sub, with_tokens=True, progress=False)
    retriever = Retriever(encoder, encoder, index)
    queries = {q: collection.queries[q] for q in qids}
    for mode in ("pooled", "maxsim"):
        run = retriever.search(queries, k=10, mode=mode)
        top1 = [next(iter(run[q])) == own[q] for q in qids]
        assert sum(top1) >= 15, (mode, sum(top1))
        assert all(np.all(np.diff(list(docs.values())) < 0) for docs in run.values())

    ex = retriever.explain(queries[qids[0]], own[qids[0]])
    assert ex.query_tokens and ex.doc_tokens and "query" not in "".join(ex.query_tokens)
    assert ex.similarity.shape == (len(ex.query_tokens), len(ex.doc_tokens))
    assert ex.pooled_cosine > 0.8  # e5 cosines are high for translations
