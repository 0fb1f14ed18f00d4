"""Reciprocal-rank fusion (Cormack, Clarke & Büttcher, SIGIR 2009) of several rankings.

``score(d) = sum over runs r of 1 / (c + rank_r(d))`` with ranks from 1 (scores descending,
ties by document id, trec_eval's order) and ``c = 60``; a document absent from a run gets
nothing from it. The strongest runs on real African-language CLIR benchmarks fuse a
lexical and a dense ranking: ``rrf:<system>|<system>`` systems
(:func:`optical.systems.parse_system`) do that.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

__all__ = ["RRF_C", "reciprocal_rank_fusion"]

RRF_C = 60


def reciprocal_rank_fusion(
    runs: Sequence[Mapping[str, Mapping[str, float]]], k: int, c: int = RRF_C
) -> dict[str, dict[str, float]]:
    """The fused top ``k`` of every query any run ranks (qid -> {doc id: fused score})."""
    if k < 1 or c < 0:
        raise ValueError(f"k must be >= 1 and c >= 0, got k={k}, c={c}")
    fused: dict[str, dict[str, float]] = {}
    for run in runs:
        for qid, docs in run.items():
            ranked = sorted(docs.items(), key=lambda kv: (-kv[1], kv[0]))
            into = fused.setdefault(qid, {})
            for rank, (doc, _) in enumerate(ranked, 1):
                into[doc] = into.get(doc, 0.0) + 1.0 / (c + rank)
    return {q: dict(sorted(d.items(), key=lambda kv: (-kv[1], kv[0]))[:k]) for q, d in fused.items()}
