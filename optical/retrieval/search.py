"""Search an index with a query encoder: pooled, MaxSim (late interaction) or OT scores.

The query encoder and the document encoder may differ (a distilled student for
foreign queries, the frozen teacher for English documents) as long as they map to
the same space; the index must have been built by the document encoder (checked
by fingerprint).

Modes
-----
``pooled``
    Inner product of pooled vectors, by FAISS (exact for ``flat`` indexes).
``maxsim``
    Sum over query tokens of the best cosine with a document token. *Exact* (every
    document scored) when the index has a token store and at most
    ``exact_maxsim_max_docs`` documents (default 10,000) — or when asked with
    ``exact=True``; otherwise the top ``max(k, rerank_depth)`` pooled candidates
    are reranked.
``ot``
    ``-<P, 1 - cos>`` with the balanced entropic OT plan ``P`` (uniform token
    weights, ``ot_eps``, ``ot_max_iter`` fixed iterations, so a pair's score does
    not depend on what else is in the batch); always a rerank of the top
    ``max(k, rerank_depth)`` pooled candidates.

Rankings and ties
-----------------
A returned :data:`~optical.data.types.Run` lists each query's documents in rank
order with **strictly decreasing scores**, ranked exactly as ``trec_eval`` ranks
(and :func:`~optical.data.trec.write_run` writes): by score rounded to float32,
descending, ties broken by **document id descending**; tied scores are then
nudged down by one float32 ulp each (``numpy.nextafter``) so the order is explicit
in the numbers. The cut at ``k`` is deterministic too: candidates tied with the
k-th score are fetched from FAISS before cutting. So in-memory evaluation, the
TREC file and trec_eval all see the same ranking.

Exact, order-independent scores
-------------------------------
MaxSim and OT scores are functions of the query's and the document's token
vectors only: not of the index order, the block or candidate group a document is
scored in, the other queries, the BLAS kernel or the thread count (exact float64
dot products of float16-rounded vectors, :mod:`optical.retrieval.scoring`; in OT
groups each candidate is padded to a width set by its own length, never by a
neighbour's).
Pooled scores are FAISS's float32 inner products (per document, independent of
its row in a flat index). What is not guaranteed: the query's vectors come from
the encoder's batched forward pass, whose last bits may depend on the padding of
the batch the query was encoded with (``batch_size=1`` removes that).

Parameters and queries
----------------------
``k``, ``rerank_depth`` and ``batch_size`` must be ints >= 1 and ``mode`` one of
:data:`~.query_checks.MODES`; anything else raises ``ValueError`` before any work
(:mod:`.query_checks`). Empty queries, and queries with no visible character (only
whitespace, zero-width characters such as U+200B/U+200C/U+200D/U+2060/U+FEFF, NUL or
other control characters) raise ``ValueError("empty query (query id ...)")``
(:func:`~.query_checks.check_query`): they would otherwise be ranked by the prefix and
special tokens alone. A query set — a whole benchmark split too — with such queries is
refused as a whole, naming every bad query id: scoring them silently would be wrong, and
dropping them would change what the benchmark measures.

Long and unusual queries
------------------------
Queries longer than the query encoder's token limit (``encoder.max_length``) are
truncated to it — the tokenizer keeps the first tokens — without an error. Any
script, emoji and mixed direction text is accepted (characters the vocabulary
lacks become ``<unk>`` tokens). A query that yields no content token at all is
ranked by its pooled vector in every mode.

Where the work is done
----------------------
This module ranks (pooled candidates, ties, trec_eval order); the token-level loops
(rerank, exact MaxSim) are in :mod:`.token_ranking`, explanations in
:mod:`.explanation`, the checks on queries and arguments in :mod:`.query_checks`.
"""

from __future__ import annotations

import time
from collections.abc import Mapping
from dataclasses import dataclass, field

import numpy as np
import torch

from optical.data.trec import rank_for_trec
from optical.data.types import Run
from optical.retrieval.encoding import encode_texts
from optical.retrieval.explanation import Explanation, explain_pair
from optical.retrieval.index import DenseIndex
from optical.retrieval.query_checks import (
    check_queries,
    check_query,
    check_retriever_settings,
    check_search_args,
)
from optical.retrieval.token_ranking import maxsim_exact, rerank_candidates

__all__ = ["Hit", "Retriever", "SearchResult"]

_EXTRA = 8  # candidates fetched beyond k to see ties at the cut


@dataclass
class Hit:
    """One ranked document of :meth:`Retriever.search_one`."""

    rank: int
    doc_id: str
    score: float
    text: str | None = None


@dataclass
class SearchResult:
    """Ranked hits for one query, with wall-clock timings in milliseconds.

    ``timings`` keys: ``encode`` (query encoding), ``search`` (FAISS), ``rerank``
    (token scoring, 0 for pooled), ``total``.
    """

    query: str
    mode: str
    hits: list[Hit]
    timings: dict[str, float] = field(default_factory=dict)


class Retriever:
    """Rank an index's documents for queries (see the module docstring).

    Parameters
    ----------
    query_encoder : optical.encoders.Encoder
        Encodes queries (with its query prefix).
    doc_encoder : optical.encoders.Encoder, optional
        The encoder that built ``index`` (default: ``query_encoder``); its fingerprint
        must match the index's. Used by :meth:`explain` for raw texts and token strings.
    index : DenseIndex
    exact_maxsim_max_docs : int
        Largest corpus scored exhaustively by ``maxsim`` (with a token store).
    ot_eps, ot_max_iter : float, int
        Sinkhorn settings of the ``ot`` mode and of :meth:`explain`.
    """

    def __init__(
        self,
        query_encoder,
        doc_encoder=None,
        index: DenseIndex | None = None,
        *,
        exact_maxsim_max_docs: int = 10_000,
        ot_eps: float = 0.05,
        ot_max_iter: int = 100,
    ) -> None:
        if index is None:
            raise ValueError("Retriever needs an index (DenseIndex.build/load or corpus_index)")
        self.query_encoder = query_encoder
        self.doc_encoder = doc_encoder if doc_encoder is not None else query_encoder
        self.index = index
        index.check_encoder(self.doc_encoder, role="search")
        if query_encoder.hidden_size != index.dim:
            raise ValueError(
                f"query encoder {query_encoder.name_or_path} gives {query_encoder.hidden_size}-d "
                f"vectors but the index holds {index.dim}-d vectors"
            )
        self.exact_maxsim_max_docs, self.ot_eps, self.ot_max_iter = check_retriever_settings(
            exact_maxsim_max_docs, ot_eps, ot_max_iter
        )

    @property
    def device(self) -> torch.device:
        return self.query_encoder.device

    # -------------------------------------------------------------- searching
    def search(
        self,
        queries: Mapping[str, str],
        k: int = 100,
        mode: str = "pooled",
        rerank_depth: int = 100,
        batch_size: int = 64,
        exact: bool | None = None,
        progress: bool = False,
    ) -> Run:
        """Rank documents for every query.

        Parameters
        ----------
        queries : mapping qid -> text
        k : int
            Documents per query (fewer when the corpus is smaller).
        mode : {"pooled", "maxsim", "ot"}
        rerank_depth : int
            Pooled candidates reranked by ``maxsim`` (when not exact) and ``ot``; raised
            to ``k`` when smaller.
        batch_size : int
            Query encoding batch size.
        exact : bool, optional
            ``maxsim`` only: score every document (True) or rerank (False); ``None``
            decides by corpus size (see the module docstring).
        progress : bool
            Progress bars (tqdm, on stderr) while encoding and token scoring.

        Returns
        -------
        Run
            ``{qid: {doc_id: score}}``, rank order, strictly decreasing scores.
        """
        run, _ = self._search(queries, k, mode, rerank_depth, batch_size, exact, progress)
        return run

    def search_one(
        self,
        text: str,
        k: int = 10,
        mode: str = "pooled",
        rerank_depth: int = 100,
        exact: bool | None = None,
    ) -> SearchResult:
        """Interactive search: ranked :class:`Hit` list (with texts) and timings."""
        start = time.perf_counter()
        check_query(text)
        run, timings = self._search({"q": text}, k, mode, rerank_depth, 1, exact, False)
        timings["total"] = (time.perf_counter() - start) * 1000.0
        hits = [
            Hit(
                rank,
                did,
                score,
                self.index.texts[self.index.position(did)] if self.index.texts else None,
            )
            for rank, (did, score) in enumerate(run["q"].items(), start=1)
        ]
        return SearchResult(text, mode, hits, timings)

    def _search(self, queries, k, mode, rerank_depth, batch_size, exact, progress):
        k, rerank_depth, batch_size = check_search_args(mode, k, rerank_depth, batch_size, exact)
        texts = check_queries(queries)
        qids = list(queries)
        use_tokens = mode != "pooled"
        if use_tokens and self.index.tokens is None:
            raise ValueError(
                f"mode {mode!r} needs an index with a token store; build it with "
                "with_tokens=True (`optical encode --tokens`)"
            )
        timings = {"encode": 0.0, "search": 0.0, "rerank": 0.0}
        if not qids:
            return {}, timings
        t0 = time.perf_counter()
        pooled, q_tokens = encode_texts(
            self.query_encoder, texts, True, batch_size, with_tokens=use_tokens, progress=progress
        )
        timings["encode"] = (time.perf_counter() - t0) * 1000.0
        k_eff = min(k, len(self.index))
        if exact is None:
            exact = (
                mode == "maxsim"
                and self.index.tokens is not None
                and len(self.index) <= self.exact_maxsim_max_docs
            )
        run: Run = {}
        t0 = time.perf_counter()
        depth = k_eff if not use_tokens or exact else min(max(k, rerank_depth), len(self.index))
        # Queries without a content token are ranked by their pooled vector.
        pooled_only = [i for i in range(len(qids)) if not use_tokens or len(q_tokens[i]) == 0]
        token_rows = sorted(set(range(len(qids))) - set(pooled_only))
        need_candidates = pooled_only + ([] if exact else token_rows)
        candidates = (
            self._pooled_candidates(pooled[need_candidates], depth) if need_candidates else []
        )
        cand = dict(zip(need_candidates, candidates, strict=True))
        timings["search"] = (time.perf_counter() - t0) * 1000.0
        for i in pooled_only:
            scores, positions = cand[i]
            run[qids[i]] = self._rank(positions, scores, k_eff)
        if token_rows:
            t0 = time.perf_counter()
            rows = [q_tokens[i] for i in token_rows]
            if exact:
                scored = maxsim_exact(
                    self.index.tokens, len(self.index), rows, k_eff, self.device, progress
                )
            else:
                scored = rerank_candidates(
                    self.index.tokens,
                    mode,
                    rows,
                    [cand[i][1] for i in token_rows],
                    self.device,
                    ot_eps=self.ot_eps,
                    ot_max_iter=self.ot_max_iter,
                    progress=progress,
                )
            for i, (positions, scores) in zip(token_rows, scored, strict=True):
                run[qids[i]] = self._rank(positions, scores, k_eff)
            timings["rerank"] = (time.perf_counter() - t0) * 1000.0
        return {q: run[q] for q in qids}, timings

    # ------------------------------------------------------------- candidates
    def _pooled_candidates(
        self, vectors: np.ndarray, k: int
    ) -> list[tuple[np.ndarray, np.ndarray]]:
        """Top-``k`` pooled candidates per query, plus every document tied with the k-th.

        Returns ``(scores float32 [c], positions int64 [c])`` per query, ``c >= k``.
        """
        n = len(self.index)
        k = min(k, n)
        fetch = min(n, k + _EXTRA)
        scores, positions = self.index.search(vectors, fetch)
        out = []
        for row in range(len(vectors)):
            s, p, f = scores[row], positions[row], fetch
            # a tie at the cut may continue past what was fetched: fetch more
            while f < n and k > 0 and p[f - 1] >= 0 and s[f - 1] == s[k - 1]:
                f = min(n, 2 * f)
                s2, p2 = self.index.search(vectors[row : row + 1], f)
                s, p = s2[0], p2[0]
            keep = p >= 0
            s, p = s[keep], p[keep]
            if len(s) > k:
                cut = s[k - 1]
                keep = s >= cut
                s, p = s[keep], p[keep]
            out.append((s.astype(np.float32), p.astype(np.int64)))
        return out

    def _rank(self, positions: np.ndarray, scores: np.ndarray, k: int) -> dict[str, float]:
        """trec_eval order (float32 score desc, doc id desc), cut at ``k``, strictly decreasing."""
        ids = self.index.doc_ids
        ranked = rank_for_trec(
            {ids[p]: float(s) for p, s in zip(positions, scores, strict=True)}, k
        )
        return {did: float(s) for did, s in ranked}

    # ------------------------------------------------------------ explaining
    def explain(
        self, query_text: str, doc_id: str | None = None, *, doc_text: str | None = None
    ) -> Explanation:
        """Token-level view of how a query matches one document.

        Parameters
        ----------
        query_text : str
        doc_id : str, optional
            A document of the index (its stored text is used).
        doc_text : str, optional
            Or any raw text (exactly one of ``doc_id`` / ``doc_text``).

        Returns
        -------
        Explanation

        Raises
        ------
        ValueError
            Empty query, unknown ``doc_id`` (an :class:`~.index.UnknownDocumentError`),
            or not exactly one of ``doc_id`` / ``doc_text``.
        """
        return explain_pair(self, query_text, doc_id, doc_text=doc_text)
