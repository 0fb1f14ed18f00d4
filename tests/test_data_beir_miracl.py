"""BEIR and MIRACL directory loaders, and RetrievalCollection.validate."""

from __future__ import annotations

import gzip
import json
import warnings

import pytest

from optical.data import (
    DataFormatError,
    Document,
    RetrievalCollection,
    load_beir,
    load_miracl,
    write_beir,
)

DOCS = [
    {"_id": "d1", "title": "Kilimo", "text": "Wakulima wa Tanzania hulima mahindi na mtama."},
    {"_id": "d2", "title": "खेती", "text": "भारत में किसान गेहूँ और चावल उगाते हैं।"},
    {"_id": "d3", "title": "الزراعة", "text": "يزرع المزارعون القمح في مصر."},
    {"_id": 4, "text": "Sherehe 🎉 ya mavuno"},  # integer id, no title
]
QUERIES = [
    {"_id": "q1", "text": "wakulima hulima nini?"},
    {"_id": "q2", "text": "किसान क्या उगाते हैं?"},
    {"_id": "q3", "text": "ماذا يزرع المزارعون؟", "metadata": {"x": 1}},
]


def jsonl(rows) -> str:
    return "".join(json.dumps(r, ensure_ascii=False) + "\n" for r in rows)


def make_beir(root, docs=DOCS, queries=QUERIES, test_qrels=None):
    root.mkdir(parents=True, exist_ok=True)
    (root / "qrels").mkdir(exist_ok=True)
    (root / "corpus.jsonl").write_text(jsonl(docs), encoding="utf-8")
    (root / "queries.jsonl").write_text(jsonl(queries), encoding="utf-8")
    if test_qrels is None:
        test_qrels = "query-id\tcorpus-id\tscore\nq1\td1\t2\nq1\t4\t0\nq2\td2\t1\n"
    (root / "qrels" / "test.tsv").write_text(test_qrels, encoding="utf-8")
    (root / "qrels" / "dev.tsv").write_text("query-id\tcorpus-id\tscore\nq3\td3\t1\n", "utf-8")
    return root


# --------------------------------------------------------------------- RetrievalCollection


def test_validate_reports_unknown_queries_and_docs():
    coll = RetrievalCollection(
        corpus={"d1": Document("d1", "maandishi"), "dX": Document("d2", "x")},
        queries={"q1": "swali"},
        qrels={"q1": {"d1": 1, "d9": 1}, "q7": {"d1": 1}, "q2": {"d1": 1.5}},
        name="toy",
    )
    issues = coll.validate()
    assert "corpus key 'dX' holds a document with doc_id 'd2'" in issues
    assert "qrels for query 'q1' name unknown document 'd9'" in issues
    assert "qrels name unknown query 'q7'" in issues
    assert "qrels name unknown query 'q2'" in issues
    assert any("non-integer grade 1.5" in i for i in issues)
    assert len(issues) == 5
    with pytest.raises(ValueError, match=r"collection 'toy' is inconsistent \(5 issues\)"):
        coll.validate(strict=True)
    assert "docs=2, queries=1, judgements=4" in repr(coll)


def test_document_full_text():
    assert Document("d", "body", "Title").full_text() == "Title\nbody"
    assert Document("d", "body").full_text() == "body"


# --------------------------------------------------------------------- load_beir


def test_load_beir_keeps_split_queries(tmp_path):
    coll = load_beir(make_beir(tmp_path / "swa-agri"), language="sw")
    assert coll.name == "swa-agri/test" and coll.language == "sw"
    assert list(coll.queries) == ["q1", "q2"]  # q3 is only judged in dev
    assert coll.qrels == {"q1": {"d1": 2, "4": 0}, "q2": {"d2": 1}}
    assert coll.corpus["4"] == Document("4", "Sherehe 🎉 ya mavuno", "")
    assert coll.corpus["d3"].title == "الزراعة"
    assert coll.validate() == []
    dev = load_beir(tmp_path / "swa-agri", split="dev")
    assert dev.queries == {"q3": "ماذا يزرع المزارعون؟"}


def test_beir_round_trip(tmp_path):
    coll = load_beir(make_beir(tmp_path / "src"))
    write_beir(coll, tmp_path / "out", split="test")
    back = load_beir(tmp_path / "out")
    assert back.corpus == coll.corpus and back.queries == coll.queries and back.qrels == coll.qrels
    header = (tmp_path / "out" / "qrels" / "test.tsv").read_text("utf-8").splitlines()[0]
    assert header == "query-id\tcorpus-id\tscore"
    assert "खेती" in (tmp_path / "out" / "corpus.jsonl").read_text("utf-8")  # not \u-escaped


def test_beir_gzipped_corpus(tmp_path):
    root = make_beir(tmp_path / "gz")
    data = (root / "corpus.jsonl").read_bytes()
    (root / "corpus.jsonl").unlink()
    (root / "corpus.jsonl.gz").write_bytes(gzip.compress(data))
    assert len(load_beir(root).corpus) == 4


def test_bad_json_line(tmp_path):
    root = make_beir(tmp_path / "b")
    with open(root / "corpus.jsonl", "a", encoding="utf-8") as fh:
        fh.write('\n{"_id": "d5", "text": "mwisho\n')  # a blank line, then broken JSON
    with pytest.raises(DataFormatError) as exc:
        load_beir(root)
    msg = str(exc.value)
    assert exc.value.line == 6 and "corpus.jsonl, line 6" in msg
    assert "invalid JSON" in msg and 'expected a JSON object with "_id" and "text"' in msg


def test_missing_key(tmp_path):
    root = make_beir(tmp_path / "m", queries=[{"_id": "q1", "text": "a"}, {"id": 3, "text": "b"}])
    with pytest.raises(DataFormatError) as exc:
        load_beir(root)
    assert str(exc.value).startswith(str(root / "queries.jsonl") + ", line 2: expected a JSON")
    assert 'got: \'{"id": 3' in str(exc.value)


def test_non_string_text(tmp_path):
    root = make_beir(tmp_path / "t", docs=[{"_id": "d1", "text": ["list"]}])
    with pytest.raises(DataFormatError, match=r"corpus.jsonl, line 1: expected a JSON object"):
        load_beir(root)


def test_non_integer_score(tmp_path):
    root = make_beir(tmp_path / "s", test_qrels="query-id\tcorpus-id\tscore\nq1\td1\t1.5\n")
    with pytest.raises(DataFormatError) as exc:
        load_beir(root)
    assert "test.tsv, line 2: expected an integer score in the third field" in str(exc.value)


def test_qrels_wrong_header_and_columns(tmp_path):
    root = make_beir(tmp_path / "h", test_qrels="qid\tdocid\trel\nq1\td1\t1\n")
    with pytest.raises(DataFormatError, match=r"line 1: expected the header"):
        load_beir(root)
    root = make_beir(tmp_path / "c", test_qrels="q1 d1 1\n")
    with pytest.raises(DataFormatError, match=r"line 1: expected 3 tab-separated fields"):
        load_beir(root)


def test_duplicate_doc_id_names_both_lines(tmp_path):
    root = make_beir(tmp_path / "d", docs=[*DOCS, {"_id": "d2", "text": "tena"}])
    with pytest.raises(DataFormatError) as exc:
        load_beir(root)
    assert exc.value.line == 5 and "duplicate document id 'd2' (first at line 2)" in str(exc.value)


def test_duplicate_query_and_judgement(tmp_path):
    root = make_beir(tmp_path / "q", queries=[*QUERIES, {"_id": "q1", "text": "tena"}])
    with pytest.raises(
        DataFormatError, match=r"line 4: duplicate query id 'q1' \(first on line 1\)"
    ):
        load_beir(root)
    qrels = "query-id\tcorpus-id\tscore\nq1\td1\t1\nq1\td1\t2\n"
    root = make_beir(tmp_path / "j", test_qrels=qrels)
    with pytest.raises(
        DataFormatError, match=r"line 3: duplicate judgement .* \(first on line 2\)"
    ):
        load_beir(root)


def test_missing_files(tmp_path):
    with pytest.raises(FileNotFoundError, match="expected a BEIR directory"):
        load_beir(tmp_path / "absent")
    root = make_beir(tmp_path / "x")
    with pytest.raises(FileNotFoundError) as exc:
        load_beir(root, split="train")
    assert "train.tsv" in str(exc.value) and "splits found: ['dev', 'test']" in str(exc.value)
    (root / "queries.jsonl").unlink()
    with pytest.raises(FileNotFoundError, match=r"queries.jsonl"):
        load_beir(root)


def test_unknown_doc_in_qrels_warns_or_raises(tmp_path):
    root = make_beir(tmp_path / "u", test_qrels="query-id\tcorpus-id\tscore\nq1\tghost\t1\n")
    with pytest.warns(UserWarning, match="unknown document 'ghost'"):
        load_beir(root)
    with pytest.raises(ValueError, match="unknown document 'ghost'"):
        load_beir(root, strict=True)


def test_latin1_corpus(tmp_path):
    root = make_beir(tmp_path / "l")
    good = (root / "corpus.jsonl").read_bytes()
    (root / "corpus.jsonl").write_bytes(good + '{"_id": "d9", "text": "café"}\n'.encode("latin-1"))
    with pytest.raises(DataFormatError) as exc:
        load_beir(root)
    offset = len(good) + len('{"_id": "d9", "text": "caf')
    assert f"corpus.jsonl, line 5: not UTF-8 (byte 0xe9 at offset {offset})" in str(exc.value)


def test_write_beir_rejects_bad_grades(tmp_path):
    coll = RetrievalCollection({"d": Document("d", "t")}, {"q": "s"}, {"q": {"d": 0.5}})
    with pytest.raises(ValueError, match="not an integer"):
        write_beir(coll, tmp_path / "o")
    assert not (tmp_path / "o" / "qrels").exists()


# --------------------------------------------------------------------- load_miracl


def make_miracl(root, official=True):
    docs0 = [
        {"docid": "100#0", "title": "Nairobi", "text": "Nairobi ni mji mkuu wa Kenya."},
        {"docid": "100#1", "title": "Nairobi", "text": "Mji una wakazi milioni nne 🏙️."},
    ]
    docs1 = [{"docid": "200#0", "title": "Dodoma", "text": "Dodoma ni makao makuu ya Tanzania."}]
    if official:
        (root / "topics").mkdir(parents=True)
        (root / "qrels").mkdir()
        topics = root / "topics" / "topics.miracl-v1.0-sw-dev.tsv"
        qrels = root / "qrels" / "qrels.miracl-v1.0-sw-dev.tsv"
    else:
        root.mkdir(parents=True)
        topics, qrels = root / "topics.dev.tsv", root / "qrels.dev.tsv"
    topics.write_text("0\tMji mkuu wa Kenya ni upi?\n1\tMakao makuu ya Tanzania?\n", "utf-8")
    qrels.write_text("0\tQ0\t100#0\t1\n0\tQ0\t100#1\t0\n1\tQ0\t200#0\t1\n", "utf-8")
    return docs0, docs1


def test_load_miracl_official_layout_with_sharded_gz_corpus(tmp_path):
    root = tmp_path / "miracl-v1.0-sw"
    docs0, docs1 = make_miracl(root)
    corpus = tmp_path / "miracl-corpus-v1.0-sw"
    corpus.mkdir()
    (corpus / "docs-0.jsonl.gz").write_bytes(gzip.compress(jsonl(docs0).encode()))
    (corpus / "docs-1.jsonl").write_text(jsonl(docs1), "utf-8")
    coll = load_miracl(root, corpus_dir=corpus)
    assert coll.language == "sw" and coll.name == "miracl-v1.0-sw/dev"
    assert coll.queries == {"0": "Mji mkuu wa Kenya ni upi?", "1": "Makao makuu ya Tanzania?"}
    assert coll.qrels == {"0": {"100#0": 1, "100#1": 0}, "1": {"200#0": 1}}
    assert list(coll.corpus) == ["100#0", "100#1", "200#0"]
    assert coll.corpus["100#1"].text.endswith("🏙️.")
    assert coll.validate() == []


def test_load_miracl_simple_layout_and_language_parameter(tmp_path):
    root = tmp_path / "swahili"
    docs0, docs1 = make_miracl(root, official=False)
    (root / "docs-0.jsonl").write_text(jsonl(docs0 + docs1), "utf-8")
    coll = load_miracl(root, language="sw")
    assert coll.language == "sw" and len(coll.corpus) == 3
    assert load_miracl(root).language is None


def test_miracl_duplicate_docid_across_shards(tmp_path):
    root = tmp_path / "miracl-v1.0-sw"
    docs0, _ = make_miracl(root, official=False)
    (root / "docs-0.jsonl").write_text(jsonl(docs0), "utf-8")
    (root / "docs-1.jsonl").write_text(jsonl([{"docid": "100#1", "text": "tena"}]), "utf-8")
    with pytest.raises(DataFormatError) as exc:
        load_miracl(root)
    msg = str(exc.value)
    assert msg.startswith(str(root / "docs-1.jsonl") + ", line 1: duplicate document id '100#1'")
    assert f"first at {root / 'docs-0.jsonl'}, line 2" in msg


def test_miracl_missing_pieces(tmp_path):
    root = tmp_path / "miracl-v1.0-sw"
    make_miracl(root)
    with pytest.raises(FileNotFoundError, match=r"docs-\*\.jsonl"):
        load_miracl(root)
    with pytest.raises(FileNotFoundError) as exc:
        load_miracl(root, split="test")
    assert "split 'test'" in str(exc.value) and "topics.miracl-v1.0-sw-dev.tsv" in str(exc.value)


def test_miracl_missing_docid_key(tmp_path):
    root = tmp_path / "miracl-v1.0-sw"
    make_miracl(root, official=False)
    (root / "docs-0.jsonl").write_text(jsonl([{"_id": "1", "text": "x"}]), "utf-8")
    with pytest.raises(DataFormatError, match=r'line 1: expected a JSON object with "docid"'):
        load_miracl(root)


def test_no_warning_when_consistent(tmp_path):
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        load_beir(make_beir(tmp_path / "ok"))
