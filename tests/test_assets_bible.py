from __future__ import annotations

import json

import pytest

from optical.assets.bible import (
    BibleSettings,
    _split_of,
    bible_status,
    build_bible,
    clean_verse,
    verse_id,
)
from optical.assets.languages import BIBLE_LANGUAGES, parse_languages
from optical.data.beir import load_beir
from optical.data.bitext import read_bitext_tsv
from tests.helpers import make_bible_db

SMALL = BibleSettings(n_test=4, n_dev=3, seed=1)


@pytest.fixture()
def built(tmp_path):
    db = make_bible_db(tmp_path / "bible.db")
    out = tmp_path / "bible"
    counts = build_bible(["sw", "en"], SMALL, db_path=db, out_dir=out)
    return db, out, counts


def test_verse_ids_and_cleaning():
    assert verse_id(43, 3, 16) == "43003016"
    assert clean_verse("  Hello*   world \n") == "Hello world"
    assert clean_verse("-") == "" and clean_verse(None) == ""


def test_splits_are_disjoint_and_train_is_old_testament_only(built):
    _, out, counts = built
    train = read_bitext_tsv(out / "sw" / "bitext" / "train.tsv")
    assert train.ids == ["01001001", "01001002", "01001003"]  # OT only, never NT
    assert train.src[0] == "Hapo mwanzo 1" and train.tgt[0] == "In the beginning 1"
    test = load_beir(out / "sw", split="test")
    dev = load_beir(out / "sw", split="dev")
    assert set(test.queries).isdisjoint(dev.queries)
    assert all(int(q[:2]) >= 40 for q in [*test.queries, *dev.queries])
    available = [verse_id(40, 1, v) for v in range(1, 13) if v not in (2, 3)]  # 2 and 3 are empty
    pools = {s: [v for v in available if _split_of(v, SMALL.seed) == s] for s in ("test", "dev")}
    assert len(test.queries) == min(4, len(pools["test"])) and set(test.queries) <= set(
        pools["test"]
    )
    assert len(dev.queries) == min(3, len(pools["dev"])) and set(dev.queries) <= set(pools["dev"])
    assert counts["sw"]["skipped_empty"] == 2
    # the bitext test split is the test queries, aligned with the English documents
    test_bitext = read_bitext_tsv(out / "sw" / "bitext" / "test.tsv")
    assert set(test_bitext.ids) == set(test.queries)


def test_empty_and_dash_verses_never_become_queries(built):
    _, out, _ = built
    queries = {**load_beir(out / "sw", "test").queries, **load_beir(out / "sw", "dev").queries}
    assert "40001002" not in queries and "40001003" not in queries
    assert queries.get("40001004", "Swahili verse 4") == "Swahili verse 4"  # '*' and spaces cleaned


def test_graded_qrels(built):
    _, out, _ = built
    qrels = {**load_beir(out / "en", "test").qrels, **load_beir(out / "en", "dev").qrels}
    for qid, judged in qrels.items():
        assert judged[qid] == 2  # the aligned English verse
    if "40001005" in qrels:  # identical English text: both verses are grade 2
        assert qrels["40001005"] == {"40001005": 2, "40001006": 2}
    if "40001001" in qrels:  # cross-reference to 40:1:4 (the OT link is outside the corpus)
        assert qrels["40001001"] == {"40001001": 2, "40001004": 1}
    if "40001004" in qrels:  # cross-references count in both directions
        assert qrels["40001004"].get("40001001") == 1


def test_corpus_is_english_new_testament(built):
    _, out, counts = built
    corpus = load_beir(out / "sw", "test").corpus
    assert len(corpus) == 12 == counts["sw"]["documents"]
    assert corpus["40001005"].text == "Jesus wept."


def test_second_build_is_a_noop_and_corruption_is_rebuilt(built):
    db, out, _ = built
    qrels = out / "sw" / "qrels" / "test.tsv"
    mtime = qrels.stat().st_mtime_ns
    build_bible(["sw"], SMALL, db_path=db, out_dir=out)
    assert qrels.stat().st_mtime_ns == mtime
    assert bible_status(["sw"], SMALL, root=out) == (True, "ok")
    qrels.write_text(qrels.read_text()[:-10])  # truncated by a crash or a bad disk
    ok, why = bible_status(["sw"], SMALL, root=out)
    assert not ok and "truncated" in why
    build_bible(["sw"], SMALL, db_path=db, out_dir=out)
    assert bible_status(["sw"], SMALL, root=out, full=True) == (True, "ok")


def test_other_settings_trigger_a_rebuild(built):
    db, out, _ = built
    other = BibleSettings(n_test=2, n_dev=2, seed=1)
    assert not bible_status(["sw"], other, root=out)[0]
    build_bible(["sw"], other, db_path=db, out_dir=out)
    assert len(load_beir(out / "sw", "test").queries) == 2
    manifest = json.loads((out / "sw" / "manifest.json").read_text())
    assert manifest["settings"]["n_test"] == 2


def test_interrupted_build_leaves_no_valid_looking_language(tmp_path, monkeypatch):
    db = make_bible_db(tmp_path / "bible.db")
    out = tmp_path / "bible"
    import optical.assets.bible as bible

    def boom(*args, **kwargs):
        raise OSError("disk full")

    monkeypatch.setattr(bible, "write_bitext_tsv", boom)
    with pytest.raises(OSError, match="disk full"):
        build_bible(["sw"], SMALL, db_path=db, out_dir=out)
    assert not (out / "sw").exists()
    assert not [p for p in out.iterdir() if p.name.startswith(".sw")]  # temp dir cleaned up


def test_unknown_language_lists_the_available_ones():
    with pytest.raises(ValueError, match=r"unknown language code\(s\) xx.*sw \(Swahili\)"):
        parse_languages("sw,xx", BIBLE_LANGUAGES)
    assert parse_languages(None, BIBLE_LANGUAGES) == ["sw", "tl", "bn", "hi", "de", "fr", "en"]
    assert len(parse_languages("all", BIBLE_LANGUAGES)) == len(BIBLE_LANGUAGES)
