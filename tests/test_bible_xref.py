"""The cross-reference task (bible-xref): its sample, judgements, exclusions and labels."""

from __future__ import annotations

import json

import pytest

from optical.assets.bible import _split_of, verse_id
from optical.assets.bible_xref import (
    XrefSettings,
    bible_xref_check,
    build_bible_xref,
    xref_languages,
)
from optical.data.beir import load_beir, read_beir_excluded, write_excluded
from optical.data.bitext import read_bitext_tsv
from optical.data.errors import DataFormatError
from optical.data.types import Document, RetrievalCollection
from optical.dataset_spec import DatasetSpec
from optical.evaluation.exclusions import drop_excluded, search_depth
from optical.evaluation.measure_sets import XREF, measure_note, measure_set, table_measures
from tests.helpers import make_bible_db

SMALL = XrefSettings(n_test=50, n_dev=50, seed=1)
NT = 14
# 40:1:1 <-> 40:1:4 and 40:1:1 -> 1:1:1 (make_bible_db); WEB 40:1:5 and 40:1:6 share a text.
LINKS = [
    (40, 1, 7, 40, 1, 5),  # 7 -> 5, whose duplicate 6 is as relevant
    (40, 1, 5, 40, 1, 8),  # 5 -> 8 (and 7 -> 5 makes 7 relevant to 5 as well)
    (40, 1, 6, 40, 1, 5),  # 6 -> 5: its own duplicate, never relevant to it
    (40, 1, 9, 1, 1, 2),  # into the Old Testament only: no target here
    (1, 1, 1, 1, 1, 2),  # Old Testament -> Old Testament: a labelled training pair
    (1, 1, 3, 1, 1, 3),  # a verse linked to itself: dropped
]


def v(n: int) -> str:
    return verse_id(40, 1, n)


@pytest.fixture()
def built(tmp_path):
    db = make_bible_db(tmp_path / "bible.db", nt_verses=NT, extra_xref=LINKS)
    out = tmp_path / "bible-xref"
    counts = build_bible_xref(["sw", "en"], SMALL, db_path=db, out_dir=out)
    return db, out, counts


def _both(out, code):
    return {split: load_beir(out / code, split) for split in ("test", "dev")}


def test_queries_are_the_verses_with_a_cross_referenced_nt_verse(built):
    _, out, counts = built
    splits = _both(out, "en")
    eligible = {v(1), v(4), v(5), v(7), v(8)}  # 6 links only to its own text, 9 only to the OT
    assert set(splits["test"].queries) | set(splits["dev"].queries) == eligible
    for split, col in splits.items():
        assert all(_split_of(q, SMALL.seed) == split for q in col.queries)  # dev and test halves
    assert counts["en"]["queries_test"] + counts["en"]["queries_dev"] == len(eligible)


def test_judgements_add_duplicates_and_never_hold_the_query_own_text(built):
    _, out, _ = built
    col = _both(out, "en")
    qrels = {**col["test"].qrels, **col["dev"].qrels}
    excluded = {**col["test"].excluded, **col["dev"].excluded}
    assert qrels[v(7)] == {v(5): 1, v(6): 1}  # the duplicate of a relevant verse is relevant
    assert qrels[v(5)] == {v(7): 1, v(8): 1}  # 6 -> 5 links its own duplicate: not judged
    assert excluded[v(5)] == {v(5), v(6)}  # the query's own verse and its duplicate
    assert excluded[v(1)] == {v(1)}
    for qid, docs in qrels.items():
        assert not set(docs) & excluded[qid]
        assert set(docs.values()) == {1}
    assert RetrievalCollection(col["test"].corpus, col["test"].queries, col["test"].qrels,
                               excluded=col["test"].excluded).validate() == []


def test_languages_read_their_own_text_and_en_brings_en_web(built):
    db, out, counts = built
    assert set(counts) == {"sw", "en", "en-web"}
    web = _both(out, "en-web")
    en = _both(out, "en")
    sw = _both(out, "sw")
    query = next(iter({**web["test"].queries, **web["dev"].queries}.items()))
    assert query[1] == web["test"].corpus[query[0]].text  # the WEB verse itself
    assert {**en["test"].queries, **en["dev"].queries}[query[0]].startswith("KJV verse")
    assert all(t.startswith("Swahili") for t in {**sw["test"].queries, **sw["dev"].queries}.values())
    assert xref_languages(["sw"]) == ["sw"] and xref_languages(["en"]) == ["en", "en-web"]


def test_training_pairs_are_old_testament_cross_references_not_translations(built):
    _, out, counts = built
    pairs = read_bitext_tsv(out / "sw" / "bitext" / "train.tsv")
    assert pairs.ids == ["01001001>01001002", "01001002>01001001"]  # both directions, OT only
    assert pairs.src[0] == "Hapo mwanzo 1" and pairs.tgt[0] == "In the beginning 2"
    assert counts["sw"]["train_pairs"] == 2
    assert not (out / "en-web" / "bitext").exists()


def test_build_is_idempotent_and_checked(built):
    db, out, counts = built
    assert bible_xref_check("sw", SMALL, full=True, root=out) == ("ok", "ok")
    assert build_bible_xref(["sw", "en"], SMALL, db_path=db, out_dir=out) == counts
    assert bible_xref_check("sw", XrefSettings(), root=out)[0] == "stale"
    qrels = out / "sw" / "qrels" / "test.tsv"
    qrels.write_text(qrels.read_text() + "x\ty\t1\n")
    assert bible_xref_check("sw", SMALL, full=True, root=out)[0] == "corrupt"
    manifest = json.loads((out / "sw" / "manifest.json").read_text())
    assert manifest["counts"]["documents"] == NT


def test_spec_shares_the_bible_corpus_and_declares_its_measures():
    spec = DatasetSpec.parse("bible-xref:sw")
    assert spec.is_embedded and spec.language == "sw" and spec.benchmark == "bible-xref"
    assert spec.corpus_name == "bible" == DatasetSpec.parse("bible:sw").corpus_name  # one index
    assert spec.measures == "xref" and measure_set({}, spec.measures) is XREF
    assert DatasetSpec.parse("bible-xref:en-web").language == "en-web"
    assert spec.build_command == "optical assets build --languages sw"
    with pytest.raises(ValueError, match="unknown language"):
        DatasetSpec.parse("bible-xref:xx")
    with pytest.raises(ValueError, match="unknown language"):
        DatasetSpec.parse("bible:en-web")  # the WEB queries exist on the cross-reference task only


def test_xref_tables_lead_with_map_and_say_what_is_excluded():
    assert table_measures(XREF.measures) == ("AP", "nDCG@10", "P@10", "RR@10")
    assert "removed from the ranking" in measure_note(XREF.table)
    assert "R@1" not in measure_note(XREF.table)  # the binary set's note does not apply


def test_drop_excluded_moves_the_rest_up_and_keeps_k():
    run = {"q": {"own": 9.0, "a": 5.0, "b": 4.0, "c": 3.0}, "r": {"a": 1.0}}
    assert drop_excluded(run, {"q": {"own"}}, 2) == {"q": {"a": 5.0, "b": 4.0}, "r": {"a": 1.0}}
    assert search_depth(10, {"q": {"own", "dup"}, "r": {"x"}}) == 12
    assert search_depth(10, {}) == 10


def test_excluded_files_round_trip_and_bad_lines_name_the_line(tmp_path):
    write_excluded({"q1": ["d2", "d1"], "q2": ["d3"]}, tmp_path, "test")
    assert read_beir_excluded(tmp_path / "excluded" / "test.tsv") == {"q1": {"d1", "d2"}, "q2": {"d3"}}
    bad = tmp_path / "bad.tsv"
    bad.write_text("query-id\tcorpus-id\nq1\n")
    with pytest.raises(DataFormatError, match="line 2"):
        read_beir_excluded(bad)


def test_evaluation_does_not_count_an_excluded_document(tmp_path):
    """BM25 ranks the query's own text first; with it excluded, the relevant verse is at rank 1."""
    from optical.data.beir import write_beir
    from optical.results.collect import evaluate_system
    from optical.systems import parse_system

    corpus = {d: Document(d, t) for d, t in {
        "own": "the lamb of god takes away the sin of the world",
        "rel": "behold the lamb of god",
        "other": "a sower went out to sow",
    }.items()}
    col = RetrievalCollection(corpus, {"q": "the lamb of god takes away the sin of the world"},
                              {"q": {"rel": 1}})
    write_beir(col, tmp_path, "test")
    base = evaluate_system(parse_system("bm25"), str(tmp_path), measures=["RR@10", "P@1"], progress=False)
    assert base.metrics["RR@10"] == 0.5  # the own text first
    write_excluded({"q": ["own"]}, tmp_path, "test")
    row = evaluate_system(parse_system("bm25"), str(tmp_path), measures=["RR@10", "P@1"], progress=False)
    assert row.metrics["RR@10"] == 1.0 and row.metrics["P@1"] == 1.0


def test_cross_entropy_reads_cross_reference_labels(built, monkeypatch):
    """data.labels = "xref": the labelled pairs are bible-xref's, not verse translations."""
    from optical.train import data as train_data
    from optical.train.config import DistillConfig, apply_overrides

    _, out, _ = built
    monkeypatch.setattr(train_data, "load_bitext", lambda spec, split="train": read_bitext_tsv(
        out / DatasetSpec.parse(spec).language / "bitext" / f"{split}.tsv"))
    pairs = train_data.load_training_pairs("bible:sw", "cross_entropy", 100, 0, labels="xref")
    assert pairs.source == "bible-xref:sw" and pairs.ids == ["01001001>01001002", "01001002>01001001"]
    assert pairs.teacher == ["In the beginning 2", "In the beginning 1"]
    with pytest.raises(ValueError, match="cross_entropy only"):
        apply_overrides(DistillConfig(), {"data.labels": "xref"}).validate()
    with pytest.raises(ValueError, match="bible:<lang>"):
        apply_overrides(DistillConfig(), {"data.labels": "xref", "objective.name": "cross_entropy",
                                          "data.train": str(out / "sw" / "bitext" / "train.tsv")}).validate()
    with pytest.raises(ValueError, match="data.labels"):
        apply_overrides(DistillConfig(), {"data.labels": "votes"}).validate()


def test_optical_evaluate_removes_the_collection_excluded_documents(tmp_path, capsys):
    from optical.cli import main
    from optical.data.beir import write_beir

    corpus = {d: Document(d, d) for d in ("own", "rel", "other")}
    write_beir(RetrievalCollection(corpus, {"q": "x"}, {"q": {"rel": 1}}), tmp_path / "c", "test")
    run = tmp_path / "run.trec"
    run.write_text("q Q0 own 1 3.0 t\nq Q0 rel 2 2.0 t\nq Q0 other 3 1.0 t\n")
    assert main(["evaluate", "--run", str(run), "--qrels", str(tmp_path / "c"), "--measures", "RR@10"]) == 0
    assert "RR@10                 \tall\t0.5000" in capsys.readouterr().out
    write_excluded({"q": ["own"]}, tmp_path / "c", "test")
    assert main(["evaluate", "--run", str(run), "--qrels", str(tmp_path / "c"), "--measures", "RR@10"]) == 0
    out = capsys.readouterr()
    assert "RR@10                 \tall\t1.0000" in out.out and "1 excluded documents removed" in out.err


def test_the_ceiling_queries_are_not_a_language_of_the_high_low_gap():
    from optical.analysis.variance import language_levels
    from optical.assets.languages import resource_level

    assert resource_level("en-web") == "ceiling" and resource_level("en") == "high"
    assert language_levels(["sw", "en", "en-web"]) == {"sw": "low", "en": "high"}
