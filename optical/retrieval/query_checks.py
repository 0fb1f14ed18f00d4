"""Checks on what a search is asked: query texts, search arguments, retriever settings.

Everything here runs before any query is encoded, so bad input costs nothing.

- :func:`query_problem` / :func:`check_query` / :func:`check_queries` — one query or a
  whole query set (a benchmark split too): empty queries, and queries with no visible
  character (only whitespace, zero-width characters such as U+200B/U+200C/U+200D/
  U+2060/U+FEFF, NUL or other control characters) are refused, naming every bad id.
- :func:`check_search_args` — ``mode`` one of :data:`MODES`; ``k``, ``rerank_depth``
  and ``batch_size`` ints >= 1; ``exact`` a bool or None (and only for ``maxsim``).
- :func:`check_retriever_settings` — a :class:`~.search.Retriever`'s
  ``exact_maxsim_max_docs``, ``ot_eps`` and ``ot_max_iter``.
"""

from __future__ import annotations

import numbers
import unicodedata
from collections.abc import Mapping

import numpy as np

__all__ = [
    "MODES",
    "check_queries",
    "check_query",
    "check_retriever_settings",
    "check_search_args",
    "query_problem",
]

MODES = ("pooled", "maxsim", "ot")
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


def _positive_int(name: str, value: object) -> int:
    """``value`` as an int >= 1 (Python or numpy integers; not bools, floats or strings)."""
    if isinstance(value, bool) or not isinstance(value, numbers.Integral) or value < 1:
        raise ValueError(f"{name} must be an int >= 1, got {value!r}")
    return int(value)


def check_search_args(
    mode: object, k: object, rerank_depth: object, batch_size: object, exact: object
) -> tuple[int, int, int]:
    """``(k, rerank_depth, batch_size)`` as ints, once every search argument is valid.

    Raises
    ------
    ValueError
        ``mode`` not one of :data:`MODES`; ``k``, ``rerank_depth`` or ``batch_size`` not an
        int >= 1; ``exact`` not True, False or None, or True for a mode other than
        ``maxsim`` (checked in that order).
    """
    if not isinstance(mode, str) or mode not in MODES:
        raise ValueError(f"unknown mode {mode!r}; use one of {', '.join(MODES)}")
    k = _positive_int("k", k)
    rerank_depth = _positive_int("rerank_depth", rerank_depth)
    batch_size = _positive_int("batch_size", batch_size)
    if exact is not None and not isinstance(exact, bool | np.bool_):
        raise ValueError(f"exact must be True, False or None, got {exact!r}")
    if exact and mode != "maxsim":
        raise ValueError("exact scoring is only available for mode='maxsim'")
    return k, rerank_depth, batch_size


def check_retriever_settings(
    exact_maxsim_max_docs: object, ot_eps: object, ot_max_iter: object
) -> tuple[int, float, int]:
    """``(exact_maxsim_max_docs, ot_eps, ot_max_iter)`` as ``(int, float, int)``.

    Raises
    ------
    ValueError
        ``exact_maxsim_max_docs`` not an int >= 0, ``ot_eps`` not a finite number > 0, or
        ``ot_max_iter`` not an int >= 1 (checked in that order).
    """
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
    return int(exact_maxsim_max_docs), float(ot_eps), _positive_int("ot_max_iter", ot_max_iter)
