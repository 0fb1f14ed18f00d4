"""Dense retrieval: FAISS indexes with token stores, pooled / MaxSim / OT search, explanations.

- :mod:`.fingerprint` — :func:`model_fingerprint`, a content hash of an encoder.
- :mod:`.index` — :class:`DenseIndex` (save/load, fingerprint check), :class:`TokenStore`,
  :func:`corpus_index` (cached under ``$OPTICAL_HOME/indexes``).
- :mod:`.scoring` — pure tensor functions: :func:`maxsim_scores`, :func:`ot_scores`.
- :mod:`.search` — :class:`Retriever` (``search``, ``search_one``, ``explain``).
"""

from __future__ import annotations

from optical.retrieval.encoding import encode_texts
from optical.retrieval.fingerprint import model_fingerprint
from optical.retrieval.index import (
    DenseIndex,
    UnknownDocumentError,
    corpus_checksum,
    corpus_index,
    index_cache_dir,
    make_faiss_index,
)
from optical.retrieval.scoring import (
    cosine_matrix,
    maxsim_matches,
    maxsim_scores,
    maxsim_scores_packed,
    ot_scores,
)
from optical.retrieval.search import MODES, Explanation, Hit, Retriever, SearchResult, check_query
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
