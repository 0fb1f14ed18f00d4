"""The measure registry (optical.evaluation.measure_sets): sets, labels, notes, primary."""

from __future__ import annotations

import pytest

from optical.evaluation import measure_sets as ms

# Every label as the README, docs/report.md and the app render it today.
PINNED_LABELS = {
    "R(rel=2)@1": "R@1 (rel=2)",
    "RR(rel=2)@10": "MRR@10 (rel=2)",
    "R(rel=2)@10": "R@10 (rel=2)",
    "AP": "MAP",
    "nDCG@10": "nDCG@10",
    "R@100": "R@100",
    "R@1": "R@1",
    "RR@10": "MRR@10",
    "R@10": "R@10",
}
PINNED_EXTRA = {
    "mining_acc": "mining accuracy",
    "alignment": "alignment",
    "uniformity": "uniformity",
    "uniformity_en": "uniformity (English)",
    "F1": "best F1",
    "F1_precision": "precision at best F1",
    "F1_recall": "recall at best F1",
    "F1_threshold": "threshold at best F1",
}


def test_every_measure_label_is_pinned():
    assert ms.LABELS == PINNED_LABELS
    assert {m: ms.measure_label(m) for m in PINNED_LABELS} == PINNED_LABELS
    assert {m: ms.display_label(m) for m in PINNED_LABELS} == PINNED_LABELS
    assert ms.EXTRA_LABELS == PINNED_EXTRA
    assert {m: ms.display_label(m) for m in PINNED_EXTRA} == PINNED_EXTRA
    # the ir_measures-style labeller leaves non-ranking names alone (the app shows those raw)
    assert ms.measure_label("mining_acc") == "mining_acc" and ms.display_label("P@10") == "P@10"
    assert ms.measure_label("R(rel=1)@5") == "R@5" and ms.measure_label("nDCG(judged_only=True)@10") == (
        "nDCG(judged_only=True)@10")


def test_graded_and_binary_sets_are_pinned():
    assert ms.GRADED.measures == ("R(rel=2)@1", "RR(rel=2)@10", "AP", "nDCG@10", "R(rel=2)@10", "R@100")
    assert ms.GRADED.table == ("R(rel=2)@1", "RR(rel=2)@10", "AP", "nDCG@10")
    assert ms.BINARY.measures == ("R@1", "RR@10", "AP", "nDCG@10", "R@10", "R@100")
    assert ms.BINARY.table == ("R@1", "RR@10", "AP", "nDCG@10")
    assert (ms.GRADED.primary, ms.BINARY.primary) == ("R(rel=2)@1", "R@1")
    assert ms.GRADE2_MEASURES == ("R(rel=2)@1", "RR(rel=2)@10", "R(rel=2)@10")
    assert ms.REPORT_RETRIEVAL_MEASURES == ("R(rel=2)@1", "R@1", "AP", "P@10")
    for kind in ms.MEASURE_SETS:
        assert set(kind.table) <= set(kind.measures) and kind.primary == kind.table[0]


def test_registry_names_are_canonical_ir_measures_names():
    from optical.evaluation.metrics import DEFAULT_MEASURES, parse_measure

    for name in {*ms.GRADED.measures, *ms.BINARY.measures, *ms.EVALUATE_MEASURES}:
        assert str(parse_measure(name)) == name
    assert tuple(str(m) for m in DEFAULT_MEASURES) == ms.EVALUATE_MEASURES


@pytest.mark.parametrize(
    ("qrels", "kind"),
    [
        ({"q1": {"en1": 2, "en7": 1}, "q2": {"en2": 2, "en3": 2}}, "graded"),  # Bible-like
        ({"q1": {"a": 2}, "q2": {"b": 0}}, "graded"),  # a query with no relevant doc is ignored
        ({"q1": {"a": 1}, "q2": {"b": 1, "c": 0}}, "binary"),  # BEIR / CLDR: grade 1 only
        ({"q1": {"a": 2}, "q2": {"b": 1}}, "binary"),  # grade 2 missing for one query
        ({}, "binary"),
    ],
)
def test_measure_set_chosen_from_the_qrels(qrels, kind):
    chosen = ms.measure_set(qrels)
    assert chosen.kind == kind
    assert chosen is {"graded": ms.GRADED, "binary": ms.BINARY}[kind]


def test_table_measures_notes_and_primary():
    assert ms.table_measures(ms.GRADED.measures) == ms.GRADED.table
    assert ms.table_measures(ms.BINARY.measures) == ms.BINARY.table
    mixed = ms.table_measures([*ms.BINARY.measures, *ms.GRADED.measures])
    assert mixed == ("R(rel=2)@1", "RR(rel=2)@10", "AP", "nDCG@10", "R@1", "RR@10")
    assert ms.table_measures(["AP"]) == ("AP",) and ms.table_measures([]) == ms.TABLE_MEASURES
    assert ms.measure_note(ms.GRADED.table) == ms.GRADED_NOTE == ms.MEASURE_NOTE
    assert ms.measure_note(mixed) == f"{ms.GRADED_NOTE} {ms.BINARY_NOTE}"
    assert ms.measure_note(["AP", "nDCG@10"]) == ""
    assert ms.primary_measure(["AP", "R@1", "mining_acc"]) == "R@1"
    assert ms.primary_measure(["alignment", "mining_acc"]) == "mining_acc"
    assert ms.primary_measure(["alignment", "uniformity"]) == "alignment"
    assert ms.primary_measure([]) is None


def test_consumers_share_the_registry_objects():
    import optical.app.results_view as app_results
    import optical.report as report
    import optical.results.collect as bench

    assert bench.measure_set is ms.measure_set and bench.measure_label is ms.measure_label
    assert not hasattr(bench, "LABELS") and not hasattr(bench, "BENCH_MEASURES")  # one place: the registry
    assert app_results.table_measures is ms.table_measures and app_results.measure_label is ms.measure_label
    assert report.display_label is ms.display_label


def test_grade2_rewrite_of_single_grade_collections_keeps_the_numbers(tmp_path):
    """analysis.inputs writes single-grade collections with grade 2: they get the graded
    set (the Bible's column names) and exactly the numbers the binary set gives unrewritten."""
    from optical.analysis.inputs import write_collection
    from optical.data.beir import load_beir
    from optical.data.types import Document, RetrievalCollection
    from optical.evaluation.metrics import evaluate

    qrels = {f"q{i}": {f"d{i}": 1} for i in range(6)}
    col = RetrievalCollection(
        {f"d{i}": Document(f"d{i}", f"doc {i}") for i in range(6)}, {f"q{i}": f"query {i}" for i in range(6)}, qrels, "t", "sw"
    )
    run = {f"q{i}": {f"d{(i + j) % 6}": 1.0 / (1 + (j * 7 + i) % 5 + j) for j in range(4)} for i in range(6)}
    back = load_beir(write_collection(col, tmp_path / "sw"), "test")
    assert ms.measure_set(qrels) is ms.BINARY and ms.measure_set(back.qrels) is ms.GRADED
    graded = evaluate(run, back.qrels, ms.GRADED.measures)
    binary = evaluate(run, qrels, ms.BINARY.measures)
    for g, b in zip(ms.GRADED.measures, ms.BINARY.measures, strict=True):
        assert graded[g] == binary[b], (g, b)
    assert 0 < graded["R(rel=2)@1"] < 1


def test_training_curve_labels_and_dev_measures():
    assert ms.TRAINING_LABELS == {"loss": "training loss", "dev_rr10": "dev MRR@10", "dev_r1": "dev R@1"}
    assert ms.DEV_MEASURES == {"dev_rr10": "RR(rel=2)@10", "dev_r1": "R(rel=2)@1"}
    assert set(ms.DEV_MEASURES.values()) <= set(ms.GRADED.measures)


def test_app_label_note_is_pinned():
    assert ms.LABEL_NOTE == (
        "Measures marked (rel=2) count grade-2 documents (on the Bible: the aligned verse); "
        "the others every judged-relevant document (MAP and nDCG@10 use the grades)."
    )
