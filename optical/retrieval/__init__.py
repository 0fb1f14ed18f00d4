"""Dense retrieval: FAISS indexes with token stores, pooled / MaxSim / OT search, explanations.

- :mod:`.fingerprint` — :func:`model_fingerprint`, a content hash of an encoder.
- :mod:`.faiss_backends` — :func:`make_faiss_index` (flat / ivf / hnsw).
- :mod:`.explanation` — :class:`Explanation` of one (query, document) match.
- :mod:`.index` — :class:`DenseIndex` (build, save/load, fingerprint and corpus checks).
- :mod:`.index_cache` — :func:`corpus_index` (cached under ``$OPTICAL_HOME/indexes``).
- :mod:`.index_format` — the index folder on disk, file checksums, :func:`corpus_checksum`.
- :mod:`.query_checks` — :func:`check_query` and the checks on search arguments.
- :mod:`.scoring` — pure tensor functions: :func:`maxsim_scores`, :func:`ot_scores`.
- :mod:`.search` — :class:`Retriever` (``search``, ``search_one``, ``explain``).
- :mod:`.token_ranking` — token-level loops: candidate rerank, exact MaxSim.
- :mod:`.tokens` — :class:`TokenStore`, per-document token vectors (float16, memory-mapped).
"""

from __future__ import annotations

from optical.retrieval.encoding import encode_texts
from optical.retrieval.explanation import Explanation
from optical.retrieval.faiss_backends import make_faiss_index
from optical.retrieval.fingerprint import model_fingerprint
from optical.retrieval.index import DenseIndex, UnknownDocumentError
from optical.retrieval.index_cache import corpus_index, index_cache_dir
from optical.retrieval.index_format import corpus_checksum
from optical.retrieval.query_checks import MODES, check_query
from optical.retrieval.scoring import (
    cosine_matrix,
    maxsim_matches,
    maxsim_scores,
    maxsim_scores_packed,
    ot_scores,
)
from optical.retrieval.search import Hit, Retriever, SearchResult
from optical.retrieval.tokens import TokenStore

__all__ = [
    "MODES",
    "DenseIndex",
    "Explanation",
    "Hit",
    "Retriever",
    "SearchResult",
    "TokenStore",
    "UnknownDocumentError",
    "check_query",
    "corpus_checksum",
    "corpus_index",
    "cosine_matrix",
    "encode_texts",
    "index_cache_dir",
    "make_faiss_index",
    "maxsim_matches",
    "maxsim_scores",
    "maxsim_scores_packed",
    "model_fingerprint",
    "ot_scores",
]
