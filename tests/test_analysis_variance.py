"""RQ1, RQ4, RQ5 analyses: budget curves and head-to-head tests, spread and gap over seeds,
the gap vs model size — on small hand-checkable frames."""

from __future__ import annotations

import math

import pandas as pd
import pytest

from optical.analysis.low_resource import budget_curve, head_to_head
from optical.analysis.scaling import model_size, scaling_table
from optical.analysis.variance import (
    language_ci,
    language_levels,
    per_seed_spread,
    variance_summary,
)
from optical.evaluation import paired_test

# per-language means by construction (2 queries each): sw, tl low; de high
SCORES = {
    ("zero-shot", None): {"sw": [0.5, 0.5], "tl": [1.0, 0.0], "de": [1.0, 0.8]},
    ("optical-sw", 0): {"sw": [1.0, 0.6], "tl": [0.6, 0.6], "de": [0.8, 0.6]},
    ("optical-sw", 1): {"sw": [1.0, 1.0], "tl": [0.4, 0.6], "de": [0.6, 0.6]},
}


def _per_query() -> pd.DataFrame:
    rows = []
    for (system, seed), langs in SCORES.items():
        method = "zero-shot" if seed is None else "optical"
        for lang, values in langs.items():
            rows += [
                {
                    "system": system,
                    "method": method,
                    "model": "m",
                    "pairs": None,
                    "seed": seed,
                    "language": lang,
                    "qid": f"q{i}",
                    "measure": "R",
                    "value": v,
                }
                for i, v in enumerate(values)
            ]
    return pd.DataFrame(rows)


def test_per_seed_spread_by_hand():
    out = per_seed_spread(_per_query(), "R").set_index(["system", "seed"], drop=False)
    zero = out.iloc[0]
    # zero-shot language means: sw 0.5, tl 0.5, de 0.9
    assert zero["mean"] == pytest.approx(19 / 30) and zero["low"] == pytest.approx(0.5)
    assert zero["high"] == pytest.approx(0.9) and zero["gap"] == pytest.approx(0.4)
    assert (
        zero["std"] == pytest.approx(pd.Series([0.5, 0.5, 0.9]).std()) and zero["n_languages"] == 3
    )
    assert (zero["min"], zero["max"]) == pytest.approx((0.5, 0.9)) and pd.isna(zero["seed"])
    s0 = out[(out["system"] == "optical-sw") & (out["seed"] == 0)].iloc[0]
    assert (
        s0["low"] == pytest.approx(0.7)
        and s0["high"] == pytest.approx(0.7)
        and s0["gap"] == pytest.approx(0.0)
    )
    s1 = out[(out["system"] == "optical-sw") & (out["seed"] == 1)].iloc[0]
    assert s1["gap"] == pytest.approx(0.6 - 0.75)
    # overriding a level: tl counted as high-resource
    moved = per_seed_spread(_per_query(), "R", levels={"tl": "high"}).iloc[0]
    assert moved["gap"] == pytest.approx((0.5 + 0.9) / 2 - 0.5)


def test_variance_summary_and_language_ci_over_seeds():
    summary = variance_summary(per_seed_spread(_per_query(), "R"))
    gap = summary[(summary["system"] == "optical-sw") & (summary["stat"] == "gap")].iloc[0]
    assert gap["mean"] == pytest.approx(-0.075) and gap["n"] == 2
    half = 12.706204736174698 * pd.Series([0.0, -0.15]).std() / math.sqrt(2)
    assert (gap["ci_low"], gap["ci_high"]) == pytest.approx((-0.075 - half, -0.075 + half))
    zero = summary[(summary["system"] == "zero-shot") & (summary["stat"] == "gap")].iloc[0]
    assert zero["n"] == 1 and math.isnan(zero["ci_low"])
    results = pd.DataFrame(
        [
            {
                "system": "s",
                "method": "optical",
                "language": "sw",
                "resource": "low",
                "measure": "R",
                "value": v,
            }
            for v in (0.6, 0.8)
        ]
    )
    ci = language_ci(results, "R").iloc[0]
    assert ci["mean"] == pytest.approx(0.7) and ci["n"] == 2


def test_language_levels():
    assert language_levels(["sw", "de", "xx"]) == {"sw": "low", "de": "high"}
    assert language_levels(["xx", "sw"], {"xx": "medium", "sw": "high"}) == {
        "xx": "medium",
        "sw": "high",
    }


def test_budget_curve_and_head_to_head():
    rows = []
    for method, pairs, values in (
        ("optical", 10, [1, 1, 0, 1]),
        ("ce", 10, [0, 1, 0, 0]),
        ("optical", 100, [1, 1, 1, 1]),
        ("ce", 100, [1, 1, 1, 0]),
    ):
        for seed in (0, 1):
            rows += [
                {
                    "system": f"{method}-{pairs}",
                    "method": method,
                    "model": "m",
                    "pairs": pairs,
                    "seed": seed,
                    "language": "sw",
                    "qid": f"q{i}",
                    "measure": "R",
                    "value": float(v),
                }
                for i, v in enumerate(values)
            ]
    rows += [
        {
            "system": "zero-shot",
            "method": "zero-shot",
            "model": "m",
            "pairs": None,
            "seed": None,
            "language": "sw",
            "qid": f"q{i}",
            "measure": "R",
            "value": 0.5,
        }
        for i in range(4)
    ]
    pq = pd.DataFrame(rows)
    results = pq.groupby(
        ["system", "method", "model", "pairs", "seed", "language", "measure"],
        dropna=False,
        as_index=False,
    )["value"].mean()
    curve = budget_curve(results, "R").set_index(["method", "pairs"])
    assert (
        curve.loc[("optical", 10), "mean"] == pytest.approx(0.75)
        and curve.loc[("optical", 10), "n"] == 2
    )
    assert curve.loc[("zero-shot", 0), "mean"] == 0.5
    h2h = head_to_head(pq, "R", "optical", "ce", n_resamples=2000).set_index("pairs")
    assert h2h.loc[10, "delta"] == pytest.approx(0.5) and h2h.loc[100, "delta"] == pytest.approx(
        0.25
    )
    ref = paired_test([1, 1, 0, 1], [0, 1, 0, 0], n_resamples=2000)
    assert h2h.loc[10, "p"] == pytest.approx(ref.pvalue) and h2h.loc[10, "n_queries"] == 4
    assert (h2h["p_adjusted"] >= h2h["p"]).all()


def test_model_size_counts_without_loading_weights(tiny_model_dir):
    from transformers import AutoModel

    size = model_size(str(tiny_model_dir))
    model = AutoModel.from_pretrained(str(tiny_model_dir))
    assert size["layers"] == 2 and size["hidden"] == 32
    assert size["parameters"] == sum(p.numel() for p in model.parameters())
    assert size["non_embedding"] == size["parameters"] - sum(
        p.numel() for p in model.embeddings.parameters()
    )


def test_scaling_table_orders_models_by_size():
    pq = _per_query()
    pq["model"] = pq["system"].map({"zero-shot": "big", "optical-sw": "small"})
    sizes = {
        "small": {"layers": 3, "non_embedding": 10, "parameters": 100},
        "big": {"layers": 12, "non_embedding": 40, "parameters": 130},
    }
    table = scaling_table(pq, "R", sizes)
    gaps = table[table["stat"] == "gap"].set_index("model")
    assert gaps.loc["big", "mean"] == pytest.approx(0.4) and gaps.loc[
        "small", "mean"
    ] == pytest.approx(-0.075)
    assert gaps.loc["small", "layers"] == 3 and gaps.loc["small", "n"] == 2
    assert set(table["stat"]) == {"gap", "low", "high", "mean"}
    assert scaling_table(pq, "R", {"small": sizes["small"]})["model"].unique().tolist() == ["small"]
