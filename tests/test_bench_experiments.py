from __future__ import annotations

import json

import pytest

from optical.data.beir import load_beir
from optical.evaluation import evaluate
from optical.report import bench_table
from optical.results import ResultsStore
from optical.results.collect import bench, evaluate_system
from optical.results.frames import results_frame
from optical.sweeps.runner import load_spec, plan, run_sweep, select
from optical.systems import parse_system
from tests.train_fixtures import write_tiny_beir, write_tiny_bitext


def test_parse_system_specs(tmp_path, tiny_model_dir):
    zs = parse_system("zero-shot")
    assert zs.query_model == zs.doc_model == "bundled:multilingual-e5-small" and zs.kind == "zero-shot"
    both = parse_system(str(tiny_model_dir))
    assert both.query_model == both.doc_model == str(tiny_model_dir) and both.kind == "model"
    split = parse_system("query=a/student,doc=bundled:multilingual-e5-small")
    assert (split.query_model, split.doc_model) == ("a/student", "bundled:multilingual-e5-small")
    run = tmp_path / "run"
    (run / "best").mkdir(parents=True)
    (run / "summary.json").write_text(json.dumps({"student": "/elsewhere/best", "teacher": "T", "system": "optical-sw",
                                                 "student_side": "query"}))
    sys_ = parse_system(str(run))
    assert (sys_.name, sys_.query_model, sys_.doc_model, sys_.kind) == ("optical-sw", str(run / "best"), "T", "trained")
    (tmp_path / "empty").mkdir()
    with pytest.raises(ValueError, match="neither a model folder"):
        parse_system(str(tmp_path / "empty"))
    with pytest.raises(ValueError, match="expected query=<model>,doc=<model>"):
        parse_system("query=a")


def test_results_store_recovers_from_a_cut_line(tmp_path):
    store = ResultsStore(tmp_path / "r.jsonl")
    store.append({"key": "a", "system": "s", "dataset": "d", "language": "sw", "split": "test", "metrics": {"AP": 0.5}})
    with open(store.path, "a") as fh:
        fh.write('{"key": "b", "sys')  # crash mid-append
    assert [r.key for r in store.rows()] == ["a"]
    store.append({"key": "c", "system": "s", "dataset": "d", "language": "tl", "split": "test", "metrics": {"AP": 1}})
    assert [r.key for r in store.rows()] == ["a", "c"]
    assert results_frame(store)["value"].tolist() == [0.5, 1.0]


def test_bench_rows_match_direct_evaluation_and_are_not_redone(tmp_path, tiny_model_dir):
    data = write_tiny_beir(tmp_path / "tiny")
    store = ResultsStore(tmp_path / "results.jsonl")
    system = parse_system(str(tiny_model_dir), name="tiny")
    rows = bench([system], [str(data)], store=store, progress=None)
    assert len(rows) == 1 and len(store.rows()) == 1
    row = rows[0]
    assert row.n_queries == 12 and row.language == "tiny"
    # the stored numbers are what evaluating the same run gives
    from optical.retrieval import Retriever, corpus_index
    from optical.systems import load_encoder_cached

    enc = load_encoder_cached(str(tiny_model_dir))
    col = load_beir(data, "test")
    run = Retriever(enc, enc, corpus_index(enc, col.corpus, "tiny", progress=False)).search(col.queries, k=100)
    direct = evaluate(run, col.qrels, ["AP", "R(rel=2)@1"])
    assert row.metrics["AP"] == pytest.approx(direct["AP"]) and row.metrics["R(rel=2)@1"] == pytest.approx(
        direct["R(rel=2)@1"])
    assert sorted(row.per_query["AP"]) == sorted(col.qrels)
    assert bench([system], [str(data)], store=store, progress=None) == []  # already there
    table = bench_table(store.rows(), dataset_family=None)  # one system: languages as rows
    assert "**tiny — tiny, pooled scoring**" in table and "| MAP |" in table  # the folder names the task
    assert f"| tiny | unknown | 12 | {row.metrics['R(rel=2)@1']:.3f} |" in table
    assert evaluate_system(system, str(data), "dev").n_queries == 12


def test_bench_cli_group_labels_rows_and_filters_the_table(tmp_path, tiny_model_dir, capsys):
    from optical.cli import main

    data = write_tiny_beir(tmp_path / "tiny")
    store = tmp_path / "results.jsonl"
    common = ["bench", "--store", str(store), "--datasets", str(data), "--systems", str(tiny_model_dir)]  # named "model"
    assert main([*common, "--group", "g1"]) == 0
    assert [r.group for r in ResultsStore(store).rows()] == ["g1"]
    capsys.readouterr()
    assert main([*common, "--table-only", "--group", "g1"]) == 0
    assert "| tiny | unknown | 12 |" in capsys.readouterr().out
    assert main([*common, "--table-only", "--group", "other"]) == 1  # nothing in that group
    out = capsys.readouterr()
    assert "| tiny |" not in out.out and "no results match" in out.err


def test_sweep_plans_trains_evaluates_and_resumes(tmp_path, tiny_model_dir):
    bitext = write_tiny_bitext(tmp_path / "bitext.tsv")
    data = write_tiny_beir(tmp_path / "tiny")
    spec_file = tmp_path / "sweep.toml"
    spec_file.write_text(f"""
[sweep]
name = "unit"
runs_dir = "{tmp_path / 'runs'}"
eval = ["{data}"]
zero_shot = ["{tiny_model_dir}"]

[base]
"model.teacher" = "{tiny_model_dir}"
"data.train" = "{bitext}"
"data.max_pairs" = 32
"optim.batch_size" = 8
"optim.max_steps" = 3
"run.keep_best" = false
"run.progress" = false
"run.checkpoint_every" = 1

[grid]
"run.seed" = [0, 1]

[[variants]]
name = "optical"
"objective.name" = "optical"

[[variants]]
name = "mse"
"objective.name" = "mse"
""")
    spec = load_spec(spec_file)
    runs = plan(spec)
    assert [r.system for r in runs] == ["optical-bitext", "mse-bitext", "optical-bitext", "mse-bitext"]
    assert [r.run_dir.name for r in runs] == ["optical-bitext-s0", "mse-bitext-s0", "optical-bitext-s1",
                                             "mse-bitext-s1"]
    store = ResultsStore(tmp_path / "results.jsonl")
    stats = run_sweep(spec, store, progress=None)
    assert (stats["trained"], stats["evaluated"]) == (4, 5)
    rows = store.rows()
    assert {r.system for r in rows} == {"optical-bitext", "mse-bitext", tiny_model_dir.name}
    assert {r.seed for r in rows if r.system == "mse-bitext"} == {0, 1}
    assert all(r.group == "unit" for r in rows)
    again = run_sweep(spec, store, progress=None)
    assert (again["trained"], again["skipped"], again["evaluated"]) == (0, 4, 0)
    # an interrupted run: its checkpoint is there but not its summary -> resumed, then evaluated
    (runs[0].run_dir / "summary.json").unlink()
    third = run_sweep(spec, store, progress=None)
    assert (third["resumed"], third["trained"]) == (1, 0)
    with pytest.raises(ValueError, match="unknown setting 'objective.bogus'"):
        plan(load_spec(spec_file, {"objective.bogus": 1}))
    # --only: a subset by system or folder pattern; a pattern that matches nothing names the runs
    assert [r.run_dir.name for r in select(runs, ["mse-bitext"])] == ["mse-bitext-s0", "mse-bitext-s1"]
    assert [r.run_dir.name for r in select(runs, ["*-s1", "optical-bitext-s0"])] == [
        "optical-bitext-s0", "optical-bitext-s1", "mse-bitext-s1"]
    with pytest.raises(ValueError, match="matches no run.*mse-bitext-s0"):
        select(runs, ["ce-*"])
