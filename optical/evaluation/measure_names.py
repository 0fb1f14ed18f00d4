"""Measure names: parsing ``ir_measures`` names and applying a relevance level.

``"AP"``, ``"nDCG@10"``, ``"MRR@10"`` or ``"P(rel=2)@5"`` become ``ir_measures`` measures
(:func:`parse_measure`, :func:`parse_measures`); :func:`measure_key` is the name a result is
stored under and :func:`at_relevance_level` applies ``relevance_level`` to a binary measure,
as :mod:`optical.evaluation.metrics` evaluates them.
"""

from __future__ import annotations

import numbers
from collections.abc import Iterable

import ir_measures
from ir_measures import Measure

__all__ = [
    "MeasureLike",
    "at_relevance_level",
    "check_relevance_level",
    "measure_key",
    "parse_measure",
    "parse_measures",
]

MeasureLike = str | Measure


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
    names = [measure_key(m) for m in parsed]
    dupes = sorted({n for n in names if names.count(n) > 1})
    if dupes:
        raise ValueError(f"duplicate measures (after resolving aliases): {dupes}")
    return parsed


def measure_key(measure: Measure) -> str:
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


def at_relevance_level(measure: Measure, relevance_level: int) -> Measure:
    """Apply ``relevance_level`` to a binary measure that has no explicit ``rel``."""
    if "rel" in measure.SUPPORTED_PARAMS and "rel" not in measure.params:
        if relevance_level != measure.SUPPORTED_PARAMS["rel"].default:
            return measure(rel=relevance_level)
    return measure
