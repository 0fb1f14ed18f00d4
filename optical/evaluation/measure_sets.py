"""The measure registry: which measures a dataset kind reports, their labels, tables and notes.

Every module that names a retrieval measure or shows its label imports it from here
(``optical bench``, the report, the app, the notebooks). Two kinds of collection:

* **graded** (the Bible: every judged query has a grade-2 target, the aligned verse;
  cross-references are grade 1): R@k and MRR count grade 2 (``R(rel=2)@1``), MAP and
  nDCG use every graded judgement;
* **binary** (every other collection: BEIR folders, CLDR names, or grade 2 missing for
  some query): every judged-relevant document (grade >= 1) counts (``R@1``);
* **xref** (declared by the cross-reference task ``bible-xref``): several relevant verses
  per query, MAP first, then nDCG@10, P@10 and MRR@10.

:func:`measure_set` picks the kind from a collection's qrels. Names are ir_measures names
(:func:`optical.evaluation.metrics.parse_measure` reads them); labels say which relevance
a measure counts when it is not grade >= 1 (``R(rel=2)@1`` -> ``R@1 (rel=2)``).

Adding a dataset kind with its own measures: add a :class:`MeasureSet` to ``MEASURE_SETS``
and a rule to :func:`measure_set`.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass

__all__ = [
    "BENCH_MEASURES",
    "BINARY",
    "BINARY_MEASURES",
    "BINARY_NOTE",
    "BINARY_TABLE_MEASURES",
    "DEV_MEASURES",
    "EVALUATE_MEASURES",
    "EXTRA_LABELS",
    "GRADE1_NOTE",
    "GRADE2_MEASURES",
    "GRADED",
    "GRADED_NOTE",
    "LABELS",
    "LABEL_NOTE",
    "MEASURE_NOTE",
    "MEASURE_SETS",
    "MeasureSet",
    "PRIMARY_ORDER",
    "REPORT_RETRIEVAL_MEASURES",
    "TABLE_MEASURES",
    "TRAINING_LABELS",
    "XREF",
    "XREF_NOTE",
    "display_label",
    "measure_label",
    "measure_note",
    "measure_set",
    "primary_measure",
    "table_measures",
]


@dataclass(frozen=True)
class MeasureSet:
    """What ``optical bench`` computes on a collection (``measures``), shows (``table``),
    the note under its tables and the measure a summary leads with (``primary``)."""

    kind: str  # "graded" (grade 2 = the target) | "binary"
    measures: tuple[str, ...]
    table: tuple[str, ...]
    note: str
    primary: str


GRADED_NOTE = (
    "R@1 (rel=2) and MRR@10 (rel=2) count grade-2 documents (on the Bible: the aligned "
    "English verse, incl. identical-text duplicates); MAP and nDCG@10 use all graded "
    "judgements (Bible cross-references = grade 1)."
)
BINARY_NOTE = "R@1 and MRR@10 count every judged-relevant document (grade >= 1)."
MEASURE_NOTE = GRADED_NOTE
#: Under the app's tables, whatever the kind: how to read a label.
LABEL_NOTE = (
    "Measures marked (rel=2) count grade-2 documents (on the Bible: the aligned verse); "
    "the others every judged-relevant document (MAP and nDCG@10 use the grades)."
)
#: Under report tables of rows stored before bench chose binary measures for grade-1 qrels.
GRADE1_NOTE = (
    "R@1 (rel=2) and MRR@10 (rel=2) count grade-2 judgements; this family has grade-1 judgements only, "
    "so they are left out (MAP = MRR here when each query has one relevant document)."
)


def _leading_set(kind: str, measures: tuple[str, ...], note: str) -> MeasureSet:
    """A set whose tables show its first four measures and whose summary leads with the first."""
    return MeasureSet(kind, measures, measures[:4], note, measures[0])


GRADED = _leading_set(
    "graded", ("R(rel=2)@1", "RR(rel=2)@10", "AP", "nDCG@10", "R(rel=2)@10", "R@100"), GRADED_NOTE
)
BINARY = _leading_set("binary", ("R@1", "RR@10", "AP", "nDCG@10", "R@10", "R@100"), BINARY_NOTE)
XREF_NOTE = (
    "On the cross-reference task every cross-referenced verse is relevant (several per query); "
    "the query's own translation and its identical-text duplicates are removed from the ranking "
    "before scoring."
)
#: The cross-reference task (``bible-xref``): several relevant documents per query, none of them
#: the query's translation; MAP leads, P@10 and MRR@10 beside it.
XREF = _leading_set("xref", ("AP", "nDCG@10", "P@10", "RR@10", "R@100"), XREF_NOTE)
MEASURE_SETS = (GRADED, BINARY, XREF)  # graded first: mixed tables list its measures first
_SHARED = {"AP", "nDCG@10"}  # in both sets, with the same meaning

BENCH_MEASURES = GRADED.measures
TABLE_MEASURES = GRADED.table
BINARY_MEASURES = BINARY.measures
BINARY_TABLE_MEASURES = BINARY.table
#: The graded set's measures that count grade 2 only (0 on a collection judged with grade 1).
GRADE2_MEASURES = tuple(m for m in GRADED.measures if "(rel=2)" in m)
#: The report's retrieval tables: each set's primary measure, then MAP, then (the cross-reference
#: task's, which only it computes) P@10.
REPORT_RETRIEVAL_MEASURES = (GRADED.primary, BINARY.primary, "AP", "P@10")
#: The measure a report summary leads with: the first of these a block has.
PRIMARY_ORDER = (GRADED.primary, BINARY.primary, "AP", "mining_acc", "F1")
#: Default of :func:`optical.evaluation.metrics.evaluate`: generic, grade >= 1 counts.
EVALUATE_MEASURES = ("AP", "nDCG@10", "RR@10", "R@1", "R@10", "R@100", "P@10")
#: The training loop's dev scores (``metrics.jsonl`` keys): the aligned verse (grade 2) is
#: the target, as in the Bible tables.
DEV_MEASURES = {"dev_rr10": "RR(rel=2)@10", "dev_r1": "R(rel=2)@1"}


def measure_set(qrels: Mapping[str, Mapping[str, int]], declared: str | None = None) -> MeasureSet:
    """The measures a collection is benchmarked with: the set its family ``declared``
    (:attr:`optical.dataset_spec.DatasetSpec.measures`), else from its qrels' grades.

    Graded (R@k and MRR count grade 2) when every query with a relevant document has a
    grade-2 one, as in the Bible benchmark; binary (grade >= 1 counts) otherwise, so a
    collection judged with grade 1 never scores 0 for lack of grade-2 judgements.
    """
    if declared is not None:
        by_kind = {s.kind: s for s in MEASURE_SETS}
        if declared not in by_kind:
            raise ValueError(f"unknown measure set {declared!r}; the registry has {', '.join(by_kind)}")
        return by_kind[declared]
    judged = [docs for docs in qrels.values() if any(g >= 1 for g in docs.values())]
    if judged and all(any(g >= 2 for g in docs.values()) for docs in judged):
        return GRADED
    return BINARY


def _sets_shown(have: set[str]) -> list[MeasureSet]:
    """The sets whose whole table is among ``have`` (rows carry all of their set's measures);
    failing that, the sets with a measure of their own among ``have``."""
    whole = [k for k in MEASURE_SETS if set(k.table) <= have]
    return whole or [k for k in MEASURE_SETS if have & (set(k.table) - _SHARED)]


def table_measures(present: Iterable[str]) -> tuple[str, ...]:
    """The table measures for rows that carry these measures: their set's table, or the
    tables of several sets (in :data:`MEASURE_SETS` order) when the rows mix kinds."""
    have = set(present)
    out: list[str] = []
    for kind in _sets_shown(have):
        out += [m for m in kind.table if m in have and m not in out]
    return tuple(out) or tuple(m for m in TABLE_MEASURES if m in have) or TABLE_MEASURES


def measure_note(measures: Iterable[str]) -> str:
    """The note under a table of these measures ("" when only MAP / nDCG@10 are shown)."""
    return " ".join(k.note for k in _sets_shown(set(measures)))


def primary_measure(available: Iterable[str]) -> str | None:
    """The measure a summary leads with: the first of :data:`PRIMARY_ORDER` present, else
    the first present (None when none is)."""
    have = list(dict.fromkeys(available))
    return next((m for m in PRIMARY_ORDER if m in have), have[0] if have else None)


# ---------------------------------------------------------------------------- labels
_NAMES = {"R": "R", "RR": "MRR", "AP": "MAP", "nDCG": "nDCG", "P": "P"}


def measure_label(measure: str) -> str:
    """Table label of a measure name, saying which relevance it counts when not grade >= 1:
    ``R(rel=2)@1`` -> ``R@1 (rel=2)``, ``RR@10`` -> ``MRR@10``, ``AP`` -> ``MAP``."""
    head, at, cutoff = measure.partition("@")
    base, _, params = head.partition("(")
    if base not in _NAMES:
        return measure
    rel = re.fullmatch(r"rel=(\d+)\)", params)
    if params and not rel:
        return measure
    label = _NAMES[base] + at + cutoff
    return f"{label} (rel={rel.group(1)})" if rel and rel.group(1) != "1" else label


LABELS = {m: measure_label(m) for m in dict.fromkeys(BENCH_MEASURES + BINARY_MEASURES)}
#: Labels of the embedding-space and pair-classification measures the report shows.
EXTRA_LABELS = {
    "mining_acc": "mining accuracy",
    "alignment": "alignment",
    "uniformity": "uniformity",
    "uniformity_en": "uniformity (English)",
    "F1": "best F1",
    "F1_precision": "precision at best F1",
    "F1_recall": "recall at best F1",
    "F1_threshold": "threshold at best F1",
}


#: Labels of the training curves' metrics (``metrics.jsonl``).
TRAINING_LABELS = {"loss": "training loss", "dev_rr10": "dev MRR@10", "dev_r1": "dev R@1"}


def display_label(measure: str) -> str:
    """The report's label: a bench measure's :data:`LABELS`, an :data:`EXTRA_LABELS` one,
    else the name itself."""
    return LABELS.get(measure, EXTRA_LABELS.get(measure, measure))
