"""Runs and qrels as clean dictionaries: the types, and the checks that build them.

``Run`` maps qid -> docid -> score and ``Qrels`` qid -> docid -> grade (the conventions of
:mod:`optical.evaluation.metrics`). :func:`validate_run` and :func:`validate_qrels` accept
that mapping form or ``(qid, docid, value)`` rows and share one reader (:func:`_clean`):
only the value check and the wording of the errors differ.
"""

from __future__ import annotations

import math
import numbers
from collections.abc import Callable, Iterable, Mapping
from typing import TypeVar

__all__ = ["Qrels", "QrelsLike", "Run", "RunLike", "validate_qrels", "validate_run"]

Run = dict[str, dict[str, float]]
Qrels = dict[str, dict[str, int]]
RunLike = Mapping[str, Mapping[str, float]] | Iterable[tuple[str, str, float]]
QrelsLike = Mapping[str, Mapping[str, int]] | Iterable[tuple[str, str, int]]

# trec_eval keeps scores as C ``float``; float32 represents every integer up to 2**24 exactly.
_MAX_DOCS_PER_QUERY = 2**24

_V = TypeVar("_V")


def _check_id(value: object, what: str) -> str:
    if not isinstance(value, str):
        raise TypeError(f"{what} must be str, got {type(value).__name__} ({value!r})")
    return value


def _check_score(qid: str, docid: str, score: object) -> float:
    if isinstance(score, bool) or not isinstance(score, numbers.Real):
        raise TypeError(f"score of ({qid!r}, {docid!r}) must be a real number, got {score!r}")
    value = float(score)
    if not math.isfinite(value):
        raise ValueError(f"non-finite score {value!r} for query {qid!r}, document {docid!r}")
    return value


def _check_grade(qid: str, docid: str, rel: object) -> int:
    if isinstance(rel, bool) or not isinstance(rel, numbers.Real):
        raise TypeError(f"grade of ({qid!r}, {docid!r}) must be an integer, got {rel!r}")
    if not float(rel).is_integer():
        raise ValueError(f"grade of ({qid!r}, {docid!r}) is not an integer: {rel!r}")
    return int(rel)


def _clean(
    data: Mapping[str, Mapping[str, object]] | Iterable[tuple[str, str, object]],
    what: str,
    value_name: str,
    duplicate: str,
    check_value: Callable[[str, str, object], _V],
) -> dict[str, dict[str, _V]]:
    """``{qid: {docid: check_value(qid, docid, value)}}`` from a mapping or from rows.

    ``what`` ("run", "qrels") and ``value_name`` ("score", "grade") word the errors;
    a row repeating a ``(qid, docid)`` raises "duplicate ``duplicate`` <docid> for query
    <qid> in ``what``".
    """
    clean: dict[str, dict[str, _V]] = {}
    if isinstance(data, Mapping):
        for qid, docs in data.items():
            _check_id(qid, "query id")
            if not isinstance(docs, Mapping):
                raise TypeError(f"{what}[{qid!r}] must be a mapping docid -> {value_name}")
            clean[qid] = {
                _check_id(d, "document id"): check_value(qid, d, v) for d, v in docs.items()
            }
        return clean
    for row in data:
        if len(row) != 3:
            raise ValueError(f"{what} rows must be (qid, docid, {value_name}), got {row!r}")
        qid, docid, value = row
        docs = clean.setdefault(_check_id(qid, "query id"), {})
        if _check_id(docid, "document id") in docs:
            raise ValueError(f"duplicate {duplicate} {docid!r} for query {qid!r} in {what}")
        docs[docid] = check_value(qid, docid, value)
    return clean


def validate_run(run: RunLike) -> Run:
    """Check a run and return it as a clean ``dict[str, dict[str, float]]``.

    Parameters
    ----------
    run : mapping qid -> {docid: score}, or iterable of ``(qid, docid, score)`` rows
        Rows (e.g. parsed from a TREC run file) may contain the same ``(qid, docid)`` twice,
        which is rejected; in mapping form duplicates cannot occur.  To read TREC files use
        ``optical.data.trec.read_run`` / ``read_qrels``.

    Returns
    -------
    Run
        A new dictionary with ``float`` scores.

    Raises
    ------
    ValueError
        Empty run (no query with at least one document), duplicate ``(qid, docid)`` rows,
        NaN or infinite scores.
    TypeError
        Non-``str`` ids or non-numeric scores.
    """
    clean = _clean(run, "run", "score", "document", _check_score)
    if not any(clean.values()):
        raise ValueError("empty run: no query has any retrieved document")
    for qid, docs in clean.items():
        if len(docs) > _MAX_DOCS_PER_QUERY:
            raise ValueError(f"query {qid!r} has more than 2**24 documents")
    return clean


def validate_qrels(qrels: QrelsLike) -> Qrels:
    """Check qrels and return them as a clean ``dict[str, dict[str, int]]``.

    Parameters
    ----------
    qrels : mapping qid -> {docid: grade}, or iterable of ``(qid, docid, grade)`` rows
        Grades must be integers (integral floats such as ``1.0`` are accepted).

    Returns
    -------
    Qrels

    Raises
    ------
    ValueError
        Empty qrels, duplicate ``(qid, docid)`` rows, non-integral grades.
    TypeError
        Non-``str`` ids or non-numeric grades.
    """
    clean = _clean(qrels, "qrels", "grade", "judgement of", _check_grade)
    if not any(clean.values()):
        raise ValueError("empty qrels: no query has any judgement")
    return clean
