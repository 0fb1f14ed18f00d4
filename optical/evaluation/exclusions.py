"""Documents a query's ranking must not count: removed before the ranking is scored.

On the cross-reference task (``bible-xref:<lang>``) the query's own English translation
(and its identical-text duplicates) is neither relevant nor irrelevant: a system that
translates well ranks it first, which says nothing about topic relevance. It is taken out
of the ranking, the documents below move up, and the ranking is cut to ``k`` — so every
system is scored on the same ``k`` documents that are not excluded. Searching
:func:`search_depth` documents first makes sure ``k`` remain.
"""

from __future__ import annotations

from collections.abc import Mapping, Set

__all__ = ["drop_excluded", "search_depth"]


def search_depth(k: int, excluded: Mapping[str, Set[str]]) -> int:
    """How many documents to retrieve so that ``k`` remain after the exclusions."""
    return k + max((len(docs) for docs in excluded.values()), default=0)


def drop_excluded(run: Mapping[str, Mapping[str, float]], excluded: Mapping[str, Set[str]],
                  k: int | None = None) -> dict[str, dict[str, float]]:
    """``run`` without each query's excluded documents, cut to its ``k`` best (by score,
    ties kept in the run's order; None: not cut) — the ranking the measures see."""
    out: dict[str, dict[str, float]] = {}
    for qid, docs in run.items():
        drop = excluded.get(qid, frozenset())
        kept = [(d, s) for d, s in docs.items() if d not in drop]
        if k is not None and len(kept) > k:
            kept = sorted(kept, key=lambda item: -item[1])[:k]  # stable: ties keep the run's order
        out[qid] = dict(kept)
    return out
