"""Tests for optical.evaluation.metrics: trec_eval semantics, parity with pytrec_eval."""

from __future__ import annotations

import math

import numpy as np
import pandas as pd
import pytest
import pytrec_eval

from optical.evaluation import (
    DEFAULT_MEASURES,
    evaluate,
    parse_measure,
    parse_measures,
    per_query,
    trec_ranking,
    validate_qrels,
    validate_run,
)

# Our measure name -> pytrec_eval measure (RR@10 is derived from recip_rank, see below).
PYTREC = {
    "AP": "map",
    "nDCG@10": "ndcg_cut_10",
    "RR@10": "recip_rank",
    "R@1": "recall_1",
    "R@10": "recall_10",
    "R@100": "recall_100",
    "P@10": "P_10",
}


def _pytrec_reference(run, qrels, relevance_level):
    """Per-query reference values from pytrec_eval for every default measure."""
    evaluator = pytrec_eval.RelevanceEvaluator(
        qrels, set(PYTREC.values()), relevance_level=relevance_level
    )
    raw = evaluator.evaluate(run)
    out = {}
    for qid, values in raw.items():
        row = {name: values[key] for name, key in PYTREC.items()}
        # RR@10 = 1/rank of the first relevant document if that rank is <= 10, else 0.
        rr = values["recip_rank"]
        row["RR@10"] = rr if rr >= 0.1 else 0.0
        out[qid] = row
    return out


def _random_case(seed):
    """Random run and graded qrels with ties, unjudged docs and awkward queries."""
    rng = np.random.default_rng(seed)
    run, qrels = {}, {}
    for q in range(40):
        qid = f"q{q:02d}"
        pool = [f"d{seed}_{q}_{i:03d}" for i in range(180)]
        n_ret = int(rng.integers(1, 160))
        retrieved = rng.choice(pool, size=n_ret, replace=False)
        # Few distinct score values -> many ties; trec_eval breaks them by docid descending.
        scores = rng.integers(0, 12, size=n_ret) / 4.0
        if q % 3 == 0:
            scores = scores - 10.0  # negative scores
        in_run = q % 10 != 7  # some qrels queries are missing from the run
        in_qrels = q % 10 != 3  # some run queries are missing from the qrels
        if in_run:
            run[qid] = {str(d): float(s) for d, s in zip(retrieved, scores, strict=True)}
        if in_qrels:
            judged = rng.choice(pool, size=int(rng.integers(1, 40)), replace=False)
            grades = rng.choice([0, 0, 0, 1, 2], size=judged.size)
            if q % 10 == 5:
                grades[:] = 0  # a query without relevant documents
            if q % 10 == 6:
                grades = np.where(grades == 2, 1, grades)  # no grade-2 documents
            qrels[qid] = {str(d): int(g) for d, g in zip(judged, grades, strict=True)}
    return run, qrels


@pytest.mark.parametrize("seed", [0, 1, 2, 3])
@pytest.mark.parametrize("relevance_level", [1, 2])
def test_parity_with_pytrec_eval(seed, relevance_level):
    run, qrels = _random_case(seed)
    ref = _pytrec_reference(run, qrels, relevance_level)
    assert set(ref) == set(run) & set(qrels)

    frame = per_query(run, qrels, relevance_level=relevance_level, include_missing=False)
    assert set(frame["qid"]) == set(ref)
    for rec in frame.itertuples(index=False):
        assert rec.value == pytest.approx(ref[rec.qid][rec.measure], abs=1e-9), (rec, seed)

    # Aggregates: mean over the common queries (plain trec_eval) ...
    agg = evaluate(run, qrels, relevance_level=relevance_level, include_missing=False)
    assert list(agg) == list(PYTREC)
    assert agg.n_queries == len(ref)
    for name in PYTREC:
        expected = np.mean([ref[q][name] for q in ref])
        assert agg[name] == pytest.approx(expected, abs=1e-9)
    # ... and with missing qrels queries counted as 0 (trec_eval -c).
    agg_c = evaluate(run, qrels, relevance_level=relevance_level)
    assert agg_c.n_queries == len(qrels)
    for name in PYTREC:
        expected = sum(ref[q][name] for q in ref) / len(qrels)
        assert agg_c[name] == pytest.approx(expected, abs=1e-9)
    frame_c = per_query(run, qrels, relevance_level=relevance_level)
    missing = frame_c[~frame_c["qid"].isin(run)]
    assert len(missing) == len(set(qrels) - set(run)) * len(PYTREC)
    assert (missing["value"] == 0).all()


def test_ties_follow_trec_eval_docid_descending():
    qrels = {"q": {"a": 1, "b": 0, "c": 0}}
    run = {"q": {"a": 1.0, "b": 1.0, "c": 1.0}}
    # trec_eval order: c, b, a -> the relevant document is at rank 3.
    assert trec_ranking(run["q"]) == ["c", "b", "a"]
    res = evaluate(run, qrels, ["RR@10", "AP", "P@1", "R@1", "R@10", "nDCG@10", "Judged@2"])
    assert res["RR@10"] == pytest.approx(1 / 3)
    assert res["AP"] == pytest.approx(1 / 3)
    assert res["P@1"] == 0.0 and res["R@1"] == 0.0 and res["R@10"] == 1.0
    assert res["nDCG@10"] == pytest.approx(1 / math.log2(4))
    assert res["Judged@2"] == 1.0
    # With the relevant docid sorting last, it comes first.
    res2 = evaluate({"q": {"z": 1.0, "b": 1.0}}, {"q": {"z": 1}}, ["RR@10"])
    assert res2["RR@10"] == 1.0


def test_scores_compared_in_float32_like_trec_eval():
    qrels = {"q": {"a": 1, "b": 0}}
    # 1 + 1e-12 == 1 in float32: a tie, broken by docid descending -> b first.
    near = {"q": {"a": 1.0 + 1e-12, "b": 1.0}}
    assert trec_ranking(near["q"]) == ["b", "a"]
    assert evaluate(near, qrels, ["RR@10"])["RR@10"] == 0.5
    ref = pytrec_eval.RelevanceEvaluator(qrels, {"recip_rank"}).evaluate(near)
    assert ref["q"]["recip_rank"] == 0.5
    far = {"q": {"a": 1.0 + 1e-6, "b": 1.0}}
    assert evaluate(far, qrels, ["RR@10"])["RR@10"] == 1.0


def test_rr_cutoff_and_graded_ndcg_by_hand():
    qrels = {"q": {"d3": 2, "d12": 1, "x": 1}}
    run = {"q": {f"d{i}": 100.0 - i for i in range(15)}}  # ranks d0, d1, ..., d14
    res = evaluate(run, qrels, ["RR@10", "RR@3", "P@5", "R@10", "R@100", "AP", "nDCG@10"])
    assert res["RR@10"] == 0.25  # first relevant at rank 4
    assert res["RR@3"] == 0.0
    assert res["P@5"] == pytest.approx(1 / 5)
    assert res["R@10"] == pytest.approx(1 / 3)  # d3 of {d3, d12, x}
    assert res["R@100"] == pytest.approx(2 / 3)
    assert res["AP"] == pytest.approx((1 / 4 + 2 / 13) / 3)
    # nDCG@10: gains are the grades; ideal ranking 2, 1, 1.
    dcg = 2 / math.log2(5)
    idcg = 2 / math.log2(2) + 1 / math.log2(3) + 1 / math.log2(4)
    assert res["nDCG@10"] == pytest.approx(dcg / idcg)
    # relevance_level=2 changes binary measures only.
    res2 = evaluate(run, qrels, ["R@10", "AP", "nDCG@10"], relevance_level=2)
    assert res2["R@10"] == 1.0
    assert res2["AP"] == pytest.approx(1 / 4)
    assert res2["nDCG@10"] == pytest.approx(res["nDCG@10"])
    # An explicit rel= in the name wins over relevance_level.
    res3 = evaluate(run, qrels, ["AP", "AP(rel=1)"], relevance_level=2)
    assert res3["AP"] == pytest.approx(1 / 4)
    assert res3["AP(rel=1)"] == pytest.approx(res["AP"])
    with pytest.raises(ValueError, match="coincide"):
        evaluate(run, qrels, ["AP", "AP(rel=1)"], relevance_level=1)


def test_measure_parsing():
    assert [str(m) for m in DEFAULT_MEASURES] == list(PYTREC)
    assert str(parse_measure("MAP")) == "AP"
    assert str(parse_measure("MRR@10")) == "RR@10"
    assert str(parse_measure(" nDCG@10 ")) == "nDCG@10"
    assert str(parse_measure("P(rel=2)@5")) == "P(rel=2)@5"
    assert [str(m) for m in parse_measures("Judged@10")] == ["Judged@10"]
    with pytest.raises(ValueError, match="cannot parse"):
        parse_measure("NotAMeasure@3")
    with pytest.raises(ValueError, match="duplicate"):
        parse_measures(["MAP", "AP"])
    res = evaluate({"q": {"a": 1.0}}, {"q": {"a": 1}}, ["MAP", "MRR@10"])
    assert dict(res) == {"AP": 1.0, "RR@10": 1.0}


def test_missing_and_extra_queries_are_reported():
    run = {"q1": {"a": 2.0, "b": 1.0}, "extra": {"a": 1.0}}
    qrels = {"q1": {"b": 1}, "q2": {"c": 1}, "q3": {"a": 0}}
    res = evaluate(run, qrels, ["AP", "P@1"])
    assert res.n_queries == 3
    assert res["AP"] == pytest.approx(0.5 / 3)
    text = " ".join(res.warnings)
    assert "'q2'" in text and "'q3'" in text and "'extra'" in text
    assert "missing from the run" in text and "absent from the qrels" in text
    assert "without documents of relevance" in text  # q3 has no relevant documents
    res_nc = evaluate(run, qrels, ["AP"], include_missing=False)
    assert res_nc.n_queries == 1 and res_nc["AP"] == 0.5
    frame = per_query(run, qrels, ["AP", "P@1"])
    assert list(frame.columns) == ["qid", "measure", "value"]
    assert frame["qid"].tolist() == ["q1", "q1", "q2", "q2", "q3", "q3"]
    assert frame["measure"].tolist() == ["AP", "P@1"] * 3
    assert frame.attrs["warnings"] == res.warnings


def test_validation_errors():
    qrels = {"q": {"a": 1}}
    with pytest.raises(ValueError, match="empty run"):
        evaluate({}, qrels)
    with pytest.raises(ValueError, match="empty run"):
        evaluate({"q": {}}, qrels)
    for bad in (float("nan"), float("inf"), -float("inf")):
        with pytest.raises(ValueError, match="non-finite"):
            evaluate({"q": {"a": bad}}, qrels)
    with pytest.raises(ValueError, match="no query in common"):
        evaluate({"1": {"a": 1.0}}, {"01": {"a": 1}})
    with pytest.raises(TypeError, match="query id must be str"):
        validate_run({1: {"a": 1.0}})
    with pytest.raises(ValueError, match="duplicate document 'a' for query 'q'"):
        validate_run([("q", "a", 1.0), ("q", "b", 0.5), ("q", "a", 0.2)])
    with pytest.raises(ValueError, match="not an integer"):
        validate_qrels({"q": {"a": 0.5}})
    with pytest.raises(ValueError, match="empty qrels"):
        validate_qrels({})
    assert validate_qrels({"q": {"a": 2.0}}) == {"q": {"a": 2}}
    assert validate_run([("q", "a", 1), ("q", "b", np.float32(0.5))]) == {"q": {"a": 1.0, "b": 0.5}}

    rows = [("q", "a", 2.5), ("q", "b", 1.5)]
    assert validate_run(rows) == {"q": {"a": 2.5, "b": 1.5}}
    with pytest.raises(ValueError, match="duplicate judgement of 'b'"):
        validate_qrels([("q", "b", 2), ("q", "b", 1)])
    assert evaluate(rows, [("q", "b", 2), ("q", "a", 0)], ["RR@10"])["RR@10"] == 0.5


def test_per_query_frame_is_long_format():
    run, qrels = _random_case(7)
    frame = per_query(run, qrels, ["AP", "nDCG@10"])
    assert isinstance(frame, pd.DataFrame)
    assert frame.groupby("qid").size().eq(2).all()
    means = frame.groupby("measure")["value"].mean()
    agg = evaluate(run, qrels, ["AP", "nDCG@10"])
    assert means["AP"] == pytest.approx(agg["AP"], abs=1e-12)
    assert means["nDCG@10"] == pytest.approx(agg["nDCG@10"], abs=1e-12)
