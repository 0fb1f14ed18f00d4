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
"""

from __future__ import annotations

import math
import numbers
from collections.abc import Iterable, Mapping, Sequence

import ir_measures
import numpy as np
import pandas as pd
from ir_measures import Measure

from optical.evaluation.measure_sets import EVALUATE_MEASURES

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

Run = dict[str, dict[str, float]]
Qrels = dict[str, dict[str, int]]
MeasureLike = str | Measure
RunLike = Mapping[str, Mapping[str, float]] | Iterable[tuple[str, str, float]]
QrelsLike = Mapping[str, Mapping[str, int]] | Iterable[tuple[str, str, int]]

#: AP (MAP), nDCG@10, RR@10 (MRR@10), R@1, R@10, R@100, P@10 (the registry's
#: :data:`~optical.evaluation.measure_sets.EVALUATE_MEASURES`).
DEFAULT_MEASURES: tuple[Measure, ...] = tuple(ir_measures.parse_measure(m) for m in EVALUATE_MEASURES)

# trec_eval keeps scores as C ``float``; float32 represents every integer up to 2**24 exactly.
_MAX_DOCS_PER_QUERY = 2**24


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


# --------------------------------------------------------------------------- measure names


def parse_measure(measure: MeasureLike) -> Measure:
    """Parse a measure name such as ``"AP"``, ``"nDCG@10"``, ``"MRR@10"`` or ``"P(rel=2)@5"``.

    Parameters
    ----------
    measure : str or ir_measures.Measure
        Name in ``ir_measures`` syntax (aliases ``MAP`` and ``MRR`` accepted) or a measure.

    Returns
    -------
    ir_measures.Measure
        The parsed measure; ``str()`` gives its canonical name (``MAP`` -> ``AP``), which is
        the key used in results (an explicit ``rel=`` is kept in the key, e.g. ``AP(rel=1)``).

    Raises
    ------
    ValueError
        If the name cannot be parsed, or a cutoff or ``rel`` is below 1.
    """
    if isinstance(measure, Measure):
        return measure
    if not isinstance(measure, str):
        raise TypeError(f"measure must be a str or ir_measures.Measure, got {type(measure)!r}")
    try:
        parsed = ir_measures.parse_measure(measure.strip())
        parsed.validate_params()
    except Exception as exc:  # ir_measures raises NameError/AssertionError/SyntaxError/...
        raise ValueError(f"cannot parse measure name {measure!r}: {exc}") from exc
    _check_params(measure, parsed)
    return parsed


def _check_params(text: str, measure: Measure) -> None:
    """Refuse what trec_eval cannot score: a cutoff < 1 aborts pytrec_eval (a C assertion),
    ``rel`` < 1 would count grade-0 (judged non-relevant) documents as relevant."""
    for param, what in (("cutoff", "cutoff (@k)"), ("rel", "relevance level (rel=)")):
        value = measure.params.get(param)
        if value is None:
            continue
        if isinstance(value, bool) or not isinstance(value, numbers.Integral) or value < 1:
            raise ValueError(f"measure {text!r}: the {what} must be an integer >= 1, got {value!r}")


def check_relevance_level(relevance_level: object) -> int:
    """``relevance_level`` as an int >= 1 (grade 0 means judged non-relevant), else raise."""
    if isinstance(relevance_level, bool) or not isinstance(relevance_level, numbers.Integral):
        raise TypeError(f"relevance_level must be an int, got {relevance_level!r}")
    if relevance_level < 1:
        raise ValueError(
            f"relevance_level must be >= 1 (the minimum grade that counts as relevant; "
            f"grade 0 means judged non-relevant), got {relevance_level}"
        )
    return int(relevance_level)


def parse_measures(measures: MeasureLike | Iterable[MeasureLike]) -> list[Measure]:
    """Parse one measure or an iterable of measures; duplicates raise ``ValueError``.

    Parameters
    ----------
    measures : str, ir_measures.Measure or iterable of them

    Returns
    -------
    list of ir_measures.Measure
    """
    if isinstance(measures, (str, Measure)):
        measures = [measures]
    parsed = [parse_measure(m) for m in measures]
    if not parsed:
        raise ValueError("no measures given")
    names = [_name(m) for m in parsed]
    dupes = sorted({n for n in names if names.count(n) > 1})
    if dupes:
        raise ValueError(f"duplicate measures (after resolving aliases): {dupes}")
    return parsed


def _name(measure: Measure) -> str:
    """Canonical name; unlike ``str()``, keeps an explicit ``rel=`` even at its default."""
    name = str(measure)
    rel = measure.params.get("rel")
    if rel is not None and rel == measure.SUPPORTED_PARAMS["rel"].default:
        head, at, cutoff = name.partition("@")
        if "(" in head:
            head = head[:-1] + f",rel={rel!r})"
        else:
            head = f"{head}(rel={rel!r})"
        name = head + at + cutoff
    return name


def _at_level(measure: Measure, relevance_level: int) -> Measure:
    """Apply ``relevance_level`` to a binary measure that has no explicit ``rel``."""
    if "rel" in measure.SUPPORTED_PARAMS and "rel" not in measure.params:
        if relevance_level != measure.SUPPORTED_PARAMS["rel"].default:
            return measure(rel=relevance_level)
    return measure


# --------------------------------------------------------------------------- validation


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
    clean: Run = {}
    if isinstance(run, Mapping):
        for qid, docs in run.items():
            _check_id(qid, "query id")
            if not isinstance(docs, Mapping):
                raise TypeError(f"run[{qid!r}] must be a mapping docid -> score")
            clean[qid] = {
                _check_id(d, "document id"): _check_score(qid, d, s) for d, s in docs.items()
            }
    else:
        for row in run:
            if len(row) != 3:
                raise ValueError(f"run rows must be (qid, docid, score), got {row!r}")
            qid, docid, score = row
            docs = clean.setdefault(_check_id(qid, "query id"), {})
            if _check_id(docid, "document id") in docs:
                raise ValueError(f"duplicate document {docid!r} for query {qid!r} in run")
            docs[docid] = _check_score(qid, docid, score)
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

    def grade(qid: str, docid: str, rel: object) -> int:
        if isinstance(rel, bool) or not isinstance(rel, numbers.Real):
            raise TypeError(f"grade of ({qid!r}, {docid!r}) must be an integer, got {rel!r}")
        if not float(rel).is_integer():
            raise ValueError(f"grade of ({qid!r}, {docid!r}) is not an integer: {rel!r}")
        return int(rel)

    clean: Qrels = {}
    if isinstance(qrels, Mapping):
        for qid, docs in qrels.items():
            _check_id(qid, "query id")
            if not isinstance(docs, Mapping):
                raise TypeError(f"qrels[{qid!r}] must be a mapping docid -> grade")
            clean[qid] = {_check_id(d, "document id"): grade(qid, d, r) for d, r in docs.items()}
    else:
        for row in qrels:
            if len(row) != 3:
                raise ValueError(f"qrels rows must be (qid, docid, grade), got {row!r}")
            qid, docid, rel = row
            docs = clean.setdefault(_check_id(qid, "query id"), {})
            if _check_id(docid, "document id") in docs:
                raise ValueError(f"duplicate judgement of {docid!r} for query {qid!r} in qrels")
            docs[docid] = grade(qid, docid, rel)
    if not any(clean.values()):
        raise ValueError("empty qrels: no query has any judgement")
    return clean


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
    effective = [_at_level(m, int(relevance_level)) for m in requested]
    if len(set(effective)) != len(effective):
        raise ValueError(
            f"measures {[_name(m) for m in requested]} coincide at relevance_level={relevance_level}"
        )
    name_of = {m: _name(req) for m, req in zip(effective, requested, strict=True)}

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
    names = list(dict.fromkeys(_name(m) for m in parse_measures(measures)))
    means = frame.groupby("measure", sort=False)["value"].mean()
    values = {name: float(means[name]) for name in names}
    return EvalResult(values, warnings, int(frame["qid"].nunique()))
