"""Run folders: one writer at a time (a lock the kernel releases), an honest --resume, and
progress on stderr for every set-up phase (issue 11, sections 2 and 5). Tiny model only."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
from pathlib import Path

import pytest

from optical.train.config import load_config
from optical.train.loop import distill
from tests.train_fixtures import tiny_overrides, write_tiny_beir, write_tiny_bitext

ROOT = Path(__file__).resolve().parents[1]

HOLD_LOCK = """
import sys
from optical.train.lock import run_lock
with run_lock(sys.argv[1]):
    print("locked", flush=True)
    sys.stdin.read()  # hold it until the test closes stdin (or kills us)
"""


@pytest.fixture()
def task(tmp_path, tiny_model_dir):
    return tiny_model_dir, write_tiny_bitext(tmp_path / "bitext.tsv")


def _holder(run: Path) -> subprocess.Popen:
    env = os.environ | {"PYTHONPATH": str(ROOT)}
    proc = subprocess.Popen([sys.executable, "-c", HOLD_LOCK, str(run)], env=env, stdin=subprocess.PIPE,
                            stdout=subprocess.PIPE, text=True)
    assert proc.stdout.readline() == "locked\n"  # blocks until the other process holds the lock
    return proc


def test_a_second_writer_of_a_run_folder_is_refused_and_a_dead_holder_frees_it(task, tmp_path):
    model_dir, bitext = task
    run = tmp_path / "run"
    cfg = load_config(None, tiny_overrides(model_dir, bitext, run))
    other = _holder(run)
    try:
        with pytest.raises(ValueError, match=rf"run folder {run} is in use by pid {other.pid} on "):
            distill(cfg)
        assert sorted(p.name for p in run.iterdir()) == [".lock"]  # nothing written by the refused run
    finally:
        other.send_signal(signal.SIGKILL)  # dies holding the lock: the kernel releases it, no stale lock
        other.wait()
    assert distill(cfg)["steps"] == 6
    log = [json.loads(x)["step"] for x in (run / "metrics.jsonl").read_text().splitlines()]
    assert log == [1, 2, 3, 4, 5, 6]


def test_two_trainers_in_one_process_cannot_share_a_folder(task, tmp_path, monkeypatch):
    """The second trainer starts while the first is training (from its step-3 checkpoint)."""
    import optical.train.loop as loop

    model_dir, bitext = task
    run = tmp_path / "run"
    cfg = load_config(None, tiny_overrides(model_dir, bitext, run))
    real_save = loop.save_checkpoint
    seen: list[str] = []

    def second_writer(*args, **kwargs):
        out = real_save(*args, **kwargs)
        if not seen:
            with pytest.raises(ValueError, match="is in use by pid"):
                distill(load_config(None, tiny_overrides(model_dir, bitext, run, **{"run.seed": 1})))
            seen.append("refused")
        return out

    monkeypatch.setattr(loop, "save_checkpoint", second_writer)
    assert distill(cfg)["steps"] == 6 and seen == ["refused"]
    log = [json.loads(x)["step"] for x in (run / "metrics.jsonl").read_text().splitlines()]
    assert log == [1, 2, 3, 4, 5, 6]  # each step once
    assert json.loads((run / "config.json").read_text())["run"]["seed"] == 0


def test_resume_without_a_checkpoint_says_so(task, tmp_path, capsys):
    model_dir, bitext = task
    run = tmp_path / "fresh"
    assert distill(load_config(None, tiny_overrides(model_dir, bitext, run)), resume=True)["steps"] == 6
    err = capsys.readouterr().err
    assert f"note: --resume: no checkpoint in {run}; starting a new run from step 0" in err


def test_resume_with_other_settings_is_refused_before_models_load(task, tmp_path, monkeypatch):
    import optical.train.loop as loop

    model_dir, bitext = task
    run = tmp_path / "r"
    distill(load_config(None, tiny_overrides(model_dir, bitext, run, **{"optim.max_steps": 2})))

    def no_models(*args, **kwargs):
        raise AssertionError("a model was loaded")

    monkeypatch.setattr(loop, "Encoder", no_models)
    changed = load_config(None, tiny_overrides(model_dir, bitext, run, **{"optim.lr": 5e-3}))
    with pytest.raises(ValueError, match=r"--resume: the checkpoint in .* was trained with optim.lr=0.001 "
                                         r"\(now 0.005\)"):
        distill(changed, resume=True)
    monkeypatch.undo()
    # the step budget may grow: the run continues from step 2
    longer = load_config(None, tiny_overrides(model_dir, bitext, run, **{"optim.max_steps": 4}))
    assert distill(longer, resume=True)["steps"] == 4


def test_resume_cli_with_overrides_after_the_flag(task, tmp_path, capsys):
    from optical.cli import main

    model_dir, bitext = task
    run = tmp_path / "cli"
    args = tiny_overrides(model_dir, bitext, run, **{"optim.max_steps": 2})
    assert main(["distill", *args]) == 0
    capsys.readouterr()
    assert main(["distill", *args[:3], "--resume", *args[3:], "optim.max_steps=3"]) == 0
    assert json.loads(capsys.readouterr().out)["steps"] == 3
    assert main(["distill", *args[:3], "--resume", *args[3:], "objective.eps=0.5"]) == 1
    err = capsys.readouterr().err
    assert err.startswith("optical distill: error: --resume: the checkpoint") and "objective.eps" in err


def test_every_set_up_phase_reports_progress_on_stderr(task, tmp_path, capsys):
    model_dir, bitext = task
    beir = write_tiny_beir(tmp_path / "beir")
    cfg = load_config(None, tiny_overrides(model_dir, bitext, tmp_path / "p", **{
        "run.progress": "true", "run.keep_best": "true", "data.dev": str(beir), "data.dev_queries": 4}))
    distill(cfg)
    err = capsys.readouterr().err
    phases = ["loading the teacher", "building the student", "loading the training pairs", "teacher outputs for",
              "fitting the token geometry (whiten)", "loading the dev collection", "training optical-bitext-s0",
              "step 0: the teacher's index of the dev corpus", "step 0 (before training): dev MRR@10"]
    where = [err.find(p) for p in phases]
    assert all(i >= 0 for i in where), dict(zip(phases, where, strict=True))
    assert where == sorted(where), err
    assert "encoding corpus" in err  # the index build shows its encoding bar
    # the step bar appears only once training starts, not while the dev index is built
    assert err.find("0/6") > err.find("step 0 (before training)")


def test_trainer_device_uses_the_one_checked_helper():
    import torch

    from optical.train.distributed import DistInfo, resolve_device

    assert resolve_device("cpu", DistInfo()) == torch.device("cpu")
    if not torch.cuda.is_available():
        with pytest.raises(ValueError, match=r"^run\.device 'cuda': CUDA requested"):
            resolve_device("cuda", DistInfo())
