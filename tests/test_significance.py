"""Tests for optical.evaluation.significance."""

from __future__ import annotations

import numpy as np
import pytest
from scipy import stats

from optical.evaluation import (
    adjust_pvalues,
    bonferroni,
    bootstrap_test,
    compare_systems,
    holm,
    paired_test,
    paired_ttest,
    randomization_test,
)


@pytest.fixture
def scores():
    rng = np.random.default_rng(42)
    a = rng.uniform(0.2, 0.8, size=50)
    return a, np.clip(a + rng.normal(0.0, 0.05, size=50), 0, 1)


@pytest.mark.parametrize("test", ["randomization", "bootstrap", "ttest"])
def test_identical_systems_have_p_one(test, scores):
    a, _ = scores
    res = paired_test(a, a.copy(), test=test, n_resamples=2000)
    assert res.pvalue == 1.0
    assert res.statistic == 0.0


@pytest.mark.parametrize("test", ["randomization", "bootstrap", "ttest"])
def test_clearly_better_system_has_small_p(test, scores):
    a, b = scores
    better = b + 0.1
    res = paired_test(better, a, test=test, n_resamples=2000, seed=3)
    assert res.pvalue < 1e-3
    if test != "ttest":
        assert res.statistic == pytest.approx(np.mean(better - a))
        # Resampling p-values never go below 1 / (n_resamples + 1).
        assert res.pvalue == pytest.approx(1 / 2001)


def test_ttest_matches_scipy(scores):
    a, b = scores
    ours = paired_ttest(a, b)
    ref = stats.ttest_rel(a, b)
    assert ours.statistic == pytest.approx(ref.statistic, rel=1e-12)
    assert ours.pvalue == pytest.approx(ref.pvalue, rel=1e-12)
    # Degenerate constant non-zero difference: t -> inf, p -> 0.
    assert paired_ttest([1.0, 2.0, 3.0], [0.5, 1.5, 2.5]) == (np.inf, 0.0)
    # Constant up to floating-point rounding counts as constant (scipy would warn).
    assert paired_ttest(a, a + 0.1) == (-np.inf, 0.0)


def test_exact_randomization_by_hand():
    # Differences 1, 2, 3: of the 8 sign patterns only +++ and --- reach |mean| >= 2.
    res = randomization_test([1.0, 2.0, 3.0], [0.0, 0.0, 0.0], n_resamples=8)
    assert res.statistic == pytest.approx(2.0)
    assert res.pvalue == 0.25
    # Differences 1, 1, 1, -1: |sum| >= 2 for 10 of the 16 patterns (|sum| = 4: 2, = 2: 8).
    res = randomization_test([1.0, 1.0, 1.0, 0.0], [0.0, 0.0, 0.0, 1.0], n_resamples=100)
    assert res.pvalue == pytest.approx(10 / 16)


def test_monte_carlo_randomization_approximates_exact():
    rng = np.random.default_rng(0)
    a, b = rng.uniform(size=12), rng.uniform(size=12)
    exact = randomization_test(a, b, n_resamples=2**12).pvalue
    approx = randomization_test(a, b, n_resamples=4000, seed=1).pvalue
    assert abs(exact - approx) < 4 * np.sqrt(exact * (1 - exact) / 4000) + 1e-3


def test_bootstrap_by_hand():
    # d = (0, 2): centred (-1, 1); resampled means are -1, 0, 1 with prob 1/4, 1/2, 1/4,
    # so P(|mean*| >= 1) = 1/2.
    res = bootstrap_test([0.0, 2.0], [0.0, 0.0], n_resamples=20000, seed=0)
    assert res.statistic == 1.0
    assert res.pvalue == pytest.approx(0.5, abs=0.015)


@pytest.mark.parametrize("test", ["randomization", "bootstrap"])
def test_seed_determinism(test, scores):
    a, b = scores
    p1 = paired_test(a, b, test=test, n_resamples=3000, seed=7).pvalue
    p2 = paired_test(a, b, test=test, n_resamples=3000, seed=7).pvalue
    p3 = paired_test(a, b, test=test, n_resamples=3000, seed=8).pvalue
    assert p1 == p2
    assert p1 != p3
    assert 0 < p1 <= 1


def test_holm_and_bonferroni_by_hand():
    p = [0.01, 0.04, 0.03, 0.005]
    # Sorted: 0.005*4=0.02, 0.01*3=0.03, 0.03*2=0.06, 0.04*1=0.04 -> running max 0.06.
    np.testing.assert_allclose(holm(p), [0.03, 0.06, 0.06, 0.02], rtol=1e-12)
    np.testing.assert_allclose(bonferroni(p), [0.04, 0.16, 0.12, 0.02], rtol=1e-12)
    np.testing.assert_allclose(holm([0.5, 0.6]), [1.0, 1.0])
    np.testing.assert_allclose(adjust_pvalues(p, "none"), p)
    assert holm([]).size == 0
    with pytest.raises(ValueError):
        holm([0.5, 1.5])
    with pytest.raises(ValueError, match="unknown correction"):
        adjust_pvalues(p, "fdr")


def test_compare_systems(scores):
    a, b = scores
    qids = [f"q{i}" for i in range(a.size)]
    systems = {
        "bm25": dict(zip(qids, a, strict=True)),
        "same": dict(zip(qids, a, strict=True)),
        "better": dict(zip(qids, a + 0.1, strict=True)),
        "noisy": dict(zip(qids, b, strict=True)),
    }
    frame = compare_systems(systems, "bm25", test="ttest", correction="holm")
    assert list(frame.columns) == ["system", "mean", "delta", "p", "p_adjusted", "significant"]
    assert frame["system"].tolist() == ["bm25", "same", "better", "noisy"]
    by = frame.set_index("system")
    assert by.loc["better", "delta"] == pytest.approx(0.1)
    assert by.loc["bm25", "mean"] == pytest.approx(a.mean())
    assert np.isnan(by.loc["bm25", "p"]) and not by.loc["bm25", "significant"]
    assert by.loc["same", "p"] == 1.0 and not by.loc["same", "significant"]
    assert by.loc["better", "significant"]
    raw = by.loc[["same", "better", "noisy"], "p"].to_numpy()
    np.testing.assert_allclose(by.loc[["same", "better", "noisy"], "p_adjusted"], holm(raw))
    assert by.loc["noisy", "p"] == pytest.approx(stats.ttest_rel(b, a).pvalue)
    assert frame.attrs["n_queries"] == a.size

    partial = dict(systems, short=dict(list(systems["better"].items())[:10]))
    with pytest.raises(ValueError, match="different query sets"):
        compare_systems(partial, "bm25")
    inter = compare_systems(partial, "bm25", test="ttest", on_missing="intersect")
    assert inter.attrs["n_queries"] == 10
    with pytest.raises(ValueError, match="baseline"):
        compare_systems(systems, "nope")


def test_input_validation():
    with pytest.raises(ValueError, match="equal length"):
        paired_ttest([1.0, 2.0], [1.0])
    with pytest.raises(ValueError, match="at least 2"):
        randomization_test([1.0], [0.0])
    with pytest.raises(ValueError, match="finite"):
        bootstrap_test([1.0, np.nan], [0.0, 0.0])
    with pytest.raises(ValueError, match="unknown test"):
        paired_test([1.0, 2.0], [0.0, 1.0], test="wilcoxon")
