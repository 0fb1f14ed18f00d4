"""Ranking metrics with trec_eval semantics, computed through ``ir_measures``.

Runs and qrels are plain dictionaries, as in ``ir_measures`` / ``ranx``::

    Run = dict[str, dict[str, float]]    # qid -> docid -> score
    Qrels = dict[str, dict[str, int]]    # qid -> docid -> graded relevance (0 = judged non-relevant)

Semantics (all follow ``trec_eval``; the numbers equal ``pytrec_eval``'s to floating-point
precision, ties included):

* **Ranking and ties.** Documents are ranked by score descending, ties broken by docid
  *descending* (byte/code-point order), exactly as ``trec_eval``.  Like ``trec_eval``, scores are
  compared after conversion to 32-bit floats, so scores that differ by less than float32
  resolution are ties.  The run is re-scored with its (strict) trec_eval rank before it is handed
  to ``ir_measures``, so every provider (``pytrec_eval``, the MS MARCO ``RR@k`` implementation,
  ``Judged@k``) sees the same order.
* **Relevance levels.** Graded measures (``nDCG``) use the qrels grades as gains and ignore
  ``relevance_level``.  Binary measures (``AP``, ``RR``, ``P``, ``R``, ...) count a document as
  relevant when ``rel >= relevance_level``; an explicit ``rel=`` in a measure name wins.
  Negative grades count as non-relevant.  Retrieved documents absent from the qrels are
  non-relevant (unjudged = non-relevant).
* **Queries of the qrels missing from the run** score 0 on every measure and count in the mean
  when ``include_missing=True`` (the default; ``trec_eval -c``).  With ``include_missing=False``
  they are left out (plain ``trec_eval`` / ``pytrec_eval``).  Either way they are listed in the
  warnings.
* **Queries of the run missing from the qrels** are ignored (as ``trec_eval``) and listed in
  the warnings.
* **Queries of the qrels without any relevant document** are evaluated (every binary measure is
  0 for them, as in ``trec_eval``) and listed in the warnings.
* **Aggregate** = arithmetic mean over the evaluated queries.  A run sharing no query with the
  qrels raises ``ValueError`` (almost always a query-id format mismatch).

Warnings are returned, not emitted: :func:`evaluate` returns an :class:`EvalResult` (a ``dict``
with a ``warnings`` list) and :func:`per_query` stores them in ``DataFrame.attrs["warnings"]``.

Measure names are parsed in :mod:`optical.evaluation.measure_names` and runs/qrels checked in
:mod:`optical.evaluation.run_validation`; both are re-exported here.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence

import ir_measures
import numpy as np
import pandas as pd
from ir_measures import Measure

from optical.evaluation.measure_names import (
    MeasureLike,
    at_relevance_level,
    check_relevance_level,
    measure_key,
    parse_measure,
    parse_measures,
)
from optical.evaluation.measure_sets import EVALUATE_MEASURES
from optical.evaluation.run_validation import (
    Qrels,
    QrelsLike,
    Run,
    RunLike,
    validate_qrels,
    validate_run,
)

__all__ = [
    "DEFAULT_MEASURES",
    "EvalResult",
    "MeasureLike",
    "Qrels",
    "Run",
    "check_relevance_level",
    "evaluate",
    "parse_measure",
    "parse_measures",
    "per_query",
    "trec_ranking",
    "validate_qrels",
    "validate_run",
]

#: AP (MAP), nDCG@10, RR@10 (MRR@10), R@1, R@10, R@100, P@10 (the registry's
#: :data:`~optical.evaluation.measure_sets.EVALUATE_MEASURES`).
DEFAULT_MEASURES: tuple[Measure, ...] = tuple(ir_measures.parse_measure(m) for m in EVALUATE_MEASURES)


class EvalResult(dict):
    """Aggregate scores ``{measure name: mean}`` with the evaluation warnings attached.

    Attributes
    ----------
    warnings : list of str
        Human-readable notes (missing queries, queries without relevant documents, ...).
    n_queries : int
        Number of queries the means are taken over.
    """

    def __init__(self, values: Mapping[str, float], warnings: list[str], n_queries: int):
        super().__init__(values)
        self.warnings = list(warnings)
        self.n_queries = n_queries


# --------------------------------------------------------------------------- ranking


def trec_ranking(docs: Mapping[str, float]) -> list[str]:
    """Order documents as ``trec_eval`` does.

    Parameters
    ----------
    docs : mapping docid -> score

    Returns
    -------
    list of str
        Docids by float32 score descending, ties by docid descending.
    """
    if not docs:
        return []
    ids = list(docs)
    with np.errstate(over="ignore"):
        scores32 = np.asarray([docs[d] for d in ids], dtype=np.float64).astype(np.float32)
    # Sort by docid descending first, then stable sort by score descending.
    by_id = sorted(range(len(ids)), key=ids.__getitem__, reverse=True)
    order = np.asarray(by_id)[np.argsort(-scores32[by_id], kind="stable")]
    return [ids[i] for i in order]


def _rank_scored(run: Run) -> Run:
    """Replace scores by ``n - rank`` (strict, float32-exact) in trec_eval order."""
    out: Run = {}
    for qid, docs in run.items():
        ranking = trec_ranking(docs)
        n = len(ranking)
        out[qid] = {d: float(n - i) for i, d in enumerate(ranking)}
    return out


# --------------------------------------------------------------------------- evaluation


def _prepare(
    run: RunLike,
    qrels: QrelsLike,
    measures: MeasureLike | Iterable[MeasureLike],
    relevance_level: int,
    include_missing: bool,
) -> tuple[pd.DataFrame, list[str]]:
    if not ir_measures.pytrec_eval.is_available():
        raise RuntimeError(
            "pytrec_eval is required for trec_eval semantics: pip install pytrec-eval-terrier"
        )
    relevance_level = check_relevance_level(relevance_level)
    clean_run = validate_run(run)
    clean_qrels = validate_qrels(qrels)
    requested = parse_measures(measures)
    effective = [at_relevance_level(m, int(relevance_level)) for m in requested]
    if len(set(effective)) != len(effective):
        raise ValueError(
            f"measures {[measure_key(m) for m in requested]} coincide at relevance_level={relevance_level}"
        )
    name_of = {m: measure_key(req) for m, req in zip(effective, requested, strict=True)}

    warnings: list[str] = []
    missing = sorted(set(clean_qrels) - set(clean_run))
    if missing:
        action = "scored 0 and counted" if include_missing else "left out of the mean"
        warnings.append(
            f"{len(missing)} qrels queries missing from the run ({action}): {_preview(missing)}"
        )
    unjudged = sorted(set(clean_run) - set(clean_qrels))
    if unjudged:
        warnings.append(
            f"{len(unjudged)} run queries absent from the qrels (ignored): {_preview(unjudged)}"
        )
    empty = sorted(q for q, docs in clean_run.items() if not docs and q in clean_qrels)
    if empty:
        warnings.append(f"{len(empty)} queries with an empty ranking (scored 0): {_preview(empty)}")
    no_rel = sorted(
        q for q, docs in clean_qrels.items() if not any(r >= relevance_level for r in docs.values())
    )
    if no_rel:
        warnings.append(
            f"{len(no_rel)} qrels queries without documents of relevance >= {relevance_level}"
            f" (binary measures are 0): {_preview(no_rel)}"
        )

    ranked = _rank_scored({q: d for q, d in clean_run.items() if q in clean_qrels})
    if not ranked:
        raise ValueError(
            "run and qrels have no query in common (check the query id format): "
            f"run {_preview(sorted(clean_run), 3)}; qrels {_preview(sorted(clean_qrels), 3)}"
        )
    evaluated = set(clean_qrels) if include_missing else set(ranked)
    rows = [
        (metric.query_id, name_of[metric.measure], float(metric.value))
        for metric in ir_measures.iter_calc(effective, clean_qrels, ranked)
        if metric.query_id in evaluated
    ]
    frame = pd.DataFrame(rows, columns=["qid", "measure", "value"])
    order = {name: i for i, name in enumerate(name_of.values())}
    frame = (
        frame.assign(_m=frame["measure"].map(order))
        .sort_values(["qid", "_m"], kind="stable")
        .drop(columns="_m")
        .reset_index(drop=True)
    )
    expected = len(evaluated) * len(effective)
    if len(frame) != expected or frame.duplicated(["qid", "measure"]).any():
        raise RuntimeError(
            f"internal error: expected {expected} per-query values, got {len(frame)}"
        )
    return frame, warnings


def _preview(ids: Sequence[str], limit: int = 10) -> str:
    shown = ", ".join(map(repr, ids[:limit]))
    return shown + (f", ... (+{len(ids) - limit})" if len(ids) > limit else "")


def per_query(
    run: RunLike,
    qrels: QrelsLike,
    measures: MeasureLike | Iterable[MeasureLike] = DEFAULT_MEASURES,
    relevance_level: int = 1,
    include_missing: bool = True,
) -> pd.DataFrame:
    """Per-query scores with trec_eval semantics (see the module docstring).

    Parameters
    ----------
    run : Run
        qid -> docid -> score (or ``(qid, docid, score)`` rows); scores must be finite.
    qrels : Qrels
        qid -> docid -> integer grade (or ``(qid, docid, grade)`` rows).
    measures : str, Measure or iterable of them, default :data:`DEFAULT_MEASURES`
    relevance_level : int, default 1
        Minimum grade for a document to count as relevant in binary measures (an int >= 1;
        grade 0 means judged non-relevant, so lower levels raise ``ValueError``).
    include_missing : bool, default True
        Score qrels queries absent from the run as 0 (``trec_eval -c``).

    Returns
    -------
    pandas.DataFrame
        Columns ``qid``, ``measure`` (canonical name of the requested measure, unchanged by
        ``relevance_level``), ``value``; sorted by qid then measure order.
        ``attrs["warnings"]`` holds the evaluation warnings.

    Raises
    ------
    ValueError
        Invalid run/qrels (empty, non-finite scores, ...) or measure names.
    """
    frame, warnings = _prepare(run, qrels, measures, relevance_level, include_missing)
    frame.attrs["warnings"] = warnings
    return frame


def evaluate(
    run: RunLike,
    qrels: QrelsLike,
    measures: MeasureLike | Iterable[MeasureLike] = DEFAULT_MEASURES,
    relevance_level: int = 1,
    include_missing: bool = True,
) -> EvalResult:
    """Mean scores over queries with trec_eval semantics (see the module docstring).

    Parameters
    ----------
    run, qrels, measures, relevance_level, include_missing
        As in :func:`per_query`.

    Returns
    -------
    EvalResult
        ``dict`` measure name -> mean, in the order requested, plus ``.warnings`` and
        ``.n_queries``.
    """
    frame, warnings = _prepare(run, qrels, measures, relevance_level, include_missing)
    names = list(dict.fromkeys(measure_key(m) for m in parse_measures(measures)))
    means = frame.groupby("measure", sort=False)["value"].mean()
    values = {name: float(means[name]) for name in names}
    return EvalResult(values, warnings, int(frame["qid"].nunique()))
