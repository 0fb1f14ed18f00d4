"""``optical encode / search / evaluate / compare`` end to end on a tiny BEIR collection."""

from __future__ import annotations

import json

import numpy as np
import pytest

from optical.cli import main
from optical.data import read_run, write_beir
from optical.data.types import Document, RetrievalCollection
from optical.evaluation import compare_systems, evaluate, per_query
from optical.retrieval import DenseIndex

WORDS = "god loved the world so much mungu aliupenda ulimwengu sana light water earth heaven maji nuru".split()


@pytest.fixture(scope="module")
def beir_dir(tmp_path_factory):
    rng = np.random.default_rng(1)
    corpus = {
        f"d{i}": Document(f"d{i}", " ".join(rng.choice(WORDS, int(rng.integers(2, 10)))))
        for i in range(24)
    }
    queries = {f"q{i}": " ".join(rng.choice(WORDS, 3)) for i in range(12)}
    qrels = {
        q: {
            f"d{int(j)}": int(g)
            for j, g in zip(rng.choice(24, 3, replace=False), (2, 1, 0), strict=True)
        }
        for q in queries
    }
    root = tmp_path_factory.mktemp("beir") / "tinyset"
    write_beir(RetrievalCollection(corpus, queries, qrels, name="tinyset"), root)
    return root


def _run_cli(capsys, *argv: str) -> str:
    code = main(list(argv))
    out = capsys.readouterr()
    assert code == 0, out.err
    return out.out


def _table(text: str) -> dict[str, float]:
    """``measure  all  value`` lines of the trec_eval-like output."""
    rows = [line.split("\t") for line in text.strip().splitlines()]
    return {m.strip(): float(v) for m, q, v in rows if q == "all"}


@pytest.fixture(scope="module")
def runs(beir_dir, tiny_model_dir, tmp_path_factory):
    """Pooled and MaxSim runs written by ``optical search`` (index built into the cache)."""
    out = tmp_path_factory.mktemp("runs")
    paths = {}
    for mode in ("pooled", "maxsim"):
        paths[mode] = out / f"{mode}.trec"
        assert (
            main(
                [
                    "search",
                    "--query-model",
                    str(tiny_model_dir),
                    "--dataset",
                    str(beir_dir),
                    "--mode",
                    mode,
                    "--k",
                    "10",
                    "--quiet",
                    "--out",
                    str(paths[mode]),
                ]
            )
            == 0
        )
    return paths


def test_encode_writes_an_index(capsys, beir_dir, tiny_model_dir, tmp_path):
    out = _run_cli(
        capsys,
        "encode",
        "--model",
        str(tiny_model_dir),
        "--corpus",
        str(beir_dir),
        "--out",
        str(tmp_path / "idx"),
        "--tokens",
        "--quiet",
    )
    assert "24 documents" in out and "token vectors" in out
    index = DenseIndex.load(tmp_path / "idx")
    assert len(index) == 24 and index.tokens is not None
    # default target: the cache, keyed by corpus name, fingerprint and checksum
    out = _run_cli(
        capsys, "encode", "--model", str(tiny_model_dir), "--corpus", str(beir_dir), "--quiet"
    )
    assert "/indexes/tinyset-" in out


def test_search_writes_trec_runs(runs, beir_dir):
    for mode, path in runs.items():
        lines = path.read_text().splitlines()
        assert len(lines) == 12 * 10
        qid, q0, did, rank, score, tag = lines[0].split()
        assert q0 == "Q0" and rank == "1" and tag == f"model.{mode}"
        run = read_run(path)
        for docs in run.values():
            assert np.all(np.diff(list(docs.values())) < 0)
    assert read_run(runs["pooled"]) != read_run(runs["maxsim"])


def test_evaluate_matches_the_library(capsys, runs, beir_dir):
    qrels_file = beir_dir / "qrels" / "test.tsv"
    run = read_run(runs["pooled"])
    from optical.data.beir import load_beir

    qrels = load_beir(beir_dir).qrels
    expected = evaluate(run, qrels, ["AP", "nDCG@10", "RR@10", "R@1", "R@10", "R@100"])
    text = _run_cli(capsys, "evaluate", "--qrels", str(qrels_file), "--run", str(runs["pooled"]))
    table = _table(text)
    assert table.pop("num_q") == 12
    assert list(table) == list(expected)
    for name, value in expected.items():
        assert table[name] == pytest.approx(round(value, 4), abs=1e-9)
    # JSON: exact values; a BEIR folder and a TREC qrels file give the same numbers
    trec_qrels = beir_dir.parent / "qrels.trec"
    trec_qrels.write_text(
        "".join(f"{q} 0 {d} {g}\n" for q, docs in qrels.items() for d, g in docs.items())
    )
    for spec in (str(beir_dir), str(trec_qrels), str(qrels_file)):
        data = json.loads(
            _run_cli(capsys, "evaluate", "--qrels", spec, "--run", str(runs["pooled"]), "--json")
        )
        assert data["measures"] == dict(expected) and data["n_queries"] == 12


def test_evaluate_per_query(capsys, runs, beir_dir):
    qrels = beir_dir / "qrels" / "test.tsv"
    text = _run_cli(
        capsys,
        "evaluate",
        "--qrels",
        str(qrels),
        "--run",
        str(runs["maxsim"]),
        "--measures",
        "nDCG@10,RR@10",
        "--per-query",
    )
    rows = [line.split("\t") for line in text.strip().splitlines()]
    per_q = {(m.strip(), q): float(v) for m, q, v in rows if q not in ("all",)}
    from optical.data.beir import load_beir

    frame = per_query(read_run(runs["maxsim"]), load_beir(beir_dir).qrels, ["nDCG@10", "RR@10"])
    for r in frame.itertuples(index=False):
        assert per_q[(r.measure, r.qid)] == pytest.approx(round(r.value, 4), abs=1e-9)


def test_compare_table(capsys, runs, beir_dir):
    qrels = str(beir_dir / "qrels" / "test.tsv")
    text = _run_cli(
        capsys,
        "compare",
        str(runs["pooled"]),
        str(runs["maxsim"]),
        "--qrels",
        qrels,
        "--measures",
        "nDCG@10",
        "--test",
        "ttest",
    )
    lines = [line for line in text.splitlines() if line.startswith("| nDCG@10")]
    assert len(lines) == 2
    from optical.data.beir import load_beir

    qrels_d = load_beir(beir_dir).qrels
    scores = {}
    for name in ("pooled", "maxsim"):
        f = per_query(read_run(runs[name]), qrels_d, ["nDCG@10"])
        scores[name] = dict(zip(f["qid"], f["value"], strict=True))
    expected = compare_systems(scores, "pooled", test="ttest", correction="holm")
    base, other = (row.split("|")[1:-1] for row in lines)
    assert base[1].strip() == "pooled" and other[1].strip() == "maxsim"
    assert float(base[2].strip().rstrip("†‡")) == pytest.approx(round(expected["mean"][0], 4))
    assert float(other[2].strip().rstrip("†‡")) == pytest.approx(round(expected["mean"][1], 4))
    assert float(other[3]) == pytest.approx(round(expected["delta"][1], 4))
    assert float(other[4]) == pytest.approx(round(expected["p"][1], 4))
    assert "ttest test, holm correction" in text
    data = json.loads(
        _run_cli(
            capsys, "compare", str(runs["pooled"]), str(runs["maxsim"]), "--qrels", qrels, "--json"
        )
    )
    assert data["baseline"] == "pooled" and {r["system"] for r in data["rows"]} == {
        "pooled",
        "maxsim",
    }


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        (["evaluate", "--qrels", "/nonexistent/qrels", "--run", "x.trec"], "no such qrels"),
        (
            ["search", "--query-model", "m", "--dataset", "/nonexistent", "--out", "x"],
            "/nonexistent",
        ),
        (["compare", "a.trec", "--qrels", "q"], "at least two runs"),
        (["encode", "--model", "m", "--corpus", "/nonexistent/dir"], "no such corpus"),
    ],
)
def test_bad_input_gives_one_clear_line(capsys, argv, message):
    assert main(argv) == 1
    err = capsys.readouterr().err
    assert err.startswith(f"optical {argv[0]}: error: ") and message in err
    assert "Traceback" not in err and len(err.strip().splitlines()) == 1


def test_bad_measure_and_bad_run_file(capsys, beir_dir, runs, tmp_path):
    qrels = str(beir_dir / "qrels" / "test.tsv")
    argv = ["evaluate", "--qrels", qrels, "--run", str(runs["pooled"]), "--measures", "Bogus@3"]
    with pytest.raises(SystemExit) as exit_:  # refused while parsing the arguments (usage error)
        main(argv)
    assert exit_.value.code == 2 and "Bogus" in capsys.readouterr().err
    bad = tmp_path / "bad.trec"
    bad.write_text("q1 d1 1 0.5 tag\n")
    assert main(["evaluate", "--qrels", qrels, "--run", str(bad)]) == 1
    err = capsys.readouterr().err
    assert "bad.trec, line 1" in err and len(err.strip().splitlines()) == 1


def test_every_subcommand_has_help(capsys):
    for command in ("encode", "search", "evaluate", "compare"):
        with pytest.raises(SystemExit) as exc:
            main([command, "--help"])
        assert exc.value.code == 0
        assert "usage: optical " + command in capsys.readouterr().out
