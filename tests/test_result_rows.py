"""The results row schema, its key, and the run-folder reader every writer and reader shares."""

from __future__ import annotations

import hashlib
import json

import pytest

from optical.results.frames import per_query_frame, read_rows, results_frame
from optical.results.row import ResultRow, make_row, row_key
from optical.results.store import ResultsStore
from optical.run_folder import RunFolder, read_config, read_summary
from optical.systems import System, parse_system


def _old_key(payload: dict) -> str:
    """The key earlier versions stored: a hash of the payload each writer built by hand."""
    return hashlib.sha256(json.dumps(payload, sort_keys=True, default=str).encode()).hexdigest()[:16]


def _run(tmp_path, name="run", train_seconds=12.5, side="query"):
    run = tmp_path / name
    (run / "last").mkdir(parents=True, exist_ok=True)
    (run / "last" / "config.json").write_text("{}")
    config = {"objective": {"name": "optical"}, "data": {"train": "bible:sw", "max_pairs": 2000}}
    (run / "config.json").write_text(json.dumps(config))
    summary = {"system": "optical-sw-s0", "student": str(run / "last"), "teacher": "teacher-model",
               "student_side": side, "pairs": 1500, "steps": 10, "best_dev_rr10": 0.5,
               "train_seconds": train_seconds, "config": config}
    (run / "summary.json").write_text(json.dumps(summary))
    return run


ZERO = System("zero-shot", "m", "m", "zero-shot")
#: the system fields earlier versions hashed (before translate-test systems existed)
OLD_IDENTITY = {"name": "zero-shot", "query_model": "m", "doc_model": "m", "kind": "zero-shot", "run_dir": None}


def test_retrieval_and_embedding_keys_match_what_earlier_versions_stored():
    context = {"group": "rq1", "seed": None, "variant": "zero-shot"}
    key = row_key(ZERO, "bible:sw", "test", settings={"mode": "pooled", "k": 100, "measures": ["AP"]},
                  context=context)
    assert key == _old_key({"system": OLD_IDENTITY, "dataset": "bible:sw", "split": "test", "k": 100,
                            "mode": "pooled", "measures": ["AP"]} | context)
    key = row_key(ZERO, "bitext:bible:sw", "test", "embedding", {"side": "query", "margin": None, "n": 50})
    assert key == _old_key({"task": "embedding", "system": OLD_IDENTITY, "dataset": "bitext:bible:sw",
                            "split": "test", "n": 50, "side": "query", "margin": None})


def test_a_retrained_run_is_a_new_key_for_every_task(tmp_path):
    run = _run(tmp_path)
    before = parse_system(str(run))
    keys = {task: row_key(before, "bible:sw", "test", task) for task in ("retrieval", "embedding", "threshold")}
    assert len(set(keys.values())) == 3
    _run(tmp_path, train_seconds=99.0)  # retrained in the same folder
    after = parse_system(str(run))
    assert before == after  # same name, models, folder ...
    for task, key in keys.items():  # ... but every task's key changes (threshold rows did not before)
        assert row_key(after, "bible:sw", "test", task) != key


def test_make_row_fills_the_schema_and_round_trips_through_the_store(tmp_path):
    run = _run(tmp_path)
    system = parse_system(str(run))
    row = make_row(system, "bible:sw", "test", {"AP": 0.5}, settings={"mode": "pooled", "k": 10},
                   key_settings={"measures": ["AP"]}, per_query={"AP": {"q1": 0.25, "q2": 0.75}},
                   n_queries=2, context={"group": "g", "seed": 3, "variant": "optical", "note": "kept"})
    assert (row.language, row.resource, row.family, row.benchmark) == ("sw", "low", "bible", "bible")
    assert row.config == read_config(run) and row.run_dir == str(run) and row.kind == "trained"
    assert (row.group, row.seed, row.variant, row.extra) == ("g", 3, "optical", {"note": "kept"})
    stored = row.to_dict()
    assert stored["mode"] == "pooled" and stored["k"] == 10 and stored["note"] == "kept"
    store = ResultsStore(tmp_path / "r.jsonl")
    store.append(row)
    [back] = read_rows(store)
    assert back.key == row.key and back.settings == row.settings and back.extra == row.extra
    assert back.metrics == row.metrics and back.per_query == row.per_query
    assert back.versions and back.created  # the store stamps them
    frame = results_frame(store)
    assert frame[["method", "pairs", "seed", "kind", "benchmark"]].iloc[0].tolist() == [
        "optical", 2000, 3, "trained", "bible"]
    assert sorted(per_query_frame(store)["value"]) == [0.25, 0.75]


def test_make_row_refuses_unknown_settings_and_tasks():
    with pytest.raises(ValueError, match="unknown row settings"):
        make_row(ZERO, "bible:sw", "test", {}, settings={"topk": 3})
    with pytest.raises(ValueError, match="unknown task"):
        row_key(ZERO, "bible:sw", "test", "ranking")


def test_the_store_refuses_to_append_a_row_that_does_not_fit(tmp_path):
    store = ResultsStore(tmp_path / "r.jsonl")
    with pytest.raises(ValueError, match="missing metrics"):
        store.append({"key": "k", "system": "s", "dataset": "d", "language": "sw", "split": "test"})
    assert not store.path.exists()  # nothing written


def test_old_rows_without_task_group_or_resource_read_with_defaults():
    row = ResultRow.from_dict({"key": "k", "system": "s", "dataset": "bible:tl", "language": "tl",
                               "split": "dev", "metrics": {"AP": 1}})
    assert (row.task, row.group, row.resource, row.per_query, row.trained) == ("retrieval", "", "low", {}, False)


def test_run_folder_reader(tmp_path):
    run = _run(tmp_path, side="document")
    info = read_summary(run)
    assert (info.system, info.teacher, info.student_side, info.pairs) == ("optical-sw-s0", "teacher-model",
                                                                          "document", 1500)
    system = parse_system(str(run))
    assert (system.query_model, system.doc_model, system.student_side) == ("teacher-model", str(run / "last"),
                                                                           "document")
    moved = tmp_path / "moved"
    run.rename(moved)  # the summary still names the old path: the student is found inside the run
    assert read_summary(moved).student == str(moved / "last")
    folder = RunFolder(moved)
    assert folder.finished and folder.config()["objective"]["name"] == "optical"
    (moved / "summary.json").write_text("{not json")
    with pytest.raises(ValueError, match="not valid JSON"):
        read_summary(moved)
    (moved / "summary.json").write_text(json.dumps({"teacher": "t"}))
    with pytest.raises(ValueError, match="needs student"):
        read_summary(moved)
    with pytest.raises(FileNotFoundError, match="not a finished run"):
        read_summary(tmp_path / "nowhere")
    assert read_config(None) is None and read_config(tmp_path / "nowhere") is None


def test_app_reader_takes_the_pairs_a_run_saw(tmp_path):
    from optical.app.results_view import load_results

    run = _run(tmp_path)
    store = ResultsStore(tmp_path / "r.jsonl")
    store.append(make_row(parse_system(str(run)), "bible:sw", "test", {"AP": 0.5}))
    store.append(make_row(ZERO, "bible:sw", "test", {"AP": 0.4}))
    data = load_results(store.path)
    by_system = data.summary.set_index("system")
    assert by_system.loc["optical-sw-s0", "pairs"] == 1500.0  # the summary's, not max_pairs 2000
    assert by_system.loc["optical-sw-s0", "objective"] == "optical"
    assert by_system.loc["zero-shot", "objective"] == "zero-shot"
