"""Search parameters and query texts are checked before any work (tiny model)."""

from __future__ import annotations

import numpy as np
import pytest

from optical.encoders import Encoder
from optical.retrieval import DenseIndex, Retriever, check_query
from optical.retrieval.query_checks import check_queries, query_problem

INVISIBLE = {
    "zwsp": "\u200b",
    "zwnj+zwj": "\u200c\u200d",
    "word-joiner": "\u2060",
    "bom": "\ufeff",
    "nul": "\x00",
    "controls": "\x01\x02\x7f",
    "mixed": " \u200b\t\u2060\x00 \ufeff\n",
    "bidi-marks": "\u200e\u200f",
    "nbsp+ideographic-space": "\u00a0\u3000",
}


@pytest.fixture(scope="module")
def retriever(tiny_model_dir) -> Retriever:
    encoder = Encoder(str(tiny_model_dir))
    corpus = {"a": "god loved the world", "b": "maji na nuru", "c": "light water"}
    index = DenseIndex.build(encoder, corpus, with_tokens=True, progress=False)
    return Retriever(encoder, encoder, index)


@pytest.mark.parametrize("name", list(INVISIBLE))
def test_invisible_queries_are_refused_in_every_mode(retriever, name):
    text = INVISIBLE[name]
    for mode in ("pooled", "maxsim", "ot"):
        with pytest.raises(ValueError, match=r"^empty query \(query id 'q7'\)"):
            retriever.search({"q1": "water", "q7": text}, k=2, mode=mode)
    with pytest.raises(ValueError, match=r"^empty query"):
        retriever.search_one(text, k=2)
    with pytest.raises(ValueError, match=r"^empty query"):
        retriever.explain(text, "a")


def test_the_message_names_the_invisible_characters():
    with pytest.raises(ValueError) as err:
        check_query("\u200b\x00\u200b", "q3")
    assert str(err.value) == (
        "empty query (query id 'q3'): only invisible characters (U+200B, U+0000; whitespace, "
        "zero-width or control characters such as NUL)"
    )
    assert query_problem("  ") == "empty query"


@pytest.mark.parametrize(
    "text",
    ["water", "\u200bwater\u200d", "a\x00b", "🙏", "\u0640", "مرحبا", "\ue000", "x\ufeff"],
)
def test_text_with_a_visible_character_is_accepted(text):
    assert check_query(text) == text
    assert query_problem(text) is None


def test_a_query_set_with_several_bad_queries_is_refused_naming_them_all(retriever):
    queries = {"q1": "water", "q2": "\u200b", "q3": "light", "q4": " ", "q5": "\x00"}
    with pytest.raises(ValueError) as err:
        retriever.search(queries, k=2)
    assert str(err.value) == (
        "3 of 5 queries are empty or hold only invisible characters (query ids 'q2', 'q4', "
        "'q5'); fix or remove them: they cannot be ranked"
    )
    many = {f"q{i}": "" for i in range(12)}
    with pytest.raises(ValueError, match=r"12 of 12 queries .*'q9', \.\.\.\)"):
        check_queries(many)
    assert check_queries({"a": "water", "b": "light"}) == ["water", "light"]
    with pytest.raises(TypeError, match="mapping"):
        check_queries(["water"])
    with pytest.raises(TypeError, match=r"query \(query id 'b'\) must be a string, got int"):
        check_queries({"a": "water", "b": 3})


@pytest.mark.parametrize("bad", ["abc", 0, -1, 1.5, True, None, "10", float("nan")])
@pytest.mark.parametrize("name", ["k", "rerank_depth", "batch_size"])
def test_bad_integer_parameters(retriever, name, bad):
    with pytest.raises(ValueError, match=rf"^{name} must be an int >= 1, got "):
        retriever.search({"q": "water"}, **{name: bad})
    if name != "batch_size":
        with pytest.raises(ValueError, match=rf"^{name} must be an int >= 1"):
            retriever.search_one("water", **{name: bad})


def test_numpy_integers_are_accepted(retriever):
    run = retriever.search({"q": "water"}, k=np.int64(2), rerank_depth=np.int32(3))
    assert len(run["q"]) == 2


@pytest.mark.parametrize("mode", ["MAXSIM", "bm25", "", None, 1, ["pooled"]])
def test_bad_modes(retriever, mode):
    with pytest.raises(ValueError, match=r"^unknown mode .*; use one of pooled, maxsim, ot"):
        retriever.search({"q": "water"}, mode=mode)


@pytest.mark.parametrize("exact", ["yes", 1, 0.0])
def test_bad_exact(retriever, exact):
    with pytest.raises(ValueError, match=r"^exact must be True, False or None"):
        retriever.search({"q": "water"}, mode="maxsim", exact=exact)


def test_bad_input_is_refused_before_encoding(retriever, monkeypatch):
    import optical.retrieval.search as search_mod

    def boom(*args, **kwargs):
        raise AssertionError("encoded a query")

    monkeypatch.setattr(search_mod, "encode_texts", boom)
    for kwargs in ({"k": 0}, {"mode": "x"}, {"exact": "x"}):
        with pytest.raises(ValueError):
            retriever.search({"q": "water"}, **kwargs)
    with pytest.raises(ValueError):
        retriever.search({"q": "water", "r": "\u200b"})


@pytest.mark.parametrize(
    "kwargs, message",
    [
        ({"exact_maxsim_max_docs": -1}, "exact_maxsim_max_docs must be an int >= 0"),
        ({"exact_maxsim_max_docs": "many"}, "exact_maxsim_max_docs must be an int >= 0"),
        ({"ot_eps": 0}, "ot_eps must be a number > 0"),
        ({"ot_eps": float("inf")}, "ot_eps must be a number > 0"),
        ({"ot_eps": "small"}, "ot_eps must be a number > 0"),
        ({"ot_max_iter": 0}, "ot_max_iter must be an int >= 1"),
    ],
)
def test_bad_retriever_settings(retriever, kwargs, message):
    with pytest.raises(ValueError, match=message):
        Retriever(retriever.query_encoder, retriever.doc_encoder, retriever.index, **kwargs)
