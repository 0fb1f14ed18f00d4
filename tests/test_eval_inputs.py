"""Issue 11, evaluation slice: bench measures follow the qrels, evaluation inputs are checked
at the door, and the CLI turns every failure into one line (no traceback)."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest
import torch

from optical.cli import main
from optical.results import ResultsStore
from tests.train_fixtures import write_tiny_beir

# --------------------------------------------------------------------------- fixtures


@pytest.fixture(scope="module")
def beir2(tmp_path_factory) -> Path:
    """Tiny BEIR folder, grade-2 qrels (the Bible convention)."""
    return write_tiny_beir(tmp_path_factory.mktemp("beir2") / "tiny")


@pytest.fixture(scope="module")
def beir1(tmp_path_factory, beir2) -> Path:
    """The same collection judged with grade 1 (binary qrels, as most BEIR sets)."""
    out = tmp_path_factory.mktemp("beir1") / "tiny1"
    shutil.copytree(beir2, out)
    for split in ("test", "dev"):
        tsv = out / "qrels" / f"{split}.tsv"
        tsv.write_text(tsv.read_text().replace("\t2\n", "\t1\n"))
    return out


@pytest.fixture(scope="module")
def run_file(tmp_path_factory, beir1) -> Path:
    """A TREC run on the tiny collection: every query's relevant document first."""
    qrels = beir1 / "qrels" / "test.tsv"
    lines = []
    for row in qrels.read_text().splitlines()[1:]:
        qid, did, _ = row.split("\t")
        other = "d0" if did != "d0" else "d1"
        lines += [f"{qid} Q0 {did} 1 2.0 t", f"{qid} Q0 {other} 2 1.0 t"]
    path = tmp_path_factory.mktemp("run") / "a.run"
    path.write_text("\n".join(lines) + "\n")
    return path


def _err(capsys) -> str:
    return capsys.readouterr().err


# --------------------------------------------------------------------------- 1. measures


def test_measure_set_follows_the_qrels_grades():
    from optical.evaluation.measure_sets import BENCH_MEASURES, measure_set

    bible = {"q1": {"a": 2, "b": 1}, "q2": {"c": 2}}
    assert measure_set(bible).measures == BENCH_MEASURES  # the Bible set is unchanged
    assert measure_set({"q1": {"a": 1}, "q2": {"b": 1, "c": 0}}).kind == "binary"
    # a query whose only relevant document has grade 1 would score 0 on every rel=2 measure
    assert measure_set({"q1": {"a": 2}, "q2": {"b": 1}}).kind == "binary"


def test_labels_say_which_relevance_they_count():
    from optical.evaluation.measure_sets import LABELS, measure_label

    assert LABELS["R(rel=2)@1"] == "R@1 (rel=2)" and LABELS["RR(rel=2)@10"] == "MRR@10 (rel=2)"
    assert LABELS["R@1"] == "R@1" and LABELS["RR@10"] == "MRR@10" and LABELS["AP"] == "MAP"
    assert len(set(LABELS.values())) == len(LABELS)  # one label, one measure
    assert measure_label("R(rel=3)@5") == "R@5 (rel=3)" and measure_label("mining_acc") == "mining_acc"


def test_bench_on_grade1_qrels_scores_what_evaluate_scores(tmp_path, beir1, tiny_model_dir):
    from optical.evaluation import evaluate
    from optical.evaluation.measure_sets import BINARY_MEASURES
    from optical.report import bench_table
    from optical.results.collect import bench
    from optical.retrieval import Retriever, corpus_index
    from optical.systems import load_encoder_cached, parse_system

    store = ResultsStore(tmp_path / "r.jsonl")
    [row] = bench([parse_system(str(tiny_model_dir), name="tiny")], [str(beir1)], store=store, progress=None)
    assert tuple(row.metrics) == BINARY_MEASURES
    enc = load_encoder_cached(str(tiny_model_dir))
    from optical.data.beir import load_beir

    col = load_beir(beir1, "test")
    run = Retriever(enc, enc, corpus_index(enc, col.corpus, "tiny1", progress=False)).search(col.queries, k=100)
    direct = evaluate(run, col.qrels, ["R@1", "RR@10"])
    assert direct["R@1"] > 0
    assert row.metrics["R@1"] == pytest.approx(direct["R@1"])
    assert row.metrics["RR@10"] == pytest.approx(direct["RR@10"])
    table = bench_table(store.rows(), dataset_family=None)
    assert "| R@1 | MRR@10 | MAP | nDCG@10 |" in table and "(rel=2)" not in table
    assert f"| {row.metrics['R@1']:.3f} |" in table
    assert "grade >= 1" in table


def test_bench_keeps_the_graded_set_and_its_store_keys(tmp_path, beir2, tiny_model_dir):
    import hashlib

    from optical.evaluation.measure_sets import BENCH_MEASURES
    from optical.report import bench_table
    from optical.results.collect import bench
    from optical.systems import parse_system

    store = ResultsStore(tmp_path / "r.jsonl")
    system = parse_system(str(tiny_model_dir), name="tiny")
    [row] = bench([system], [str(beir2)], store=store, progress=None)
    assert tuple(row.metrics) == BENCH_MEASURES
    # rows stored before this change are still found: the key is the hash of the payload
    # earlier versions hashed (system fields, dataset, split, k, mode, measures)
    old_identity = {f: getattr(system, f) for f in ("name", "query_model", "doc_model", "kind", "run_dir")}
    payload = {"system": old_identity, "dataset": str(beir2), "split": "test", "k": 100,
               "mode": "pooled", "measures": list(BENCH_MEASURES)}
    old_key = hashlib.sha256(json.dumps(payload, sort_keys=True, default=str).encode()).hexdigest()[:16]
    assert row.key == old_key
    table = bench_table(store.rows(), dataset_family=None)
    assert "| R@1 (rel=2) | MRR@10 (rel=2) | MAP | nDCG@10 |" in table


def test_bench_cli_prints_binary_labels_for_grade1_qrels(tmp_path, beir1, tiny_model_dir, capsys):
    rc = main(["bench", "--systems", str(tiny_model_dir), "--datasets", str(beir1),
               "--store", str(tmp_path / "r.jsonl")])
    out = capsys.readouterr().out
    assert rc == 0
    line = next(x for x in out.splitlines() if x.startswith("| tiny1 |"))
    r1, mrr = (float(c) for c in line.split("|")[4:6])
    assert r1 > 0 and mrr > 0  # grade-2 measures gave 0.000 here


def test_store_tables_pick_measures_from_the_rows():
    from optical.evaluation.measure_sets import TABLE_MEASURES, measure_note, table_measures

    assert table_measures(["R(rel=2)@1", "RR(rel=2)@10", "AP", "nDCG@10", "R@100"]) == TABLE_MEASURES
    assert table_measures(["R@1", "RR@10", "AP", "nDCG@10", "R@10"]) == ("R@1", "RR@10", "AP", "nDCG@10")
    assert measure_note(["AP"]) == ""  # no grade-specific measure shown: no note


# --------------------------------------------------------------------------- 2. checked inputs


@pytest.mark.parametrize("name", ["nDCG@0", "R@0", "RR@0", "RR(rel=0)@10", "P(rel=0)@5"])
def test_parse_measure_refuses_cutoffs_and_levels_below_1(name):
    from optical.evaluation import parse_measure

    with pytest.raises(ValueError, match="must be an integer >= 1"):
        parse_measure(name)


@pytest.mark.parametrize("level", [0, -5])
def test_evaluate_refuses_relevance_levels_below_1(level):
    from optical.evaluation import evaluate, per_query

    run, qrels = {"q": {"a": 2.0, "b": 1.0}}, {"q": {"a": 1}}
    with pytest.raises(ValueError, match="relevance_level must be >= 1"):
        evaluate(run, qrels, ["R@1"], relevance_level=level)
    with pytest.raises(ValueError, match="relevance_level must be >= 1"):
        per_query(run, qrels, ["R@1"], relevance_level=level)


@pytest.mark.parametrize("alpha", [2, 0, 1, -0.1, float("nan")])
def test_significance_refuses_alpha_outside_0_1(alpha):
    from optical.evaluation import compare_systems

    scores = {"a": {"q1": 0.1, "q2": 0.5, "q3": 0.2}, "b": {"q1": 0.9, "q2": 0.4, "q3": 0.8}}
    with pytest.raises(ValueError, match="alpha must be a number strictly between 0 and 1"):
        compare_systems(scores, "a", alpha=alpha)


def test_significance_table_refuses_alpha_outside_0_1():
    import pandas as pd

    from optical.evaluation import significance_table

    frame = pd.DataFrame({"system": ["a", "a", "b", "b"], "language": ["sw"] * 4, "qid": ["1", "2"] * 2,
                          "measure": ["AP"] * 4, "value": [0.1, 0.2, 0.3, 0.4]})
    with pytest.raises(ValueError, match="alpha"):
        significance_table(frame, "a", alpha=2)


@pytest.mark.parametrize("n", [0, 1.5, True])
def test_resampling_tests_refuse_bad_sample_counts(n):
    from optical.evaluation import bootstrap_test, randomization_test

    for test in (randomization_test, bootstrap_test):
        with pytest.raises(ValueError, match="n_resamples must be an integer >= 1"):
            test([0.1, 0.2, 0.3], [0.3, 0.2, 0.1], n_resamples=n)


@pytest.mark.parametrize(
    ("argv", "needle"),
    [
        (["evaluate", "--measures", "nDCG@0"], "argument --measures: measure 'nDCG@0'"),
        (["evaluate", "--measures", ""], "argument --measures: no measures given"),
        (["evaluate", "--relevance-level", "0"], "argument --relevance-level: expected an integer >= 1"),
        (["evaluate", "--relevance-level", "-5"], "argument --relevance-level: expected an integer >= 1"),
        (["compare", "RUN", "--alpha", "2"], "argument --alpha: expected a number strictly between 0 and 1"),
        (["compare", "RUN", "--alpha", "abc"], "argument --alpha: expected a number"),
        (["compare", "RUN", "--n-resamples", "0"], "argument --n-resamples: expected an integer >= 1"),
        (["compare", "RUN", "--measures", "AP,MAP"], "duplicate measures"),
    ],
)
def test_evaluate_and_compare_refuse_bad_numbers_while_parsing(argv, needle, beir1, run_file, capsys):
    argv = [a if a != "RUN" else str(run_file) for a in argv]
    tail = ["--qrels", str(beir1)] + (["--run", str(run_file)] if argv[0] == "evaluate" else [str(run_file)])
    with pytest.raises(SystemExit) as exit_:
        main(argv + tail)
    assert exit_.value.code == 2 and needle in _err(capsys)


@pytest.mark.parametrize(
    ("argv", "needle"),
    [
        (["bench", "--k", "0"], "argument --k: expected an integer >= 1"),
        (["search", "--query-model", "m", "--dataset", "d", "--out", "o", "--k", "-1"], "argument --k"),
        (["search", "--query-model", "m", "--dataset", "d", "--out", "o", "--rerank-depth", "0"],
         "argument --rerank-depth"),
        (["encode", "--model", "m", "--corpus", "c", "--batch-size", "0"], "argument --batch-size"),
        (["encode", "--model", "m", "--corpus", "c", "--nlist", "x"], "argument --nlist: expected an integer"),
        (["encode", "--model", "m", "--corpus", "c", "--device", "banana"], "device 'banana': not a device"),
        (["bench", "--device", "tpu"], "device 'tpu'"),
    ],
)
def test_search_encode_bench_refuse_bad_numbers_and_devices_while_parsing(argv, needle, capsys):
    with pytest.raises(SystemExit) as exit_:
        main(argv)
    assert exit_.value.code == 2 and needle in _err(capsys)


def test_bench_library_refuses_bad_k_and_mode(tmp_path, beir1, tiny_model_dir):
    from optical.results.collect import bench

    store = ResultsStore(tmp_path / "r.jsonl")
    with pytest.raises(ValueError, match="k .* must be an integer >= 1"):
        bench([str(tiny_model_dir)], [str(beir1)], store=store, k=0, progress=None)
    with pytest.raises(ValueError, match="unknown search mode"):
        bench([str(tiny_model_dir)], [str(beir1)], store=store, mode="exact", progress=None)
    assert not store.path.exists()


def test_bench_checks_every_dataset_before_evaluating(tmp_path, beir1, tiny_model_dir):
    from optical.results.collect import bench

    orphan = tmp_path / "orphan"
    shutil.copytree(beir1, orphan)
    (orphan / "qrels" / "test.tsv").write_text("query-id\tcorpus-id\tscore\nzz\td1\t1\n")
    store = ResultsStore(tmp_path / "r.jsonl")
    with pytest.raises(ValueError, match=r"orphan \(test\): no quer"):
        bench([str(tiny_model_dir)], [str(beir1), str(orphan)], store=store, progress=None)
    assert not store.path.exists()  # the first dataset was not evaluated either


# --------------------------------------------------------------------------- 3. one clear line


def test_evaluate_run_that_is_a_folder_is_one_line(beir1, tmp_path, capsys):
    assert main(["evaluate", "--qrels", str(beir1), "--run", str(tmp_path)]) == 1
    err = _err(capsys)
    assert err.count("\n") == 1 and "a folder; --run expects a TREC run file" in err


def test_evaluate_empty_run_file(beir1, tmp_path, capsys):
    empty = tmp_path / "empty.run"
    empty.write_text("")
    assert main(["evaluate", "--qrels", str(beir1), "--run", str(empty)]) == 1
    assert "empty run" in _err(capsys)


def test_search_out_folder_is_refused_before_any_work(tmp_path, capsys):
    rc = main(["search", "--query-model", "/nonexistent", "--dataset", "/nonexistent", "--out", str(tmp_path)])
    assert rc == 1 and "--out" in _err(capsys)


def test_missing_local_model_is_one_clear_error(tmp_path, capsys):
    from optical.encoders import load_encoder
    from optical.hf import ModelNotFoundError

    with pytest.raises(ModelNotFoundError, match="neither a local model folder nor a bundled name") as err:
        load_encoder("/nonexistent", device="cpu")  # the trainer's teacher/student go through here too
    assert str(err.value).startswith("/nonexistent: no such model") and "bundled:multilingual-e5-small" in str(
        err.value)
    assert isinstance(err.value, FileNotFoundError)
    corpus = tmp_path / "corpus.jsonl"
    corpus.write_text(json.dumps({"_id": "d1", "text": "hello"}) + "\n")
    assert main(["encode", "--model", "/nonexistent", "--corpus", str(corpus)]) == 1
    err_text = _err(capsys)
    assert err_text.count("\n") == 1 and "optical encode: error: /nonexistent: no such model" in err_text


def test_folder_that_is_not_a_model(tmp_path):
    from optical.hf import ModelNotFoundError, load_tokenizer

    with pytest.raises(ModelNotFoundError, match="not a Hugging Face model folder"):
        load_tokenizer(str(tmp_path))


def test_hub_name_offline_says_the_hub_is_unreachable(monkeypatch):
    import transformers

    from optical.hf import ModelNotFoundError, load_tokenizer

    def offline(*args, **kwargs):
        raise OSError("We couldn't connect to 'https://huggingface.co' to load the files")

    monkeypatch.setattr(transformers.AutoTokenizer, "from_pretrained", offline)
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    with pytest.raises(ModelNotFoundError) as err:
        load_tokenizer("someone/missing-model")
    text = str(err.value)
    assert text.startswith("someone/missing-model: no such model") and "unreachable offline" in text
    assert err.value.__cause__ is None and err.value.__suppress_context__  # no chained tracebacks


@pytest.mark.skipif(torch.cuda.is_available(), reason="needs a machine without CUDA")
def test_cuda_on_a_cpu_only_machine_is_refused_at_the_door(capsys):
    from optical.encoders import resolve_device

    with pytest.raises(ValueError, match="CUDA requested but"):
        resolve_device("cuda")
    with pytest.raises(SystemExit):
        main(["encode", "--model", "m", "--corpus", "c", "--device", "cuda"])
    assert "CUDA requested but" in _err(capsys)


def test_device_helper_names_each_reason(monkeypatch):
    from optical.encoders import resolve_device

    assert resolve_device("cpu") == torch.device("cpu") and resolve_device(None).type in {"cpu", "cuda"}
    monkeypatch.setattr(torch.version, "cuda", "12.4")
    monkeypatch.setattr(torch.cuda, "is_available", lambda: False)
    with pytest.raises(ValueError, match="no GPU is visible"):
        resolve_device("cuda:0")
    monkeypatch.setattr(torch.cuda, "is_available", lambda: True)
    monkeypatch.setattr(torch.cuda, "device_count", lambda: 1)
    with pytest.raises(ValueError, match="only 1 GPU"):
        resolve_device("cuda:3")
    monkeypatch.setattr(torch.backends.mps, "is_built", lambda: False)
    with pytest.raises(ValueError, match="MPS requested but this torch build has no MPS"):
        resolve_device("mps")
    monkeypatch.setattr(torch.backends.mps, "is_built", lambda: True)
    monkeypatch.setattr(torch.backends.mps, "is_available", lambda: False)
    with pytest.raises(ValueError, match="no MPS device is available"):
        resolve_device("mps")
    with pytest.raises(ValueError, match="unsupported"):
        resolve_device("meta")


def test_bench_missing_system_folder_is_one_line(beir1, tmp_path, capsys):
    rc = main(["bench", "--systems", "/nonexistent/run", "--datasets", str(beir1),
               "--store", str(tmp_path / "r.jsonl")])
    err = _err(capsys)
    assert rc == 1 and err.count("\n") == 1 and "/nonexistent/run: no such run or model folder" in err


@pytest.mark.parametrize(
    ("summary", "needle"),
    [("{not json", "not valid JSON"), ('{"system": "x"}', "needs student and teacher")],
)
def test_damaged_run_summary_names_the_file(tmp_path, summary, needle):
    from optical.systems import parse_system

    (tmp_path / "summary.json").write_text(summary)
    with pytest.raises(ValueError, match=needle) as err:
        parse_system(str(tmp_path))
    assert "summary.json" in str(err.value)


def _good_row(key: str) -> dict:
    return {"key": key, "system": "zero-shot", "dataset": "bible:sw", "language": "sw", "split": "test",
            "metrics": {"AP": 0.5}, "per_query": {"AP": {"q1": 0.5, "q2": 0.5}}}


def test_store_row_that_does_not_fit_the_schema_is_an_error_naming_its_line(tmp_path):
    from optical.app.results_view import load_results

    path = tmp_path / "r.jsonl"
    bad = _good_row("b")
    del bad["metrics"]
    cases = [
        (bad, "line 2: missing metrics"),
        ({**_good_row("c"), "metrics": {"AP": "high"}}, "line 2: metrics must map measure names to numbers"),
        ([1, 2], r"line 2: not a JSON object \(list\)"),
        ({**_good_row("e"), "seed": "zero"}, "line 2: seed must be an integer"),
        ({**_good_row("f"), "task": "ranking"}, "line 2: task must be one of"),
        ({**_good_row("g"), "config": [1]}, "line 2: config must be JSON objects"),
    ]
    for row, message in cases:
        path.write_text("".join(json.dumps(x) + "\n" for x in [_good_row("a"), row, _good_row("d")]))
        with pytest.raises(ValueError, match=message):
            ResultsStore(path).rows()
        with pytest.raises(ValueError, match=message):
            load_results(path)  # the app's reader: KeyError: 'metrics' before
    path.write_text("".join(json.dumps(x) + "\n" for x in [_good_row("a"), _good_row("d")]))
    assert [r.key for r in ResultsStore(path).rows()] == ["a", "d"]


def test_bench_table_refuses_a_store_with_a_malformed_row(tmp_path):
    from optical.report import bench_table

    path = tmp_path / "r.jsonl"
    path.write_text(json.dumps(_good_row("a")) + "\n" + json.dumps({"key": "x"}) + "\n")
    with pytest.raises(ValueError, match="line 2: missing system"):
        bench_table(ResultsStore(path).rows(), measures=["AP"])


def test_results_store_that_is_a_folder(tmp_path):
    with pytest.raises(ValueError, match="a folder"):
        ResultsStore(tmp_path).rows()


def test_bench_unknown_split_and_dataset(beir1, tmp_path, capsys):
    with pytest.raises(SystemExit):
        main(["bench", "--datasets", str(beir1), "--split", "train"])
    assert "invalid choice" in _err(capsys)
    rc = main(["bench", "--datasets", str(tmp_path / "nowhere"), "--store", str(tmp_path / "r.jsonl")])
    assert rc == 1 and "no such dataset folder" in _err(capsys)


# --------------------------------------------------------------------------- 4. safety net


def _command_raising(monkeypatch, exc: BaseException) -> None:
    from optical.cli import report_cmd

    def boom(args):
        raise exc

    monkeypatch.setattr(report_cmd, "run", boom)


def test_unexpected_errors_are_one_line_with_a_debug_hint(monkeypatch, capsys):
    monkeypatch.delenv("OPTICAL_DEBUG", raising=False)
    _command_raising(monkeypatch, RuntimeError("boom"))
    assert main(["report"]) == 1
    err = _err(capsys)
    assert "optical report: internal error: RuntimeError: boom" in err and "OPTICAL_DEBUG=1" in err
    assert "Traceback" not in err
    monkeypatch.setenv("OPTICAL_DEBUG", "1")
    with pytest.raises(RuntimeError, match="boom"):
        main(["report"])


def test_os_errors_name_the_path(monkeypatch, capsys):
    import errno

    monkeypatch.delenv("OPTICAL_DEBUG", raising=False)
    _command_raising(monkeypatch, PermissionError(errno.EACCES, "Permission denied", "/ro/report.md"))
    assert main(["report"]) == 1
    assert _err(capsys) == "optical report: error: /ro/report.md: Permission denied\n"
    _command_raising(monkeypatch, OSError(errno.ENOSPC, "No space left on device", "/full/x"))
    assert main(["report"]) == 1
    assert "/full/x: No space left on device" in _err(capsys)


def test_report_refuses_a_split_or_group_the_store_lacks(tmp_path, capsys):
    store = tmp_path / "r.jsonl"
    store.write_text(json.dumps(_good_row("a") | {"group": "rq1-x"}) + "\n")
    out = tmp_path / "rep.md"
    assert main(["report", "--store", str(store), "--out", str(out), "--no-html", "--split", "dev"]) == 1
    assert "split 'dev'" in _err(capsys) and not out.exists()
    assert main(["report", "--store", str(store), "--out", str(out), "--no-html", "--groups", "nope"]) == 1
    assert "unknown group(s) nope" in _err(capsys) and not out.exists()
    assert main(["report", "--store", str(store), "--out", str(out), "--no-html", "--groups", "rq1-x"]) == 0


def test_encode_empty_corpus_file_is_refused_before_the_model_loads(tmp_path, capsys):
    empty = tmp_path / "corpus.jsonl"
    empty.write_text("")
    assert main(["encode", "--model", "/nonexistent", "--corpus", str(empty)]) == 1
    assert "empty corpus" in _err(capsys)
