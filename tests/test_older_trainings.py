"""Rows of an older training of a retrained run are left out of the tables."""

from __future__ import annotations

import json
from pathlib import Path

from optical.report.document import render_markdown
from optical.results.frames import older_trainings, read_rows, results_frame
from optical.results.row import ResultRow, training_stamp
from optical.results.store import ResultsStore
from optical.systems import System, parse_system


def _finished_run(folder: Path, train_seconds: float) -> System:
    folder.mkdir(parents=True, exist_ok=True)
    summary = {"student": str(folder / "student"), "teacher": "bundled:multilingual-e5-small",
               "train_seconds": train_seconds}
    (folder / "summary.json").write_text(json.dumps(summary), encoding="utf-8")
    return System("optical-sw", str(folder / "student"), "bundled:multilingual-e5-small", "trained",
                  run_dir=str(folder))


def test_training_stamp_names_one_training(tmp_path: Path) -> None:
    first = training_stamp(_finished_run(tmp_path / "run", 120.5))
    again = training_stamp(_finished_run(tmp_path / "run", 120.5))
    retrained = training_stamp(_finished_run(tmp_path / "run", 98.0))
    assert first is not None and len(first) == 12
    assert first == again
    assert retrained != first
    assert training_stamp(parse_system("zero-shot")) is None
    unfinished = System("x", "m", "m", "trained", run_dir=str(tmp_path / "nothing-here"))
    assert training_stamp(unfinished) is None


def _row(key: str, dataset: str, training: str | None, created: str, seed: int = 0, value: float = 0.5) -> ResultRow:
    return ResultRow(key=key, system="optical-sw", dataset=dataset, language=dataset.split(":")[1], split="test",
                     metrics={"AP": value}, kind="trained", run_dir="runs/x/optical-sw-s0", group="main",
                     seed=seed, variant="optical", config={"objective": {"name": "optical"}},
                     training=training, created=created)


def test_newest_training_of_a_run_is_kept() -> None:
    partial = [_row("a1", "bible:sw", "aaaaaaaaaaaa", "2026-12-01T10:00:00", value=0.1)]
    retrained = [_row(f"b{i}", d, "bbbbbbbbbbbb", "2026-12-02T09:00:00", value=0.9)
                 for i, d in enumerate(["bible:sw", "bible:tl"])]
    other_seed = [_row("c1", "bible:sw", "cccccccccccc", "2026-11-30T08:00:00", seed=1)]
    unstamped = [_row("d1", "bible:de", None, "2026-11-01T08:00:00")]
    rows = partial + retrained + other_seed + unstamped
    assert [r.key for r in older_trainings(rows)] == ["a1"]
    kept = read_rows(rows)
    assert sorted(r.key for r in kept) == ["b0", "b1", "c1", "d1"]
    frame = results_frame(rows)
    sw = frame[(frame["dataset"] == "bible:sw") & (frame["seed"] == 0)]
    assert sw["value"].tolist() == [0.9]


def test_stamp_survives_the_store_and_the_report_says_what_it_left_out(tmp_path: Path) -> None:
    store = ResultsStore(tmp_path / "results.jsonl")
    for row in (_row("a1", "bible:sw", "aaaaaaaaaaaa", "2026-12-01T10:00:00", value=0.1),
                _row("b1", "bible:sw", "bbbbbbbbbbbb", "2026-12-02T09:00:00", value=0.9)):
        store.append(row.to_dict())  # the row's own created time is kept
    assert [r.training for r in store.rows()] == ["aaaaaaaaaaaa", "bbbbbbbbbbbb"]
    assert [r.key for r in read_rows(store)] == ["b1"]
    text, _ = render_markdown(store, split="test")
    assert "2 rows, 1 of them from older trainings of retrained runs, left out" in text
