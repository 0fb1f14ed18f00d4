"""optical.analysis.inputs: MIRACL / captions / verses written as BEIR folders the bench reads."""

from __future__ import annotations

import json

import pytest

from optical.analysis.inputs import (
    caption_collections,
    miracl_collections,
    verse_captions,
    write_collection,
)
from optical.data.beir import load_beir
from optical.data.types import Bitext, Document, RetrievalCollection
from optical.evaluation import evaluate


def test_write_collection_regrades_positive_judgements(tmp_path):
    col = RetrievalCollection(
        {"d1": Document("d1", "a"), "d2": Document("d2", "b")},
        {"q": "x"},
        {"q": {"d1": 1, "d2": 0}},
    )
    spec = write_collection(col, tmp_path / "sw")
    back = load_beir(spec, "test")
    assert back.qrels == {"q": {"d1": 2, "d2": 0}}
    # the benchmark's R@1 counts grade 2: a perfect run now scores 1 (it would score 0 with grade 1)
    assert evaluate({"q": {"d1": 2.0, "d2": 1.0}}, back.qrels, ["R(rel=2)@1"])["R(rel=2)@1"] == 1.0
    kept = load_beir(write_collection(col, tmp_path / "kept", grade=None), "test")
    assert kept.qrels == {"q": {"d1": 1, "d2": 0}}


def test_caption_collections_one_folder_per_language(tmp_path):
    captions = {
        "en": ["a dog runs", "two men"],
        "de": ["ein Hund rennt", "zwei Männer"],
        "fr": ["un chien", "deux"],
    }
    specs = caption_collections(captions, tmp_path / "data")
    assert [p.split("/")[-1] for p in specs] == ["de", "fr"]
    de = load_beir(specs[0], "test")
    assert de.queries == {"q0": "ein Hund rennt", "q1": "zwei Männer"}
    assert {d: doc.text for d, doc in de.corpus.items()} == {"d0": "a dog runs", "d1": "two men"}
    assert de.qrels == {"q0": {"d0": 2}, "q1": {"d1": 2}}
    with pytest.raises(ValueError, match="pivot language 'en'"):
        caption_collections({"de": ["x"]}, tmp_path / "other")


def test_miracl_collections_take_the_language_from_the_folder(tmp_path):
    root = tmp_path / "miracl-v1.0-sw"
    root.mkdir()
    (root / "docs-0.jsonl").write_text(
        json.dumps({"docid": "1#0", "title": "T", "text": "maji"})
        + "\n"
        + json.dumps({"docid": "2#0", "title": "", "text": "nuru"})
        + "\n"
    )
    (root / "topics.dev.tsv").write_text("7\tmaji?\n")
    (root / "qrels.dev.tsv").write_text("7 Q0 1#0 1\n7 Q0 2#0 0\n")
    (spec,) = miracl_collections([root], tmp_path / "out", split="dev")
    assert spec.endswith("/sw")
    col = load_beir(spec, "dev")
    assert col.queries == {"7": "maji?"} and col.qrels == {"7": {"1#0": 2, "2#0": 0}}
    assert col.corpus["1#0"].full_text() == "T\nmaji"


def test_verse_captions_keep_verses_present_in_every_language(monkeypatch):
    data = {
        "sw": Bitext(["s1", "s2", "s3"], ["e1", "e2", "e3"], ["1", "2", "3"]),
        "de": Bitext(["g3", "g1"], ["e3", "e1"], ["3", "1"]),  # verse 2 missing, other order
    }
    monkeypatch.setattr(
        "optical.dataset_loading.load_bitext", lambda spec, split: data[spec.split(":")[1]]
    )
    assert verse_captions(["sw", "de"]) == {
        "en": ["e1", "e3"],
        "sw": ["s1", "s3"],
        "de": ["g1", "g3"],
    }
    assert verse_captions(["sw", "de"], limit=1) == {"en": ["e1"], "sw": ["s1"], "de": ["g1"]}
    with pytest.raises(ValueError, match="no languages"):
        verse_captions([])
