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
:data:`MODES`; anything else raises ``ValueError`` before any work. Empty queries,
and queries with no visible character (only whitespace, zero-width characters
such as U+200B/U+200C/U+200D/U+2060/U+FEFF, NUL or other control characters)
raise ``ValueError("empty query (query id ...)")`` (:func:`check_query`): they
would otherwise be ranked by the prefix and special tokens alone. A query set —
a whole benchmark split too — with such queries is refused as a whole, naming
every bad query id: scoring them silently would be wrong, and dropping them would
change what the benchmark measures.

Long and unusual queries
------------------------
Queries longer than the query encoder's token limit (``encoder.max_length``) are
truncated to it — the tokenizer keeps the first tokens — without an error. Any
script, emoji and mixed direction text is accepted (characters the vocabulary
lacks become ``<unk>`` tokens). A query that yields no content token at all is
ranked by its pooled vector in every mode.
"""

from __future__ import annotations

import numbers
import time
import unicodedata
from collections.abc import Mapping
from dataclasses import dataclass, field

import numpy as np
import torch

from optical.data.trec import rank_for_trec
from optical.data.types import Run
from optical.retrieval.encoding import encode_texts
from optical.retrieval.index import DenseIndex
from optical.retrieval.scoring import (
    cosine_matrix,
    exact_operand,
    maxsim_matches,
    maxsim_scores_packed,
    ot_scores,
)

__all__ = [
    "MODES",
    "Explanation",
    "Hit",
    "Retriever",
    "SearchResult",
    "check_queries",
    "check_query",
    "query_problem",
]

MODES = ("pooled", "maxsim", "ot")
_EXTRA = 8  # candidates fetched beyond k to see ties at the cut
_CELLS = 1 << 24  # max similarity cells (float64: 128 MiB) materialised at once in exact MaxSim
_BLOCK_DOCS = 1024  # documents per block in exact MaxSim
_QUERY_CHUNK = 256  # queries scored together in exact MaxSim
_OT_GROUP = 32  # OT rerank: candidates per Sinkhorn call (all of one padded width)
_OT_WIDTHS = (8, 16, 24, 32, 48, 64, 96, 128, 192, 256, 384, 512)  # OT rerank padding
# Unicode categories of characters that show nothing: control (NUL ...), format (zero-width
# space/joiners, word joiner, BOM, bidi marks), surrogates, and separators.
_INVISIBLE = frozenset({"Cc", "Cf", "Cs", "Zs", "Zl", "Zp"})


def _invisible(ch: str) -> bool:
    """Whitespace, separators, control (NUL ...), format (zero-width, BOM) and surrogates."""
    return ch.isspace() or unicodedata.category(ch) in _INVISIBLE


def query_problem(text: object) -> str | None:
    """Why ``text`` cannot be a query (``None`` when it can).

    Returns
    -------
    str or None
        ``"empty query"``, ``"empty query: only invisible characters (U+200B, ...)"``,
        or ``"not a string (int)"``.
    """
    if not isinstance(text, str):
        return f"not a string ({type(text).__name__})"
    if not text.strip():
        return "empty query"
    if all(_invisible(ch) for ch in text):
        shown = ", ".join(dict.fromkeys(f"U+{ord(ch):04X}" for ch in text if not ch.isspace()))
        return (
            f"empty query: only invisible characters ({shown}; whitespace, zero-width or "
            "control characters such as NUL)"
        )
    return None


def check_query(text: object, qid: str | None = None) -> str:
    """Return ``text`` if it is a usable query; raise otherwise.

    The one check every path that encodes query text for search uses (``Retriever.search``
    and ``search_one``, ``optical search``, the app's search service).

    Raises
    ------
    TypeError
        Not a string.
    ValueError
        ``"empty query ..."``: empty, whitespace only, or only zero-width / control
        characters (U+200B, U+200C, U+200D, U+2060, U+FEFF, NUL, ...).
    """
    where = f" (query id {qid!r})" if qid is not None else ""
    problem = query_problem(text)
    if problem is None:
        return text  # type: ignore[return-value]
    if not isinstance(text, str):
        raise TypeError(f"query{where} must be a string, got {type(text).__name__}")
    head, _, detail = problem.partition(": ")
    raise ValueError(f"{head}{where}" + (f": {detail}" if detail else ""))


def check_queries(queries: Mapping[str, object]) -> list[str]:
    """Texts of ``queries`` (qid -> text) in order; refuse the set if any query is unusable.

    Raises
    ------
    TypeError
        ``queries`` is not a mapping, or a query is not a string.
    ValueError
        One bad query: :func:`check_query`'s message. Several: one line naming how many
        and their ids (the first 10), so a benchmark is fixed in one go.
    """
    if not isinstance(queries, Mapping):
        raise TypeError("queries must be a mapping {qid: text}")
    bad = [(q, p) for q, p in ((q, query_problem(t)) for q, t in queries.items()) if p]
    if len(bad) == 1 or (bad and not isinstance(queries[bad[0][0]], str)):
        check_query(queries[bad[0][0]], bad[0][0])
    if bad:
        ids = ", ".join(repr(q) for q, _ in bad[:10]) + (", ..." if len(bad) > 10 else "")
        raise ValueError(
            f"{len(bad)} of {len(queries)} queries are empty or hold only invisible "
            f"characters (query ids {ids}); fix or remove them: they cannot be ranked"
        )
    return [queries[q] for q in queries]  # type: ignore[misc]


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


@dataclass
class Explanation:
    """Everything a token-alignment heatmap needs for one (query, document) pair.

    Attributes
    ----------
    query, doc_text : str
        The texts (``doc_id`` is None when explaining raw text).
    query_tokens, doc_tokens : list of str
        Content sub-words (no special tokens, no prefix): ``n`` and ``m`` of them.
    similarity : numpy.ndarray, shape (n, m), float32
        Cosine of every query token with every document token.
    maxsim_index : numpy.ndarray, shape (n,), int64
        Best document token of each query token (``-1`` when ``m == 0``).
    maxsim_values : numpy.ndarray, shape (n,), float32
        Its cosine; ``maxsim_score`` is their sum (the ``maxsim`` mode score).
    ot_plan : numpy.ndarray, shape (n, m), float32
        Balanced entropic OT plan (rows sum to 1/n, columns to 1/m).
    ot_cost : float
        ``<ot_plan, 1 - similarity>``; the ``ot`` mode score is ``-ot_cost``.
    ot_marginal_error : float
        L1 distance of the plan's marginals from uniform (convergence check).
    pooled_cosine : float
        Inner product of the pooled vectors (the ``pooled`` mode score).
    """

    query: str
    doc_id: str | None
    doc_text: str
    query_tokens: list[str]
    doc_tokens: list[str]
    similarity: np.ndarray
    maxsim_index: np.ndarray
    maxsim_values: np.ndarray
    maxsim_score: float
    ot_plan: np.ndarray
    ot_cost: float
    ot_eps: float
    ot_marginal_error: float
    pooled_cosine: float

    def matches(self) -> list[tuple[str, str, float]]:
        """``(query token, best document token, cosine)`` per query token."""
        return [
            (q, self.doc_tokens[j] if j >= 0 else "", float(v))
            for q, j, v in zip(
                self.query_tokens, self.maxsim_index, self.maxsim_values, strict=True
            )
        ]


def _content_tokens(encoder, text: str, is_query: bool) -> list[str]:
    batch = encoder.tokenize([text], is_query)
    real = batch.tokens[0]
    keep = batch.content_mask[0, : len(real)].tolist()
    return [t for t, k in zip(real, keep, strict=True) if k]


def _pad(tokens: list[np.ndarray], dim: int, device: torch.device):
    """Stack variable-length ``[n_i, H]`` arrays into ``[B, n, H]`` + mask ``[B, n]``."""
    width = max([len(t) for t in tokens] + [1])
    out = np.zeros((len(tokens), width, dim), dtype=np.float32)
    mask = np.zeros((len(tokens), width), dtype=bool)
    for i, t in enumerate(tokens):
        out[i, : len(t)] = t
        mask[i, : len(t)] = True
    return torch.from_numpy(out).to(device), torch.from_numpy(mask).to(device)


def _positive_int(name: str, value: object) -> int:
    """``value`` as an int >= 1 (Python or numpy integers; not bools, floats or strings)."""
    if isinstance(value, bool) or not isinstance(value, numbers.Integral) or value < 1:
        raise ValueError(f"{name} must be an int >= 1, got {value!r}")
    return int(value)


def _padded_width(length: int) -> int:
    """Token slots a document of ``length`` tokens is padded to in OT reranking: a function
    of its own length only (at most 1.5x padding past 16 tokens)."""
    for width in _OT_WIDTHS:
        if length <= width:
            return width
    return -(-length // 256) * 256


def _width_groups(lengths: np.ndarray, size: int) -> list[tuple[int, np.ndarray]]:
    """``(padded width, indices)`` groups of at most ``size`` documents of one width, so a
    document's padded shape never depends on the other candidates."""
    widths = np.array([_padded_width(int(n)) for n in lengths], dtype=np.int64)
    groups = []
    for width in np.unique(widths):
        members = np.flatnonzero(widths == width)
        groups += [(int(width), members[i : i + size]) for i in range(0, len(members), size)]
    return groups


def _progress_bar(progress: bool, total: int, desc: str, unit: str):
    """A tqdm bar on stderr (the encoding's mechanism); disabled when ``progress`` is False."""
    from tqdm.auto import tqdm

    return tqdm(total=total, desc=desc, unit=unit, disable=not progress)


def _bar(items, progress: bool, desc: str, unit: str):
    from tqdm.auto import tqdm

    return tqdm(items, desc=desc, unit=unit, disable=not progress)


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
        if (
            isinstance(exact_maxsim_max_docs, bool)
            or not isinstance(exact_maxsim_max_docs, numbers.Integral)
            or exact_maxsim_max_docs < 0
        ):
            raise ValueError(
                f"exact_maxsim_max_docs must be an int >= 0, got {exact_maxsim_max_docs!r}"
            )
        if (
            isinstance(ot_eps, bool)
            or not isinstance(ot_eps, numbers.Real)
            or not (0 < float(ot_eps) < float("inf"))
        ):
            raise ValueError(f"ot_eps must be a number > 0, got {ot_eps!r}")
        self.exact_maxsim_max_docs = int(exact_maxsim_max_docs)
        self.ot_eps = float(ot_eps)
        self.ot_max_iter = _positive_int("ot_max_iter", ot_max_iter)

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
        if not isinstance(mode, str) or mode not in MODES:
            raise ValueError(f"unknown mode {mode!r}; use one of {', '.join(MODES)}")
        k = _positive_int("k", k)
        rerank_depth = _positive_int("rerank_depth", rerank_depth)
        batch_size = _positive_int("batch_size", batch_size)
        if exact is not None and not isinstance(exact, bool | np.bool_):
            raise ValueError(f"exact must be True, False or None, got {exact!r}")
        if exact and mode != "maxsim":
            raise ValueError("exact scoring is only available for mode='maxsim'")
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
            if exact:
                scored = self._maxsim_exact([q_tokens[i] for i in token_rows], k_eff, progress)
            else:
                scored = [
                    self._rerank(mode, q_tokens[i], cand[i][1])
                    for i in _bar(token_rows, progress, f"{mode} rerank", "query")
                ]
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

    # ---------------------------------------------------------------- tokens
    def _rerank(self, mode: str, q_tok: np.ndarray, positions: np.ndarray):
        """Token scores of one query against candidate ``positions``.

        MaxSim: one GEMM over the candidates' packed token rows (no padding) and a
        segmented max. OT: Sinkhorn on padded groups of similar-length candidates
        (its cost grows with the padded n x m cells).
        """
        store = self.index.tokens
        q = torch.from_numpy(np.ascontiguousarray(q_tok, dtype=np.float32)).to(self.device)[None]
        with torch.inference_mode():
            if mode == "maxsim":
                rows, doc = store.gather_packed(positions)
                s = maxsim_scores_packed(
                    q, torch.from_numpy(rows).to(self.device), torch.from_numpy(doc), len(positions)
                )
                return positions, s[0].float().cpu().numpy()
            scores = np.empty(len(positions), dtype=np.float32)
            for width, group in _width_groups(store.lengths[positions], _OT_GROUP):
                d, d_mask = store.gather(positions[group])
                pad = width - d.shape[1]
                d = np.pad(d, ((0, 0), (0, pad), (0, 0)))
                d_mask = np.pad(d_mask, ((0, 0), (0, pad)))
                s = ot_scores(
                    q,
                    torch.from_numpy(d).to(self.device),
                    None,
                    torch.from_numpy(d_mask).to(self.device),
                    eps=self.ot_eps,
                    max_iter=self.ot_max_iter,
                )
                scores[group] = s[0].float().cpu().numpy()
        return positions, scores

    def _maxsim_exact(
        self, q_tokens: list[np.ndarray], k: int, progress: bool = False
    ) -> list[tuple[np.ndarray, np.ndarray]]:
        """MaxSim of every query against every document; top-k (with ties at the cut)."""
        out = []
        n_docs = len(self.index)
        steps = -(-len(q_tokens) // _QUERY_CHUNK) * max(1, -(-n_docs // _BLOCK_DOCS))
        with _progress_bar(
            progress, steps, f"exact MaxSim ({len(q_tokens)} queries x {n_docs} docs)", "block"
        ) as bar:
            for chunk in range(0, len(q_tokens), _QUERY_CHUNK):
                all_scores = self._maxsim_all(q_tokens[chunk : chunk + _QUERY_CHUNK], bar)
                out += [self._top(row, k) for row in all_scores]
        return out

    def _maxsim_all(self, q_tokens: list[np.ndarray], bar=None) -> np.ndarray:
        """MaxSim scores ``[B_q, n_docs]`` float32; documents in contiguous packed blocks."""
        store = self.index.tokens
        n_docs = len(self.index)
        q_pad, q_mask = _pad(q_tokens, store.dim, self.device)
        q_pad = exact_operand(q_pad)  # once, not per block (float64 passes through scoring)
        all_scores = np.empty((len(q_tokens), n_docs), dtype=np.float32)
        n_q = q_pad.shape[1]
        with torch.inference_mode():
            for start in range(0, n_docs, _BLOCK_DOCS):
                if bar is not None and start:
                    bar.update(1)
                block = np.arange(start, min(n_docs, start + _BLOCK_DOCS))
                # a contiguous slice of the store, float16 -> float64 once per block
                rows, doc = store.gather_packed(block, as_float32=False)
                rows_t = exact_operand(torch.from_numpy(rows).to(self.device))
                doc_t = torch.from_numpy(doc).to(self.device)
                per = max(1, _CELLS // max(1, n_q * len(rows)))
                for qs in range(0, len(q_tokens), per):
                    s = maxsim_scores_packed(
                        q_pad[qs : qs + per], rows_t, doc_t, len(block), q_mask[qs : qs + per]
                    )
                    all_scores[qs : qs + per, start : start + len(block)] = s.float().cpu().numpy()
        if bar is not None:
            bar.update(1)
        return all_scores

    @staticmethod
    def _top(row: np.ndarray, k: int) -> tuple[np.ndarray, np.ndarray]:
        """Positions and scores of the top ``k`` of ``row``, plus ties with the k-th."""
        n_docs = len(row)
        if k < n_docs:
            cut = np.partition(row, n_docs - k)[n_docs - k]
            positions = np.flatnonzero(row >= cut)
        else:
            positions = np.arange(n_docs)
        return positions, row[positions]

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
        from optical.ot import ot_cost, sinkhorn

        check_query(query_text)
        if (doc_id is None) == (doc_text is None):
            raise ValueError("explain needs exactly one of doc_id or doc_text")
        if doc_id is not None:
            text = self.index.text(self.index.position(doc_id))
        else:
            if not isinstance(doc_text, str):
                raise TypeError(f"doc_text must be a string, got {type(doc_text).__name__}")
            text = doc_text
        q_pooled, q_tok = encode_texts(self.query_encoder, [query_text], True)
        d_pooled, d_tok = encode_texts(self.doc_encoder, [text], False)
        q_strings = _content_tokens(self.query_encoder, query_text, True)
        d_strings = _content_tokens(self.doc_encoder, text, False)
        q = torch.from_numpy(q_tok[0]).to(self.device)
        d = torch.from_numpy(d_tok[0]).to(self.device)
        n, m = len(q), len(d)
        with torch.inference_mode():
            sim = cosine_matrix(q, d)
            idx, val = maxsim_matches(sim)
            if n and m:
                cost = 1.0 - sim
                plan = sinkhorn(cost, eps=self.ot_eps, max_iter=self.ot_max_iter)
                total = float(ot_cost(plan, cost))
                err = float(
                    (plan.sum(1) - 1.0 / n).abs().sum() + (plan.sum(0) - 1.0 / m).abs().sum()
                )
            else:
                plan, total, err = torch.zeros(n, m), float("nan"), 0.0
        return Explanation(
            query=query_text,
            doc_id=doc_id,
            doc_text=text,
            query_tokens=q_strings,
            doc_tokens=d_strings,
            similarity=sim.float().cpu().numpy(),
            maxsim_index=idx.cpu().numpy().astype(np.int64),
            maxsim_values=val.float().cpu().numpy(),
            maxsim_score=float(val.sum()),
            ot_plan=plan.float().cpu().numpy(),
            ot_cost=total,
            ot_eps=self.ot_eps,
            ot_marginal_error=err,
            pooled_cosine=float(q_pooled[0] @ d_pooled[0]),
        )
