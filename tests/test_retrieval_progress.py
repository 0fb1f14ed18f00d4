"""Token scoring reports progress like encoding does (tqdm on stderr, only when asked)."""

from __future__ import annotations

import pytest

from optical.encoders import Encoder
from optical.retrieval import DenseIndex, Retriever


@pytest.fixture(scope="module")
def retriever(tiny_model_dir) -> Retriever:
    encoder = Encoder(str(tiny_model_dir))
    corpus = {f"d{i}": "god loved the world"[: 4 + i] for i in range(12)}
    index = DenseIndex.build(encoder, corpus, with_tokens=True, progress=False)
    return Retriever(encoder, encoder, index)


@pytest.mark.parametrize(
    "kwargs, label",
    [
        ({"mode": "maxsim", "exact": True}, "exact MaxSim (2 queries x 12 docs)"),
        ({"mode": "maxsim", "exact": False}, "maxsim rerank"),
        ({"mode": "ot"}, "ot rerank"),
    ],
)
def test_token_scoring_shows_a_progress_bar_on_stderr(retriever, capsys, kwargs, label):
    queries = {"a": "water", "b": "light"}
    retriever.search(queries, k=3, progress=True, **kwargs)
    err = capsys.readouterr().err
    assert label in err and "100%" in err.split(label)[-1]
    retriever.search(queries, k=3, progress=False, **kwargs)
    assert capsys.readouterr().err == ""
