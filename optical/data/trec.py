"""TREC formats: qrels, runs and topics.

Formats
-------
- qrels: ``qid iter docid rel`` per line, whitespace-separated; ``rel`` an integer.
- run: ``qid Q0 docid rank score tag`` per line; ``rank`` an integer, ``score`` a
  float. The rank column is ignored by trec_eval (and by :func:`read_run`).
- topics: either TREC's SGML-like ``<top> <num> … <title> … <desc> … </top>``
  blocks (closing field tags and CLEF-style ``<EN-title>`` are accepted), or a
  plain ``qid<TAB>text`` TSV (MIRACL, mMARCO).

Blank lines are ignored. A duplicate (qid, docid) in qrels or a run, and a
duplicate topic id, are errors naming both lines.

Tie-breaking in :func:`write_run`
---------------------------------
trec_eval ignores the rank column: it re-sorts each query's documents by score
descending, comparing scores as **32-bit floats** (``float sim`` in
``form_res_rels.c``), and breaks ties by docid *descending* (``strcmp``). So two
float64 scores that differ below float32 precision tie in trec_eval, and a
nudge with ``numpy.nextafter`` in float64 would be lost. :func:`write_run`
therefore

1. sorts exactly as trec_eval would sort the in-memory run: float32 score
   descending, ties broken by **docid descending** (so a run scores the same
   in memory, through :mod:`optical.evaluation`, and from its file);
2. keeps the first ``depth`` documents;
3. rounds each score to float32 and, where it is not strictly below the previous
   written score, replaces it by the next float32 below that one
   (``numpy.nextafter`` in float32);
4. prints the shortest decimal that reads back (through float64, as trec_eval's
   ``atof`` does) to exactly that float32.

The written scores are strictly decreasing both as float32 and float64, so
trec_eval, pytrec_eval and any score-sorting reader see exactly the order of
step 1. Scores may move by a few float32 ulps; the ranking never changes.
"""

from __future__ import annotations

import math
import os
import re
from collections.abc import Iterator, Mapping
from pathlib import Path

import numpy as np

from optical.data.errors import DataFormatError, claim_line, iter_lines, read_text
from optical.data.types import Qrels, Run
from optical.paths import atomic_path

__all__ = [
    "DUPLICATE_JUDGEMENT",
    "read_qrels",
    "read_run",
    "write_run",
    "read_topics",
    "rank_for_trec",
]

_QRELS_EXPECTED = "4 whitespace-separated fields: query-id iteration doc-id relevance"
_RUN_EXPECTED = "6 whitespace-separated fields: query-id Q0 doc-id rank score tag"
_NEG_INF32 = np.float32(-np.inf)
#: The message of a qrels line judging a (query, document) pair again (TREC and BEIR qrels).
DUPLICATE_JUDGEMENT = (
    "duplicate judgement for query {0!r}, document {1!r} (first on line {first}); "
    "expected one judgement per pair"
)


def read_qrels(path: str | os.PathLike[str]) -> Qrels:
    """Read TREC qrels (``qid iter docid rel``).

    Raises
    ------
    FileNotFoundError
        No such file.
    DataFormatError
        Wrong field count, a non-integer relevance, a duplicate (qid, docid), or
        text that is not UTF-8.
    """
    qrels: Qrels = {}
    first: dict[tuple[str, str], int] = {}
    for lineno, text, fields in _rows(path, "TREC qrels", _QRELS_EXPECTED, 4):
        qid, _, did, rel_text = fields
        try:
            rel = int(rel_text)
        except ValueError:
            raise DataFormatError(
                path, lineno, "an integer relevance in the fourth field", text
            ) from None
        claim_line(first, (qid, did), path, lineno, "one judgement per (query-id, doc-id)",
                   DUPLICATE_JUDGEMENT, qid, did)  # fmt: skip
        qrels.setdefault(qid, {})[did] = rel
    return qrels


def _rows(path: str | os.PathLike[str], what: str, expected: str, n_fields: int) -> Iterator:
    """``(line, text, fields)`` of each non-blank line of a whitespace-separated file whose
    lines must have ``n_fields`` fields (``expected`` describes them)."""
    for lineno, text in iter_lines(path, f"{what} ({expected})"):
        fields = text.split()
        if not fields:
            continue
        if len(fields) != n_fields:
            raise DataFormatError(path, lineno, f"{expected}, found {len(fields)}", text)
        yield lineno, text, fields


def read_run(path: str | os.PathLike[str]) -> Run:
    """Read a TREC run (``qid Q0 docid rank score tag``) into ``{qid: {docid: score}}``.

    Raises
    ------
    FileNotFoundError
        No such file.
    DataFormatError
        Wrong field count, a non-integer rank (usually a missing ``Q0`` column), a
        score that is not a float (or is NaN), a duplicate (qid, docid) — the
        error names both lines — or text that is not UTF-8.
    """
    run: Run = {}
    first: dict[tuple[str, str], int] = {}
    for lineno, text, fields in _rows(path, "a TREC run", _RUN_EXPECTED, 6):
        qid, _, did, rank, score_text, _ = fields
        try:
            int(rank)
        except ValueError:
            raise DataFormatError(
                path, lineno, "an integer rank in the fourth field", text
            ) from None
        try:
            score = float(score_text)
        except ValueError:
            score = math.nan
        if math.isnan(score):
            raise DataFormatError(path, lineno, "a float score in the fifth field", text)
        claim_line(first, (qid, did), path, lineno, "each document at most once per query",
                   "duplicate document {1!r} for query {0!r} (lines {first} and {line}); "
                   "expected each document at most once per query", qid, did)  # fmt: skip
        run.setdefault(qid, {})[did] = score
    return run


def _check_token(value: str, what: str) -> None:
    if not value or any(c.isspace() for c in value):
        raise ValueError(
            f"{what} {value!r} is empty or contains whitespace; TREC files cannot hold it"
        )


def _score_text(value: np.float32) -> str:
    text = str(value)
    if np.float32(float(text)) == value:
        return text
    return repr(float(value))  # exact decimal of the float32 (always reads back exactly)


def rank_for_trec(
    scores: Mapping[str, float], depth: int | None = None
) -> list[tuple[str, np.float32]]:
    """Order one query's documents as :func:`write_run` writes them.

    Sorts as trec_eval does (float32 score descending, ties by docid descending),
    cuts at ``depth`` and
    returns float32 scores made strictly decreasing (see the module docstring).

    Raises
    ------
    ValueError
        A score is NaN/infinite or outside the float32 range.
    """
    items: list[tuple[str, float]] = []
    for did, raw in scores.items():
        value = float(raw)
        if not math.isfinite(value):
            raise ValueError(f"document {did!r} has non-finite score {value!r}")
        items.append((did, value))
    # trec_eval's own order: float32 score descending, ties by docid descending
    with np.errstate(over="ignore"):
        items32 = [(did, np.float32(value), value) for did, value in items]
    items32.sort(key=lambda item: item[0], reverse=True)
    items32.sort(key=lambda item: -item[1])
    if depth is not None:
        items32 = items32[:depth]
    ranked: list[tuple[str, np.float32]] = []
    prev: np.float32 | None = None
    for did, v, value in items32:
        if prev is not None and v >= prev:
            v = np.nextafter(prev, _NEG_INF32)
        if not np.isfinite(v):
            raise ValueError(f"score {value!r} of document {did!r} does not fit a float32")
        ranked.append((did, v))
        prev = v
    return ranked


def write_run(
    run: Mapping[str, Mapping[str, float]],
    path: str | os.PathLike[str],
    tag: str = "optical",
    depth: int | None = None,
) -> None:
    """Write ``run`` in TREC format, atomically, in an order trec_eval reads back.

    Queries are written in sorted qid order, each with its documents ranked as
    :func:`rank_for_trec` does (float32 score descending, ties by docid descending as
    trec_eval breaks them, scores
    made strictly decreasing in float32); ranks start at 1.

    Parameters
    ----------
    run : mapping
        ``{qid: {docid: score}}``.
    path : str or PathLike
        Output file.
    tag : str, default "optical"
        The run tag (last column).
    depth : int, optional
        Keep only the top ``depth`` documents per query.

    Raises
    ------
    ValueError
        An id or the tag is empty or contains whitespace, a score is not finite,
        or ``depth`` < 1. Nothing is written.
    """
    _check_token(tag, "run tag")
    if depth is not None and depth < 1:
        raise ValueError(f"depth must be >= 1, got {depth}")
    lines: list[str] = []
    for qid in sorted(run):
        _check_token(qid, "query id")
        for rank, (did, score) in enumerate(rank_for_trec(run[qid], depth), start=1):
            _check_token(did, "document id")
            lines.append(f"{qid} Q0 {did} {rank} {_score_text(score)} {tag}\n")
    with atomic_path(path) as tmp, open(tmp, "w", encoding="utf-8", newline="") as fh:
        fh.writelines(lines)


# --------------------------------------------------------------------------- topics

_TAG = re.compile(r"<(/?)([A-Za-z][\w-]*)[^>]*>")
_FIELD_ALIASES = {
    "title": "title",
    "desc": "desc",
    "description": "desc",
    "narr": "narr",
    "narrative": "narr",
}
_PREFIXES = {
    "num": re.compile(r"^\s*(number|topic)\s*:\s*", re.I),
    "title": re.compile(r"^\s*topic\s*:\s*", re.I),
    "desc": re.compile(r"^\s*description\s*:\s*", re.I),
    "narr": re.compile(r"^\s*narrative\s*:\s*", re.I),
}
_TSV_HEADERS = {
    (qid, text)
    for qid in ("qid", "id", "query_id", "query-id", "topic_id")
    for text in ("query", "text", "title")
}


def _canonical(tag: str) -> str:
    tag = tag.lower()
    base = tag.rsplit("-", 1)[-1]  # CLEF: <EN-title>, <SW-desc>
    return _FIELD_ALIASES.get(base, base)


def _line_of(text: str, pos: int) -> int:
    return text.count("\n", 0, pos) + 1


def _read_sgml_topics(path: Path, text: str, field: str) -> dict[str, str]:
    topics: dict[str, str] = {}
    first: dict[str, int] = {}
    open_at: int | None = None
    for m in re.finditer(r"<(/?)top\b[^>]*>", text, re.I):
        closing = m.group(1) == "/"
        if not closing:
            if open_at is not None:
                raise DataFormatError(
                    path,
                    _line_of(text, open_at),
                    "</top> before the next <top>",
                    text[open_at : m.end()],
                )
            open_at = m.start()
            body_start = m.end()
            continue
        if open_at is None:
            raise DataFormatError(path, _line_of(text, m.start()), "<top> before </top>")
        line = _line_of(text, open_at)
        fields: dict[str, str] = {}
        tags = list(_TAG.finditer(text, body_start, m.start()))
        for i, tag in enumerate(tags):
            if tag.group(1):
                continue
            end = tags[i + 1].start() if i + 1 < len(tags) else m.start()
            name = _canonical(tag.group(2))
            value = text[tag.end() : end]
            if name in _PREFIXES:
                value = _PREFIXES[name].sub("", value, count=1)
            fields.setdefault(name, " ".join(value.split()))
        qid = fields.get("num", "").split()
        if not qid:
            raise DataFormatError(path, line, "a <num> with the topic number in this <top>", None)
        if not fields.get(field):
            raise DataFormatError(path, line, f"a non-empty <{field}> in topic {qid[0]}", None)
        claim_line(first, qid[0], path, line, "unique topic numbers",
                   "duplicate topic {0!r} (first at line {first}); expected unique topic numbers",
                   qid[0])  # fmt: skip
        topics[qid[0]] = fields[field]
        open_at = None
    if open_at is not None:
        raise DataFormatError(path, _line_of(text, open_at), "a </top> closing this <top>")
    if not topics:
        raise DataFormatError(path, None, "at least one <top> … </top> topic")
    return topics


def _read_tsv_topics(path: Path, text: str) -> dict[str, str]:
    topics: dict[str, str] = {}
    first: dict[str, int] = {}
    for lineno, line in enumerate(text.split("\n"), start=1):
        line = line.removesuffix("\r")
        if not line.strip():
            continue
        fields = line.split("\t")
        if len(fields) != 2:
            raise DataFormatError(
                path, lineno, f"2 tab-separated fields: query-id, text (found {len(fields)})", line
            )
        qid, query = fields[0].strip(), fields[1].strip()
        if lineno == 1 and (qid.lower(), query.lower()) in _TSV_HEADERS:
            continue
        if not qid or not query:
            raise DataFormatError(path, lineno, "a non-empty query id and text", line)
        claim_line(first, qid, path, lineno, "unique query ids",
                   "duplicate query id {0!r} (first on line {first}); expected unique query ids",
                   qid)  # fmt: skip
        topics[qid] = query
    return topics


def read_topics(path: str | os.PathLike[str], field: str = "title") -> dict[str, str]:
    """Read TREC topics: SGML-like ``<top>`` blocks or a ``qid<TAB>text`` TSV.

    Parameters
    ----------
    path : str or PathLike
        The topics file (``.gz`` is decompressed).
    field : {"title", "desc", "narr"}, default "title"
        Which SGML field to return (ignored for TSV). Whitespace is collapsed and
        the ``Number:``/``Description:``/``Narrative:`` labels removed.

    Returns
    -------
    dict[str, str]
        Topic id → text, in file order.

    Raises
    ------
    FileNotFoundError
        No such file.
    DataFormatError
        An unclosed ``<top>``, a topic without ``<num>`` or the requested field, a
        TSV line without exactly two fields, a duplicate id, or non-UTF-8 text.
    """
    if field.lower() not in _FIELD_ALIASES:
        raise ValueError(f"field must be one of 'title', 'desc', 'narr', got {field!r}")
    p = Path(path)
    text = read_text(p, "a TREC topics file (<top> blocks or qid<TAB>text lines)")
    if re.search(r"<top\b[^>]*>", text, re.I):
        return _read_sgml_topics(p, text, _FIELD_ALIASES[field.lower()])
    return _read_tsv_topics(p, text)
