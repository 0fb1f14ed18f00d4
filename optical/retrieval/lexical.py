"""BM25 over a corpus's texts (``bm25s``): the lexical baseline and ceiling.

``bm25`` systems (:func:`optical.systems.parse_system`) rank documents by BM25 (Lucene's
variant, k1 = 1.5, b = 0.75, English stop words, no stemming) of the query's words.
The queries are used as given — a foreign query against the English corpus measures
what word overlap alone (names, numbers, loan words) finds — or translated first
(``bm25+translate:<model>``, translate-test). Documents sharing no word with the query
are not retrieved (a query can get an empty ranking, which scores 0).

:meth:`BM25Index.search_weighted` scores weighted queries: the probabilistic structured
queries of ``psq:<lexicon>`` systems (:mod:`optical.lexicon`), in the weighted-query
approximation of PSQ (Darwish & Oard 2003) — a foreign query word ``f`` contributes every
translation ``e`` with its probability,

    score(d) = sum over query words f of sum over e of p(e|f) * bm25(e, d),

``bm25(e, d)`` being the index's own per-term BM25 score (idf and saturated term frequency
of the English word ``e`` in ``d``). Proper PSQ instead maps term and document frequencies
into the foreign vocabulary before BM25 saturates them; not done here.
"""

from __future__ import annotations

import hashlib
import math
import numbers
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
            run[qid] = self._top(self.model.get_scores(toks), k)
        return run

    def search_weighted(self, queries: Mapping[str, Mapping[str, float]], k: int) -> dict[str, dict[str, float]]:
        """qid -> {doc id: score} of the top ``k`` documents with a positive score, for
        queries given as weighted words (``{word: weight}``): ``score(d) = sum_w weight(w) *
        bm25(w, d)`` (module docstring). A word is tokenised as :meth:`search` tokenises a
        query (a stop word counts for nothing; a word of two index terms gives its weight to
        each); weights must be finite and >= 0. With every weight 1 this is :meth:`search`
        of the words (up to float rounding)."""
        if not queries:
            return {}
        for qid, weights in queries.items():
            bad = [w for w, x in weights.items()
                   if isinstance(x, bool) or not isinstance(x, numbers.Real) or not 0 <= x < math.inf]
            if bad:
                raise ValueError(f"query {qid!r}: weights must be finite numbers >= 0 (word {bad[0]!r})")
        vocab = self.model.vocab_dict
        distinct = list(dict.fromkeys(w for weights in queries.values() for w in weights))
        tokens = _tokens(distinct) if distinct else []
        terms = {w: [vocab[t] for t in toks if t in vocab] for w, toks in zip(distinct, tokens, strict=True)}
        run: dict[str, dict[str, float]] = {}
        k = min(k, len(self.ids))
        for qid, weights in queries.items():
            per_term: dict[int, float] = {}
            for word, weight in weights.items():
                for term in terms[word]:
                    per_term[term] = per_term.get(term, 0.0) + float(weight)
            per_term = {t: x for t, x in per_term.items() if x > 0}
            if not per_term:
                run[qid] = {}
                continue
            scores = np.zeros(len(self.ids), dtype=np.float64)
            for term in sorted(per_term):  # one order, whatever the words' order
                scores += per_term[term] * self.model.get_scores_from_ids([term])
            run[qid] = self._top(scores, k)
        return run

    def _top(self, scores: np.ndarray, k: int) -> dict[str, float]:
        top = np.argsort(-scores, kind="stable")[:k]
        return {self.ids[i]: float(scores[i]) for i in top if scores[i] > 0}


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
