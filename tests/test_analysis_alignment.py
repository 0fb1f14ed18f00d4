"""optical.analysis.embedding_space (RQ2): embedding metrics by hand, parallel data, store rows."""

from __future__ import annotations

import json
import math

import numpy as np
import pytest

from optical.analysis.embedding_space import (
    alignment_rows,
    alignment_table,
    embedding_metrics,
    evaluate_alignment,
    parallel_data,
    transport_plans,
)
from optical.results import ResultsStore
from optical.systems import load_encoder_cached, parse_system
from tests.train_fixtures import write_tiny_bitext


def test_embedding_metrics_by_hand():
    foreign = [[1.0, 0.0], [0.0, 2.0]]  # rows are normalised first
    english = [[3.0, 0.0], [1.0, 1.0]]
    m = embedding_metrics(foreign, english)
    # pair 0 identical; pair 1: |(0, 1) - (1/√2, 1/√2)|^2 = 2 - √2
    assert m["pair_alignment"].tolist() == pytest.approx([0.0, 2 - math.sqrt(2)])
    assert m["alignment"] == pytest.approx((2 - math.sqrt(2)) / 2)
    # one pair of foreign vectors at squared distance 2: log exp(-2 * 2) = -4
    assert m["uniformity"] == pytest.approx(-4.0)
    assert m["uniformity_en"] == pytest.approx(-2 * (2 - math.sqrt(2)))
    # f0 -> e0 (1 vs 0.707), f1 -> e1 (0.707 vs 0): both correct
    assert m["mining_acc"] == 1.0 and m["pair_correct"].tolist() == [1.0, 1.0]
    swapped = embedding_metrics(foreign, english[::-1])
    assert swapped["mining_acc"] == 0.0 and swapped["pair_correct"].tolist() == [0.0, 0.0]


def _squad(path, questions):
    data = {
        "data": [
            {
                "title": "t",
                "paragraphs": [
                    {
                        "context": "c",
                        "qas": [
                            {"id": qid, "question": q, "answers": []}
                            for qid, q in questions.items()
                        ],
                    }
                ],
            }
        ]
    }
    path.write_text(json.dumps(data))
    return str(path)


def test_parallel_data_from_bitext_and_squad(tmp_path):
    bitext = write_tiny_bitext(tmp_path / "sw.tsv", n=10)
    data = parallel_data({"sw": str(bitext)}, limit=4)
    assert (
        len(data["sw"]) == 4
        and data["sw"].ids == ["p0", "p1", "p2", "p3"]
        and data["sw"].split == "test"
    )
    assert data["sw"].english[0] == " ".join(reversed(data["sw"].foreign[0].split()))
    files = {
        "en": _squad(tmp_path / "en.json", {"a": "Who?", "b": "Why?", "c": "When?"}),
        "de": _squad(tmp_path / "de.json", {"b": "Warum?", "a": "Wer?"}),
    }
    squad = parallel_data(squad_files=files)
    assert list(squad) == ["de"] and squad["de"].foreign == ["Wer?", "Warum?"]
    assert squad["de"].english == ["Who?", "Why?"] and squad["de"].source == "squad:de.json"
    with pytest.raises(ValueError, match="pivot language"):
        parallel_data(squad_files={"de": files["de"]})
    with pytest.raises(ValueError, match="give bitext"):
        parallel_data()


def test_alignment_rows_match_direct_encoding(tmp_path, tiny_model_dir):
    bitext = write_tiny_bitext(tmp_path / "sw.tsv", n=12)
    data = parallel_data({"sw": str(bitext)})
    system = parse_system(str(tiny_model_dir), name="zero-shot")
    rows = alignment_rows([(system, {"group": "g", "seed": None, "variant": "zero-shot"})], data)
    (row,) = rows
    enc = load_encoder_cached(str(tiny_model_dir))
    direct = embedding_metrics(
        enc.encode(data["sw"].foreign, True), enc.encode(data["sw"].english, True)
    )
    for m in ("alignment", "uniformity", "mining_acc"):
        assert row.metrics[m] == pytest.approx(direct[m])
    assert (
        row.task == "embedding"
        and row.dataset == f"bitext:{bitext}"
        and row.split == "test"
    )
    assert np.mean(list(row.per_query["mining_acc"].values())) == pytest.approx(
        row.metrics["mining_acc"]
    )
    # the same sentences on both sides through the same model: perfectly aligned, all mined
    same = parallel_data({"sw": str(bitext)})
    same["sw"].english = list(same["sw"].foreign)
    (ident,) = alignment_rows([(system, {})], same)
    assert (
        ident.metrics["alignment"] == pytest.approx(0.0, abs=1e-9)
        and ident.metrics["mining_acc"] == 1.0
    )
    with pytest.raises(ValueError, match="side must be"):
        alignment_rows([(system, {})], data, side="left")


def test_evaluate_alignment_skips_stored_rows_and_table_averages_seeds(tmp_path, tiny_model_dir):
    bitext = write_tiny_bitext(tmp_path / "sw.tsv", n=8)
    data = parallel_data({"sw": str(bitext)})
    store = ResultsStore(tmp_path / "r.jsonl")
    system = parse_system(str(tiny_model_dir), name="zero-shot")
    assert len(evaluate_alignment([(system, {"seed": None})], data, store, progress=None)) == 1
    assert evaluate_alignment([(system, {"seed": None})], data, store, progress=None) == []
    # two seeds of a trained system, made up: the table averages them
    for seed, value in ((0, 0.2), (1, 0.4)):
        store.append(
            {
                "key": f"k{seed}",
                "task": "embedding",
                "system": "optical-sw",
                "dataset": "bitext:x",
                "language": "sw",
                "split": "test",
                "seed": seed,
                "variant": "optical",
                "config": {"objective": {"name": "optical"}, "data": {}, "model": {}},
                "metrics": {
                    "alignment": value,
                    "uniformity": -1.0,
                    "uniformity_en": -2.0,
                    "mining_acc": 0.5,
                },
            }
        )
    table = alignment_table(store).set_index("system")
    assert (
        table.loc["optical-sw", "alignment"] == pytest.approx(0.3)
        and table.loc["optical-sw", "n_seeds"] == 2
    )
    assert (
        table.loc["optical-sw", "method"] == "optical"
        and table.loc["zero-shot", "method"] == "zero-shot"
    )


def test_transport_plans_hold_their_marginals(tiny_model_dir):
    system = parse_system(str(tiny_model_dir))
    (expl,) = transport_plans(system, [("mungu aliupenda ulimwengu", "god loved the world")])
    n, m = expl.ot_plan.shape
    assert (n, m) == (len(expl.query_tokens), len(expl.doc_tokens)) and n > 0 and m > 0
    assert expl.ot_plan.sum(1) == pytest.approx(np.full(n, 1 / n), abs=1e-4)
    assert expl.ot_plan.sum(0) == pytest.approx(np.full(m, 1 / m), abs=1e-4)
