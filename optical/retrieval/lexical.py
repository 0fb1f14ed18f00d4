"""BM25 over a corpus's texts (``bm25s``): the lexical baseline and ceiling.

``bm25`` systems (:func:`optical.systems.parse_system`) rank documents by BM25 (Lucene's
variant, k1 = 1.5, b = 0.75, English stop words, no stemming) of the query's words.
The queries are used as given — a foreign query against the English corpus measures
what word overlap alone (names, numbers, loan words) finds — or translated first
(``bm25+translate:<model>``, translate-test). Documents sharing no word with the query
are not retrieved (a query can get an empty ranking, which scores 0).
"""

from __future__ import annotations

import hashlib
import threading
from collections.abc import Mapping

import numpy as np

from optical.data.types import Document

__all__ = ["BM25Index", "bm25_index"]

_CACHE: dict[tuple[str, str], BM25Index] = {}
_LOCK = threading.Lock()


def _tokens(texts: list[str]) -> list[list[str]]:
    import bm25s

    return bm25s.tokenize(texts, stopwords="en", return_ids=False, show_progress=False)


class BM25Index:
    """A BM25 index of ``corpus`` (doc id -> :class:`Document`; title and text are indexed)."""

    def __init__(self, corpus: Mapping[str, Document]) -> None:
        import bm25s

        if not corpus:
            raise ValueError("BM25: the corpus is empty")
        self.ids = list(corpus)
        texts = [" ".join(p for p in (corpus[d].title, corpus[d].text) if p) for d in self.ids]
        self.model = bm25s.BM25()
        self.model.index(_tokens(texts), show_progress=False)

    def search(self, queries: Mapping[str, str], k: int) -> dict[str, dict[str, float]]:
        """qid -> {doc id: score} of the top ``k`` documents with a positive score."""
        if not queries:
            return {}
        vocab = self.model.vocab_dict
        tokens = [[t for t in toks if t in vocab] for toks in _tokens(list(queries.values()))]
        run: dict[str, dict[str, float]] = {}
        k = min(k, len(self.ids))
        for qid, toks in zip(queries, tokens, strict=True):
            if not toks:
                run[qid] = {}
                continue
            scores = self.model.get_scores(toks)
            top = np.argsort(-scores, kind="stable")[:k]
            run[qid] = {self.ids[i]: float(scores[i]) for i in top if scores[i] > 0}
        return run


def _fingerprint(corpus: Mapping[str, Document]) -> str:
    digest = hashlib.sha256()
    for doc_id, doc in corpus.items():
        digest.update(f"{doc_id}\x1f{doc.title or ''}\x1f{doc.text}\x1e".encode())
    return digest.hexdigest()


def bm25_index(corpus: Mapping[str, Document], name: str) -> BM25Index:
    """One shared index per corpus in this process, keyed by the corpus's content (two
    folders of one name are two corpora)."""
    key = (name, _fingerprint(corpus))
    with _LOCK:
        if key not in _CACHE:
            _CACHE[key] = BM25Index(corpus)
        return _CACHE[key]
