"""Precision-recall curves and best F1 for score-threshold relevance decisions.

A pair is predicted relevant when its score is ``>= threshold``.  The curve has one point per
*distinct* score, thresholds in decreasing order, so tied pairs always switch together; no
artificial ``(recall 0, precision 1)`` end point is added.

From a run and qrels (:func:`precision_recall_curve_from_run`, :func:`best_f1_from_run`) the
pairs are the retrieved ``(qid, docid)`` pairs of the queries present in the qrels: positive when
``rel >= relevance_level``, negative otherwise (judged non-relevant *or* unjudged, as in
trec_eval).  Run queries absent from the qrels are ignored.  With ``count_unretrieved=True``
(default) relevant pairs that the run never retrieved count in the recall denominator (they are
false negatives at every threshold).  One global threshold is swept over all queries, so
scores must be comparable across queries (e.g. cosine similarities).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import NamedTuple

import numpy as np

from optical.evaluation.run_validation import QrelsLike, RunLike, validate_qrels, validate_run

__all__ = [
    "BestF1",
    "PRCurve",
    "best_f1",
    "best_f1_from_run",
    "pairs_from_run",
    "precision_recall_curve",
    "precision_recall_curve_from_run",
]


class PRCurve(NamedTuple):
    """Precision and recall at each threshold (distinct scores, decreasing)."""

    precision: np.ndarray
    recall: np.ndarray
    thresholds: np.ndarray


class BestF1(NamedTuple):
    """Maximum F1 and the threshold, precision and recall where it is reached."""

    f1: float
    threshold: float
    precision: float
    recall: float


def _curve(scores: np.ndarray, labels: np.ndarray, extra_positives: int = 0) -> PRCurve:
    n_pos = int(labels.sum()) + int(extra_positives)
    if scores.size == 0:
        raise ValueError("no scored pairs")
    if n_pos == 0:
        raise ValueError("no positive pairs: recall is undefined")
    order = np.argsort(-scores, kind="stable")
    s = scores[order]
    y = labels[order].astype(np.int64)
    tp = np.cumsum(y)
    fp = np.cumsum(1 - y)
    last = np.flatnonzero(np.r_[s[1:] != s[:-1], True])  # last index of each score group
    tp, fp = tp[last], fp[last]
    return PRCurve(tp / (tp + fp), tp / n_pos, s[last])


def _check_arrays(
    scores: Sequence[float] | np.ndarray, labels: Sequence[int] | np.ndarray
) -> tuple[np.ndarray, np.ndarray]:
    s = np.asarray(scores, dtype=np.float64)
    y = np.asarray(labels)
    if s.ndim != 1 or s.shape != y.shape:
        raise ValueError(f"scores and labels must be 1-d of equal length: {s.shape} vs {y.shape}")
    if not np.isfinite(s).all():
        raise ValueError("scores must be finite")
    if y.dtype != bool:
        if not np.isin(y, (0, 1)).all():
            raise ValueError("labels must be boolean or 0/1")
        y = y.astype(bool)
    return s, y


def precision_recall_curve(
    scores: Sequence[float] | np.ndarray, labels: Sequence[int] | np.ndarray
) -> PRCurve:
    """Precision-recall curve over flat arrays.

    Parameters
    ----------
    scores : array-like of float
    labels : array-like of bool or {0, 1}
        Needs at least one positive.

    Returns
    -------
    PRCurve
        ``precision[i]`` and ``recall[i]`` when predicting ``score >= thresholds[i]``.
    """
    s, y = _check_arrays(scores, labels)
    return _curve(s, y)


def _best(curve: PRCurve) -> BestF1:
    p, r = curve.precision, curve.recall
    with np.errstate(invalid="ignore", divide="ignore"):
        f1 = np.where(p + r > 0, 2 * p * r / (p + r), 0.0)
    i = int(np.argmax(f1))  # first maximum = highest threshold among ties
    return BestF1(float(f1[i]), float(curve.thresholds[i]), float(p[i]), float(r[i]))


def best_f1(scores: Sequence[float] | np.ndarray, labels: Sequence[int] | np.ndarray) -> BestF1:
    """Best F1 over all thresholds of :func:`precision_recall_curve`.

    Parameters
    ----------
    scores : array-like of float
    labels : array-like of bool or {0, 1}

    Returns
    -------
    BestF1
        ``(f1, threshold, precision, recall)``; among equal F1 values the highest threshold.
    """
    return _best(precision_recall_curve(scores, labels))


def pairs_from_run(
    run: RunLike, qrels: QrelsLike, relevance_level: int = 1
) -> tuple[np.ndarray, np.ndarray, int]:
    """Flatten a run into scored, labelled ``(qid, docid)`` pairs.

    Parameters
    ----------
    run : Run
    qrels : Qrels
    relevance_level : int, default 1

    Returns
    -------
    scores : numpy.ndarray of float
        Scores of the retrieved pairs of queries present in the qrels (sorted by qid, docid).
    labels : numpy.ndarray of bool
        ``rel >= relevance_level`` (unjudged pairs are negative).
    n_unretrieved : int
        Relevant pairs of the qrels that the run did not retrieve.
    """
    clean_run = validate_run(run)
    clean_qrels = validate_qrels(qrels)
    scores: list[float] = []
    labels: list[bool] = []
    n_unretrieved = 0
    for qid in sorted(clean_qrels):
        judged = clean_qrels[qid]
        docs = clean_run.get(qid, {})
        for docid in sorted(docs):
            scores.append(docs[docid])
            labels.append(judged.get(docid, 0) >= relevance_level)
        n_unretrieved += sum(1 for d, r in judged.items() if r >= relevance_level and d not in docs)
    return np.asarray(scores, dtype=np.float64), np.asarray(labels, dtype=bool), n_unretrieved


def precision_recall_curve_from_run(
    run: RunLike, qrels: QrelsLike, relevance_level: int = 1, count_unretrieved: bool = True
) -> PRCurve:
    """Precision-recall curve of a global score threshold over a run (see module docstring).

    Parameters
    ----------
    run : Run
    qrels : Qrels
    relevance_level : int, default 1
    count_unretrieved : bool, default True
        Count relevant-but-unretrieved pairs in the recall denominator.

    Returns
    -------
    PRCurve
    """
    scores, labels, missed = pairs_from_run(run, qrels, relevance_level)
    return _curve(scores, labels, missed if count_unretrieved else 0)


def best_f1_from_run(
    run: RunLike, qrels: QrelsLike, relevance_level: int = 1, count_unretrieved: bool = True
) -> BestF1:
    """Best F1 (:class:`BestF1`) of a global score threshold over a run; the parameters are
    those of :func:`precision_recall_curve_from_run`."""
    return _best(precision_recall_curve_from_run(run, qrels, relevance_level, count_unretrieved))
