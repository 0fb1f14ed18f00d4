"""Tests for optical.evaluation.tables."""

from __future__ import annotations

import math

import numpy as np
import pandas as pd
import pytest
from scipy import stats

from optical.evaluation import (
    Comparison,
    holm,
    language_spread,
    mean_table,
    resource_gap,
    significance_table,
)


def to_markdown(results, **kw):
    """The paper-table markdown (formerly ``tables.to_markdown``)."""
    return Comparison.from_results(results, **kw).to_markdown()

SMALL = {
    # (system, language, measure): values of q1, q2
    ("A", "sw", "nDCG@10"): (0.2, 0.4),
    ("A", "fr", "nDCG@10"): (0.6, 0.8),
    ("A", "hi", "nDCG@10"): (0.0, 0.0),
    ("A", "sw", "AP"): (0.1, 0.1),
    ("A", "fr", "AP"): (0.5, 0.3),
    ("A", "hi", "AP"): (0.0, 0.0),
    ("B", "sw", "nDCG@10"): (0.5, 0.5),
    ("B", "fr", "nDCG@10"): (0.7, 0.9),
    ("B", "hi", "nDCG@10"): (1.0, 1.0),
    ("B", "sw", "AP"): (0.2, 0.4),
    ("B", "fr", "AP"): (0.4, 0.4),
    ("B", "hi", "AP"): (1.0, 1.0),
}
LEVELS = {"sw": "low", "fr": "high", "hi": "medium"}


@pytest.fixture
def small():
    rows = [
        {"system": s, "language": lang, "qid": f"{lang}-q{i}", "measure": m, "value": v}
        for (s, lang, m), values in SMALL.items()
        for i, v in enumerate(values, 1)
    ]
    return pd.DataFrame(rows)


def _large(noise=0.0, seed=0):
    """30 queries x 3 languages; 'good' is +0.15 on sw, 'bad' is -0.15 on fr."""
    rng = np.random.default_rng(seed)
    rows = []
    for lang in ("sw", "yo", "fr"):
        base = rng.uniform(0.2, 0.7, size=30)
        systems = {
            "bm25": base,
            "good": base + (0.15 if lang == "sw" else 0.0) + rng.normal(0, noise, 30),
            "bad": base - (0.15 if lang == "fr" else 0.0) + rng.normal(0, noise, 30),
        }
        for system, values in systems.items():
            for i, v in enumerate(values):
                rows.append(
                    {
                        "system": system,
                        "language": lang,
                        "qid": f"{lang}{i}",
                        "measure": "nDCG@10",
                        "value": v,
                    }
                )
    return pd.DataFrame(rows)


def test_mean_table(small):
    table = mean_table(small, average=True)
    assert table.index.tolist() == ["A", "B"]
    assert table.columns.names == ["language", "measure"]
    assert table.loc["A", ("sw", "nDCG@10")] == pytest.approx(0.3)
    assert table.loc["B", ("fr", "nDCG@10")] == pytest.approx(0.8)
    assert table.loc["A", ("fr", "AP")] == pytest.approx(0.4)
    assert table.loc["A", ("Avg", "nDCG@10")] == pytest.approx((0.3 + 0.7 + 0.0) / 3)
    assert table.loc["B", ("Avg", "AP")] == pytest.approx((0.3 + 0.4 + 1.0) / 3)
    sub = mean_table(small, systems=["B"], languages=["fr", "sw"], measures=["AP"])
    assert sub.columns.tolist() == [("fr", "AP"), ("sw", "AP")]
    assert sub.loc["B"].tolist() == pytest.approx([0.4, 0.3])
    # Missing cells are NaN.
    partial = small[~((small["system"] == "B") & (small["language"] == "hi"))]
    assert math.isnan(mean_table(partial).loc["B", ("hi", "AP")])


def test_resource_gap(small):
    gap = resource_gap(small, LEVELS)
    assert gap.index.tolist() == ["A", "B"]
    assert gap.columns.tolist() == ["nDCG@10", "AP"]
    # mean(high = fr) - mean(low = sw); hi is medium and ignored.
    assert gap.loc["A", "nDCG@10"] == pytest.approx(0.7 - 0.3)
    assert gap.loc["A", "AP"] == pytest.approx(0.4 - 0.1)
    assert gap.loc["B", "nDCG@10"] == pytest.approx(0.8 - 0.5)
    assert gap.loc["B", "AP"] == pytest.approx(0.4 - 0.3)
    # Macro average over the languages of a level.
    two_low = resource_gap(small, {"sw": "low", "hi": "low", "fr": "high"})
    assert two_low.loc["B", "nDCG@10"] == pytest.approx(0.8 - (0.5 + 1.0) / 2)
    with pytest.raises(ValueError, match="without a resource level"):
        resource_gap(small, {"sw": "low", "fr": "high"})
    with pytest.raises(ValueError, match="must be one of"):
        resource_gap(small, {"sw": "tiny", "fr": "high", "hi": "low"})
    with pytest.raises(ValueError, match="no 'high'"):
        resource_gap(small, {"sw": "low", "fr": "low", "hi": "medium"})


def test_language_spread(small):
    spread = language_spread(small)
    a = [0.3, 0.7, 0.0]
    assert spread.loc["A", ("nDCG@10", "mean")] == pytest.approx(np.mean(a))
    assert spread.loc["A", ("nDCG@10", "std")] == pytest.approx(np.std(a, ddof=1))
    assert spread.loc["A", ("nDCG@10", "var")] == pytest.approx(np.var(a, ddof=1))
    assert spread.loc["A", ("nDCG@10", "min")] == 0.0
    assert spread.loc["A", ("nDCG@10", "max")] == pytest.approx(0.7)
    assert spread.loc["B", ("AP", "n_languages")] == 3
    pop = language_spread(small, ddof=0)
    assert pop.loc["B", ("AP", "std")] == pytest.approx(np.std([0.3, 0.4, 1.0]))


def test_significance_marks_resampling():
    frame = _large()
    sig = significance_table(frame, "bm25", n_resamples=2000, seed=0)
    assert len(sig) == 6  # 3 languages x 2 systems
    assert sig.attrs["n_comparisons"] == {"nDCG@10": 6}
    by = sig.set_index(["system", "language"])
    assert by.loc[("good", "sw"), "direction"] == "better"
    assert by.loc[("good", "sw"), "delta"] == pytest.approx(0.15)
    assert by.loc[("good", "sw"), "p"] == pytest.approx(1 / 2001)
    assert by.loc[("bad", "fr"), "direction"] == "worse"
    for key in [("good", "yo"), ("good", "fr"), ("bad", "sw"), ("bad", "yo")]:
        assert by.loc[key, "p"] == 1.0 and not by.loc[key, "significant"]
        assert by.loc[key, "direction"] == ""
    np.testing.assert_allclose(sig["p_adjusted"], holm(sig["p"]))


def test_significance_ttest_correction_over_languages_and_systems():
    frame = _large(noise=0.1, seed=1)
    sig = significance_table(frame, "bm25", test="ttest", correction="holm")
    raw = {}
    for (system, lang), group in frame.groupby(["system", "language"]):
        if system != "bm25":
            base = frame[(frame["system"] == "bm25") & (frame["language"] == lang)]
            raw[(system, lang)] = stats.ttest_rel(
                group.sort_values("qid")["value"], base.sort_values("qid")["value"]
            ).pvalue
    keys = list(raw)
    expected = dict(zip(keys, holm([raw[k] for k in keys]), strict=True))
    for rec in sig.itertuples(index=False):
        assert rec.p == pytest.approx(raw[(rec.system, rec.language)], rel=1e-10)
        assert rec.p_adjusted == pytest.approx(expected[(rec.system, rec.language)], rel=1e-10)
        assert rec.significant == (rec.p_adjusted < 0.05)


def test_to_markdown_exact(small):
    text = to_markdown(small, measures=["nDCG@10"], languages=["sw", "fr"], decimals=2)
    assert text == (
        "| System | sw | fr |\n"
        "|:---|---:|---:|\n"
        "| A | 0.30 | 0.70 |\n"
        "| B | **0.50** | **0.80** |\n"
        "\n"
        "Measure: nDCG@10 (mean over queries of each language). Bold: best system per column.\n"
    )
    multi = to_markdown(small, languages=["sw"], bold_best=False, average=True)
    lines = multi.splitlines()
    assert lines[0] == "| System | sw nDCG@10 | sw AP | Avg nDCG@10 | Avg AP |"
    assert lines[2] == "| A | 0.300 | 0.100 | 0.300 | 0.100 |"
    assert "Avg: macro average over languages." in multi


def test_to_markdown_marks_and_legend():
    frame = _large()
    text = to_markdown(frame, baseline="bm25", n_resamples=2000, bold_best=False)
    means = mean_table(frame)
    rows = {line.split(" | ")[0][2:]: line for line in text.splitlines()[2:5]}
    good_sw = f"{means.loc['good', ('sw', 'nDCG@10')]:.3f}†"
    bad_fr = f"{means.loc['bad', ('fr', 'nDCG@10')]:.3f}‡"
    assert good_sw in rows["good"] and bad_fr in rows["bad"]
    assert "†" not in rows["bm25"] and "‡" not in rows["bm25"]
    assert rows["good"].count("†") == 1 and rows["bad"].count("‡") == 1
    assert (
        "† / ‡: significantly better / worse than bm25 (paired randomisation test, "
        "Holm correction over 6 comparisons per measure, α = 0.05)." in text
    )
    # A precomputed significance table is used as is.
    sig = significance_table(frame, "bm25", test="ttest", correction="bonferroni")
    text2 = to_markdown(frame, baseline="bm25", significance=sig)
    assert "paired t-test, Bonferroni correction" in text2


def test_table_validation(small):
    with pytest.raises(ValueError, match="lack columns"):
        mean_table(small.drop(columns="qid"))
    with pytest.raises(ValueError, match="duplicate"):
        mean_table(pd.concat([small, small.iloc[:1]]))
    with pytest.raises(ValueError, match="NaN"):
        mean_table(small.assign(value=np.nan))
    with pytest.raises(ValueError, match="unknown language"):
        mean_table(small, languages=["xx"])
    with pytest.raises(ValueError, match="baseline"):
        significance_table(small, "C")
    with pytest.raises(ValueError, match="baseline 'A' has no"):
        significance_table(small[~((small["system"] == "A") & (small["language"] == "hi"))], "A")
