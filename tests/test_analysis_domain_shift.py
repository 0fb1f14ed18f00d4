"""optical.analysis.domain_shift (RQ3): relevance levels, curves, F1 rows, shift tables."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from optical.analysis.domain_shift import (
    domain_of,
    f1_rows,
    relevance_level,
    shift_table,
    store_f1,
    thin_curve,
    threshold_curves,
)
from optical.data.beir import load_beir
from optical.evaluation import best_f1_from_run, precision_recall_curve_from_run
from optical.results import ResultsStore
from optical.retrieval import Retriever, corpus_index
from optical.systems import load_encoder_cached, parse_system
from tests.train_fixtures import write_tiny_beir


def test_relevance_levels_and_domains(tmp_path):
    assert relevance_level("bible:sw") == 2 and relevance_level("cldr:sw") == 1
    assert (
        relevance_level(str(tmp_path / "x")) == 1 and relevance_level("cldr:sw", {"cldr": 3}) == 3
    )
    assert domain_of("bible:sw") == "bible" and domain_of("cldr:tl") == "cldr"
    assert domain_of(str(tmp_path / "medical" / "sw")) == "medical"


def test_thin_curve_keeps_the_ends():
    p, r, t = np.linspace(1, 0, 1000), np.linspace(0, 1, 1000), np.linspace(1, -1, 1000)
    thin = thin_curve(p, r, t, points=50)
    assert len(thin) == 50 and thin["recall"].iloc[0] == 0.0 and thin["recall"].iloc[-1] == 1.0
    assert len(thin_curve(p[:3], r[:3], t[:3], points=50)) == 3


def test_shift_table_by_hand():
    frame = pd.DataFrame(
        {
            "system": ["a", "a", "a", "a", "b", "b"],
            "domain": ["bible", "bible", "cldr", "cldr", "bible", "cldr"],
            "language": ["sw", "sw", "sw", "sw", "sw", "sw"],
            "measure": ["AP"] * 6,
            "value": [0.8, 0.6, 0.35, 0.35, 0.5, 0.5],  # a: two seeds per cell
        }
    )
    out = shift_table(frame, "AP").set_index("system")
    assert out.loc["a", "in_domain"] == pytest.approx(0.7) and out.loc[
        "a", "shifted"
    ] == pytest.approx(0.35)
    assert out.loc["a", "drop"] == pytest.approx(0.35) and out.loc[
        "a", "retained"
    ] == pytest.approx(0.5)
    assert out.loc["b", "drop"] == 0.0 and out.loc["a", "domain"] == "cldr"


def test_threshold_curves_agree_with_the_evaluation_package(tmp_path, tiny_model_dir):
    data = str(write_tiny_beir(tmp_path / "shifted" / "sw"))
    system = parse_system(str(tiny_model_dir), name="zero-shot")
    curves, best = threshold_curves([system], [data], k=5, points=10)
    enc = load_encoder_cached(str(tiny_model_dir))
    col = load_beir(data, "test")
    run = Retriever(enc, enc, corpus_index(enc, col.corpus, "sw", progress=False)).search(
        col.queries, k=5
    )
    ref = best_f1_from_run(run, col.qrels, 1)
    (rec,) = best.itertuples()
    assert (rec.domain, rec.language, rec.relevance_level) == ("shifted", "sw", 1)
    assert (rec.f1, rec.precision, rec.recall, rec.threshold) == pytest.approx(
        (ref.f1, ref.precision, ref.recall, ref.threshold)
    )
    full = precision_recall_curve_from_run(run, col.qrels, 1)
    assert len(curves) == min(10, len(full.recall)) and curves["recall"].iloc[-1] == pytest.approx(
        full.recall[-1]
    )
    # F1 rows: one per (system, dataset), appended once
    extra = {"group": "g", "seed": None, "variant": "zero-shot"}
    (row,) = f1_rows(best, [(system, extra)], k=5)
    assert (
        row.task == "threshold"
        and row.metrics["F1"] == pytest.approx(ref.f1)
        and row.group == "g"
    )
    store = ResultsStore(tmp_path / "r.jsonl")
    assert (
        store_f1(best, [(system, extra)], store, k=5) == 1
        and store_f1(best, [(system, extra)], store, k=5) == 0
    )
