"""TREC qrels, runs (incl. trec_eval-safe tie-breaking) and topics."""

from __future__ import annotations

import functools

import numpy as np
import pytest

from optical.data import (
    DataFormatError,
    rank_for_trec,
    read_qrels,
    read_run,
    read_topics,
    write_run,
)


def write(path, text: str):
    path.write_bytes(text.encode("utf-8"))
    return path


def trec_eval_order(path) -> dict[str, list[str]]:
    """Each query's docids in the order trec_eval ranks them.

    trec_eval ignores the rank column, parses scores with atof, stores them as
    float32 (``float sim`` in form_res_rels.c) and sorts by score descending,
    then ``strcmp(docno2, docno1)`` (docid descending).
    """
    rows: dict[str, list[tuple[str, np.float32]]] = {}
    for line in path.read_text("utf-8").splitlines():
        qid, _, did, _, score, _ = line.split()
        rows.setdefault(qid, []).append((did, np.float32(float(score))))

    def cmp(a, b):
        if a[1] != b[1]:
            return -1 if a[1] > b[1] else 1
        return (b[0] > a[0]) - (b[0] < a[0])

    return {q: [d for d, _ in sorted(r, key=functools.cmp_to_key(cmp))] for q, r in rows.items()}


# --------------------------------------------------------------------- qrels


def test_read_qrels_tabs_and_spaces(tmp_path):
    p = write(
        tmp_path / "qrels.txt", "401 0 FBIS3-10082 1\n401\t0\tFBIS3-10169\t0\n\n402 0 ☃-7 2\n"
    )
    assert read_qrels(p) == {"401": {"FBIS3-10082": 1, "FBIS3-10169": 0}, "402": {"☃-7": 2}}


@pytest.mark.parametrize(
    ("body", "line", "needle"),
    [
        ("1 0 d1 1\n1 d2 1\n", 2, "expected 4 whitespace-separated fields"),
        ("1 0 d1 yes\n", 1, "expected an integer relevance in the fourth field; got: '1 0 d1 yes'"),
        (
            "1 0 d1 1\n2 0 d1 1\n1 0 d1 0\n",
            3,
            "duplicate judgement for query '1', document 'd1' (first on line 1)",
        ),
    ],
)
def test_read_qrels_errors(tmp_path, body, line, needle):
    p = write(tmp_path / "bad.qrels", body)
    with pytest.raises(DataFormatError) as exc:
        read_qrels(p)
    assert exc.value.line == line and f"bad.qrels, line {line}" in str(exc.value)
    assert needle in str(exc.value)


def test_read_qrels_latin1(tmp_path):
    p = tmp_path / "q.qrels"
    p.write_bytes(b"1 0 d1 1\n1 0 caf\xe9 1\n")
    with pytest.raises(DataFormatError, match=r"line 2: not UTF-8 \(byte 0xe9 at offset 16\)"):
        read_qrels(p)


# --------------------------------------------------------------------- runs


def test_read_run(tmp_path):
    p = write(tmp_path / "r.run", "q1 Q0 d1 1 12.5 bm25\nq1 Q0 d2 2 -3e-2 bm25\nq2 0 d1 1 7 bm25\n")
    assert read_run(p) == {"q1": {"d1": 12.5, "d2": -0.03}, "q2": {"d1": 7.0}}


@pytest.mark.parametrize(
    ("body", "line", "needle"),
    [
        (
            "q1 Q0 d1 1 1.0 t\nq1 Q0 d2 2 0.5 t\nq1 Q0 d1 3 0.2 t\n",
            3,
            "duplicate document 'd1' for query 'q1' (lines 1 and 3)",
        ),
        ("q1 Q0 d1 1 high t\n", 1, "expected a float score in the fifth field"),
        ("q1 Q0 d1 1 nan t\n", 1, "expected a float score"),
        (
            "q1 d1 1 0.5 t\n",
            1,
            "expected 6 whitespace-separated fields: query-id Q0 doc-id rank score tag, found 5",
        ),
        ("q1 Q0 d1 0.5 1 t\n", 1, "expected an integer rank in the fourth field"),
    ],
)
def test_read_run_errors(tmp_path, body, line, needle):
    p = write(tmp_path / "bad.run", body)
    with pytest.raises(DataFormatError) as exc:
        read_run(p)
    assert exc.value.line == line and f"bad.run, line {line}" in str(exc.value)
    assert needle in str(exc.value)


def test_write_run_ties_broken_as_trec_eval_breaks_them(tmp_path):
    run = {
        "q2": {"b": 1.0, "a": 1.0, "c": 1.0, "z": 2.0, "m": 0.0, "n": 0.0},
        "q1": {"d9": 0.5, "d10": 0.5},
    }
    out = tmp_path / "run.trec"
    write_run(run, out, tag="optical-test")
    lines = out.read_text("utf-8").splitlines()
    assert [ln.split()[0] for ln in lines] == ["q1"] * 2 + ["q2"] * 6  # sorted qids
    q2 = [ln.split() for ln in lines if ln.startswith("q2")]
    assert [f[2] for f in q2] == ["z", "c", "b", "a", "n", "m"]  # trec_eval's order of the ties
    assert [f[3] for f in q2] == ["1", "2", "3", "4", "5", "6"]
    assert all(f[1] == "Q0" and f[5] == "optical-test" for f in q2)
    scores = [float(f[4]) for f in q2]
    assert all(x > y for x, y in zip(scores, scores[1:], strict=False))  # strictly decreasing
    assert all(np.float32(x) > np.float32(y) for x, y in zip(scores, scores[1:], strict=False))
    # The file's scores are strictly decreasing, and trec_eval reads the same order.
    assert trec_eval_order(out) == {"q1": ["d9", "d10"], "q2": ["z", "c", "b", "a", "n", "m"]}
    back = read_run(out)
    assert [d for d, _ in sorted(back["q2"].items(), key=lambda kv: -kv[1])] == [
        "z",
        "c",
        "b",
        "a",
        "n",
        "m",
    ]
    assert back["q2"]["z"] == 2.0 and back["q2"]["c"] == 1.0  # the first of a tie keeps its score


def test_write_run_survives_float32_precision(tmp_path):
    # Distinct as float64 but equal as float32: trec_eval sees a tie and puts "b" first;
    # the file keeps that order with strictly decreasing float32 scores.
    hi = 1.0
    lo = float(np.nextafter(1.0, -np.inf))
    lower = float(np.nextafter(np.float32(1.0), np.float32(-np.inf)))  # one float32 ulp below
    out = tmp_path / "r.trec"
    run = {"q": {"a": hi, "b": lo, "c": lower, "d": lower}}
    write_run(run, out)
    assert trec_eval_order(out) == {"q": ["b", "a", "d", "c"]}
    ranked = rank_for_trec({"a": hi, "b": lo, "c": lower, "d": lower})
    values = [v for _, v in ranked]
    assert all(x > y for x, y in zip(values, values[1:], strict=False))


def test_write_run_matches_pytrec_eval(tmp_path):
    pytrec_eval = pytest.importorskip("pytrec_eval")
    rng = np.random.default_rng(1)
    run = {f"q{i}": {f"d{j}": float(rng.integers(0, 3)) for j in range(12)} for i in range(4)}
    qrels = {q: {f"d{j}": int(rng.integers(0, 3)) for j in range(0, 12, 2)} for q in run}
    evaluator = pytrec_eval.RelevanceEvaluator(qrels, {"recip_rank", "map", "ndcg_cut_10"})
    out = tmp_path / "r.trec"
    write_run(run, out)
    # heavy ties: the file scores exactly as the in-memory run does under trec_eval
    assert evaluator.evaluate(read_run(out)) == evaluator.evaluate(run)


def test_write_run_depth_and_round_trip(tmp_path):
    rng = np.random.default_rng(0)
    run = {f"q{i}": {f"d{j}": float(rng.normal()) for j in range(20)} for i in range(3)}
    out = tmp_path / "r.trec"
    write_run(run, out, depth=5)
    back = read_run(out)
    for qid, scores in run.items():
        top = sorted(scores, key=lambda d: -scores[d])[:5]
        assert sorted(back[qid], key=lambda d: -back[qid][d]) == top
        assert all(abs(back[qid][d] - scores[d]) < 1e-6 for d in top)


@pytest.mark.parametrize(
    ("run", "tag", "needle"),
    [
        ({"q 1": {"d": 1.0}}, "t", "query id 'q 1'"),
        ({"q": {"d\t1": 1.0}}, "t", "document id"),
        ({"q": {"d": 1.0}}, "my run", "run tag"),
        ({"q": {"d": float("nan")}}, "t", "non-finite score"),
        ({"q": {"d": 1e300}}, "t", "does not fit a float32"),
    ],
)
def test_write_run_rejects(tmp_path, run, tag, needle):
    out = tmp_path / "r.trec"
    with pytest.raises(ValueError, match=needle):
        write_run(run, out, tag=tag)
    assert not out.exists() and list(tmp_path.iterdir()) == []


# --------------------------------------------------------------------- topics

SGML = """<top>
<num> Number: 401
<title> foreign minorities, Germany

<desc> Description:
What language and cultural differences impede
the integration of foreign minorities in Germany?

<narr> Narrative:
A relevant document will focus on the causes.
</top>

<top>
<num> Number: 402
<title> Topic: behavioral genetics
<desc> Description:
What is happening in the field of behavioral genetics?
</top>
"""


def test_read_sgml_topics(tmp_path):
    p = write(tmp_path / "topics.401-402.txt", SGML)
    assert read_topics(p) == {"401": "foreign minorities, Germany", "402": "behavioral genetics"}
    desc = read_topics(p, field="desc")
    assert desc["401"] == (
        "What language and cultural differences impede the integration of foreign minorities in Germany?"
    )
    with pytest.raises(DataFormatError) as exc:  # topic 402 has no narrative
        read_topics(p, field="narrative")
    assert exc.value.line == 13 and "expected a non-empty <narr> in topic 402" in str(exc.value)
    p = write(tmp_path / "one.txt", SGML.split("\n\n<top>")[0])
    assert read_topics(p, field="narr") == {"401": "A relevant document will focus on the causes."}


def test_read_sgml_topics_closed_tags_and_clef_fields(tmp_path):
    p = write(
        tmp_path / "clef.xml",
        "<topics>\n<top><num>C041</num><SW-title>Bei ya mafuta 🛢️</SW-title>"
        "<SW-desc>Tafuta habari.</SW-desc></top>\n"
        "<top>\n<num>C042</num>\n<SW-title>महँगाई</SW-title>\n</top>\n</topics>\n",
    )
    assert read_topics(p) == {"C041": "Bei ya mafuta 🛢️", "C042": "महँगाई"}


@pytest.mark.parametrize(
    ("body", "line", "needle"),
    [
        (
            "<top>\n<num> 1\n<title> a\n<top>\n<num> 2\n<title> b\n</top>\n",
            1,
            "</top> before the next <top>",
        ),
        (
            "<top>\n<num> 1\n<title> a\n</top>\n<top>\n<title> b\n</top>\n",
            5,
            "a <num> with the topic number",
        ),
        (
            "<top>\n<num> 1\n<desc> only a description\n</top>\n",
            1,
            "a non-empty <title> in topic 1",
        ),
        (
            "<top>\n<num> 7\n<title> a\n</top>\n\n<top>\n<num> 7\n<title> b\n</top>\n",
            6,
            "duplicate topic '7' (first at line 1)",
        ),
        ("<top>\n<num> 1\n<title> a\n", 1, "a </top> closing this <top>"),
    ],
)
def test_read_sgml_topic_errors(tmp_path, body, line, needle):
    p = write(tmp_path / "bad.topics", body)
    with pytest.raises(DataFormatError) as exc:
        read_topics(p)
    assert exc.value.line == line and f"bad.topics, line {line}" in str(exc.value)
    assert needle in str(exc.value)


def test_read_tsv_topics(tmp_path):
    p = write(
        tmp_path / "topics.dev.tsv",
        "qid\tquery\n0\tMji mkuu wa Kenya ni upi?\n\n1\tما هي عاصمة مصر؟\n",
    )
    assert read_topics(p) == {"0": "Mji mkuu wa Kenya ni upi?", "1": "ما هي عاصمة مصر؟"}


@pytest.mark.parametrize(
    ("body", "line", "needle"),
    [
        (
            "0\tswali\n1\tswali\tziada\n",
            2,
            "expected 2 tab-separated fields: query-id, text (found 3)",
        ),
        ("0\tswali\n0\ttena\n", 2, "duplicate query id '0' (first on line 1)"),
        ("0\t  \n", 1, "expected a non-empty query id and text"),
    ],
)
def test_read_tsv_topic_errors(tmp_path, body, line, needle):
    p = write(tmp_path / "t.tsv", body)
    with pytest.raises(DataFormatError) as exc:
        read_topics(p)
    assert exc.value.line == line and needle in str(exc.value)


def test_read_topics_bad_field_and_encoding(tmp_path):
    p = write(tmp_path / "t.tsv", "0\tx\n")
    with pytest.raises(ValueError, match="field must be one of"):
        read_topics(p, field="body")
    p.write_bytes(b"<top>\n<num> 1\n<title> Fran\xe7ais\n</top>\n")
    with pytest.raises(
        DataFormatError, match=r"t.tsv, line 3: not UTF-8 \(byte 0xe7 at offset 26\)"
    ):
        read_topics(p)
