"""Tests for optical.evaluation.curves."""

from __future__ import annotations

import numpy as np
import pytest

from optical.evaluation import (
    best_f1,
    best_f1_from_run,
    pairs_from_run,
    precision_recall_curve,
    precision_recall_curve_from_run,
)


def test_curve_by_hand_with_ties():
    # Sorted: 0.9(+), 0.8(-), 0.8(+), 0.5(+), 0.3(-); the two 0.8 pairs switch together.
    scores = [0.8, 0.3, 0.9, 0.5, 0.8]
    labels = [0, 0, 1, 1, 1]
    curve = precision_recall_curve(scores, labels)
    np.testing.assert_allclose(curve.thresholds, [0.9, 0.8, 0.5, 0.3])
    np.testing.assert_allclose(curve.precision, [1.0, 2 / 3, 3 / 4, 3 / 5])
    np.testing.assert_allclose(curve.recall, [1 / 3, 2 / 3, 1.0, 1.0])
    f1, threshold, precision, recall = best_f1(scores, labels)
    assert f1 == pytest.approx(6 / 7)  # 2 * 0.75 * 1 / 1.75
    assert (threshold, precision, recall) == (0.5, 0.75, 1.0)
    # Boolean labels give the same answer.
    assert best_f1(scores, np.array(labels, dtype=bool)) == best_f1(scores, labels)


def test_best_f1_ties_pick_highest_threshold():
    # F1: 2/3 at 4, 1/2 at 3, 2/5 at 2, 2/3 at 1.
    res = best_f1([4.0, 3.0, 2.0, 1.0], [1, 0, 0, 1])
    assert res.f1 == pytest.approx(2 / 3)
    assert res.threshold == 4.0
    assert (res.precision, res.recall) == (1.0, 0.5)


def test_curve_from_run_by_hand():
    run = {
        "q1": {"a": 0.9, "b": 0.8, "c": 0.2},  # c is unjudged -> negative
        "q2": {"x": 0.8, "y": 0.5},
        "q3": {"z": 0.99},  # not in the qrels -> ignored
    }
    qrels = {"q1": {"a": 1, "b": 0, "d": 2}, "q2": {"y": 2, "x": 0}}  # d never retrieved
    scores, labels, missed = pairs_from_run(run, qrels)
    np.testing.assert_array_equal(scores, [0.9, 0.8, 0.2, 0.8, 0.5])
    np.testing.assert_array_equal(labels, [True, False, False, False, True])
    assert missed == 1

    curve = precision_recall_curve_from_run(run, qrels)
    np.testing.assert_allclose(curve.thresholds, [0.9, 0.8, 0.5, 0.2])
    np.testing.assert_allclose(curve.precision, [1.0, 1 / 3, 1 / 2, 2 / 5])
    np.testing.assert_allclose(curve.recall, [1 / 3, 1 / 3, 2 / 3, 2 / 3])
    res = best_f1_from_run(run, qrels)
    assert res.f1 == pytest.approx(4 / 7)
    assert (res.threshold, res.precision) == (0.5, 0.5)
    assert res.recall == pytest.approx(2 / 3)

    # Without the unretrieved positive: F1 2/3 at 0.9 and at 0.5 -> the higher threshold.
    res = best_f1_from_run(run, qrels, count_unretrieved=False)
    assert res.f1 == pytest.approx(2 / 3)
    assert (res.threshold, res.precision, res.recall) == (0.9, 1.0, 0.5)

    # Relevance level 2: only y (retrieved) and d (missed) are positive.
    res = best_f1_from_run(run, qrels, relevance_level=2)
    assert res.f1 == pytest.approx(1 / 3)  # P = 1/4, R = 1/2 at 0.5
    assert (res.threshold, res.precision, res.recall) == (0.5, 0.25, 0.5)


def test_matches_sklearn_if_installed():
    metrics = pytest.importorskip("sklearn.metrics")
    rng = np.random.default_rng(0)
    scores = rng.integers(0, 20, size=300) / 10
    labels = rng.random(300) < 0.3
    ours = precision_recall_curve(scores, labels)
    precision, recall, thresholds = metrics.precision_recall_curve(labels, scores)
    # sklearn: increasing thresholds (possibly cut where recall reaches 1) plus a final
    # (precision 1, recall 0) point; compare at every threshold sklearn reports.
    index = {t: i for i, t in enumerate(ours.thresholds)}
    assert len(thresholds) > 5
    for t, p, r in zip(thresholds, precision[:-1], recall[:-1], strict=True):
        assert ours.precision[index[t]] == pytest.approx(p, abs=1e-12)
        assert ours.recall[index[t]] == pytest.approx(r, abs=1e-12)


def test_curve_validation():
    with pytest.raises(ValueError, match="no positive"):
        precision_recall_curve([0.1, 0.2], [0, 0])
    with pytest.raises(ValueError, match="0/1"):
        precision_recall_curve([0.1, 0.2], [0, 2])
    with pytest.raises(ValueError, match="equal length"):
        precision_recall_curve([0.1, 0.2], [0])
    with pytest.raises(ValueError, match="finite"):
        best_f1([0.1, np.inf], [0, 1])
    with pytest.raises(ValueError, match="no scored pairs"):
        precision_recall_curve([], [])
