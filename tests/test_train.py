from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
from pathlib import Path

import pytest
import torch
from safetensors.torch import load_file

from optical.train.config import DistillConfig, apply_overrides, load_config
from optical.train.data import batch_order, micro_batches, shard
from optical.train.loop import KILL_AT_STEP_ENV, distill, lr_at
from tests.train_fixtures import tiny_overrides, write_tiny_bitext

ROOT = Path(__file__).resolve().parents[1]


def _weights(run: Path) -> dict[str, torch.Tensor]:
    return load_file(str(run / "last" / "model.safetensors"))


def _same(a: dict[str, torch.Tensor], b: dict[str, torch.Tensor], atol: float = 0.0) -> bool:
    return a.keys() == b.keys() and all(torch.allclose(a[k], b[k], atol=atol, rtol=0) for k in a)


# ----------------------------------------------------------------------------- config
def test_config_overrides_and_errors(tmp_path):
    cfg = apply_overrides(DistillConfig(), ["objective.eps=0.02", "run.seed=3", "data.extra_train=bible:de,bible:fr",
                                            "objective.reg_m=none", "model.freeze_embeddings=false"])
    assert cfg.objective.eps == 0.02 and cfg.run.seed == 3 and cfg.objective.reg_m is None
    assert cfg.data.extra_train == ["bible:de", "bible:fr"] and cfg.model.freeze_embeddings is False
    with pytest.raises(ValueError, match="unknown setting 'objective.epsilon'.*objective.eps"):
        apply_overrides(cfg, ["objective.epsilon=1"])
    with pytest.raises(ValueError, match="objective.name must be one of"):
        apply_overrides(cfg, ["objective.name=magic"])
    toml = tmp_path / "c.toml"
    toml.write_text('[objective]\nname = "mse"\n[optim]\nlr = 1e-5\n')
    cfg = load_config(toml, ["optim.batch_size=16"])
    assert (cfg.objective.name, cfg.optim.lr, cfg.optim.batch_size) == ("mse", 1e-5, 16)
    toml.write_text("[objective]\nbogus = 1\n")
    with pytest.raises(ValueError, match=r"c.toml: unknown setting 'objective.bogus'; \[objective\] has name"):
        load_config(toml)
    assert DistillConfig.from_dict(cfg.to_dict()) == cfg


def test_lr_schedule():
    lrs = [lr_at(s, 10, 1.0, 0.2, "linear") for s in range(10)]
    assert lrs[:2] == [0.5, 1.0] and lrs[-1] == pytest.approx(1 / 8) and all(a >= b for a, b in zip(lrs[1:], lrs[2:], strict=False))
    assert lr_at(5, 10, 1.0, 0.0, "constant") == 1.0
    assert lr_at(0, 10, 1.0, 0.0, "cosine") == 1.0 and lr_at(9, 10, 1.0, 0.0, "cosine") < 0.05


def test_batches_deterministic_cover_and_shard():
    lengths = [i % 13 for i in range(100)]
    a = batch_order(lengths, 8, seed=1, epoch=0)
    assert a == batch_order(lengths, 8, seed=1, epoch=0) and a != batch_order(lengths, 8, seed=1, epoch=1)
    flat = [i for b in a for i in b]
    assert len(flat) == 96 and len(set(flat)) == 96  # last incomplete batch dropped, no repeats
    # within a batch lengths are close (bucketing)
    spread = sum(max(lengths[i] for i in b) - min(lengths[i] for i in b) for b in a) / len(a)
    assert spread < 6
    b = a[0]
    assert sorted(shard(b, 0, 2) + shard(b, 1, 2)) == sorted(b)
    assert micro_batches(b, 2) == [b[:4], b[4:]]
    with pytest.raises(ValueError, match="does not split evenly"):
        shard(b, 0, 3)


# ----------------------------------------------------------------------------- training
@pytest.fixture()
def task(tmp_path, tiny_model_dir):
    return tiny_model_dir, write_tiny_bitext(tmp_path / "bitext.tsv")


@pytest.mark.parametrize("objective", ["optical", "mse", "infonce", "cross_entropy"])
def test_each_objective_trains_and_saves_a_loadable_student(task, tmp_path, objective):
    from transformers import AutoModel

    model_dir, bitext = task
    out = tmp_path / objective
    summary = distill(load_config(None, tiny_overrides(model_dir, bitext, out, **{"objective.name": objective})))
    assert summary["steps"] == 6 and Path(summary["student"]).is_dir()
    log = [json.loads(x) for x in (out / "metrics.jsonl").read_text().splitlines()]
    assert [r["step"] for r in log] == [1, 2, 3, 4, 5, 6] and all(r["loss"] >= 0 for r in log)
    trained = AutoModel.from_pretrained(out / "last")
    assert trained.config.hidden_size == 32
    before = load_file(str(model_dir / "model.safetensors"))
    after = _weights(out)
    assert not _same({k: before[k] for k in after}, after)  # it learned something
    assert json.loads((out / "config.json").read_text())["objective"]["name"] == objective


def test_optical_loss_decreases_with_training(task, tmp_path):
    model_dir, bitext = task
    out = tmp_path / "long"
    distill(load_config(None, tiny_overrides(model_dir, bitext, out, **{"optim.max_steps": 40, "optim.lr": 3e-3,
                                                                       "model.dropout": 0.0})))
    losses = [json.loads(x)["loss"] for x in (out / "metrics.jsonl").read_text().splitlines()]
    assert sum(losses[-8:]) / 8 < 0.8 * sum(losses[:8]) / 8


def test_same_seed_same_weights_other_seed_differs(task, tmp_path):
    model_dir, bitext = task
    a = distill(load_config(None, tiny_overrides(model_dir, bitext, tmp_path / "a")))
    b = distill(load_config(None, tiny_overrides(model_dir, bitext, tmp_path / "b")))
    c = distill(load_config(None, tiny_overrides(model_dir, bitext, tmp_path / "c", **{"run.seed": 1})))
    assert _same(_weights(Path(a["student"]).parent), _weights(Path(b["student"]).parent))
    assert not _same(_weights(Path(a["student"]).parent), _weights(Path(c["student"]).parent))


def test_existing_run_needs_resume(task, tmp_path):
    model_dir, bitext = task
    cfg = load_config(None, tiny_overrides(model_dir, bitext, tmp_path / "r"))
    distill(cfg)
    with pytest.raises(ValueError, match="--resume"):
        distill(cfg)
    assert distill(cfg, resume=True)["steps"] == 6  # already finished: nothing more to do


@pytest.mark.slow
def test_kill_9_then_resume_gives_the_uninterrupted_weights(task, tmp_path):
    model_dir, bitext = task
    steps = {"optim.max_steps": 30, "run.checkpoint_every": 3}
    ref = tmp_path / "ref"
    distill(load_config(None, tiny_overrides(model_dir, bitext, ref, **steps)))
    run = tmp_path / "killed"
    cmd = [sys.executable, "-m", "optical", "distill", *tiny_overrides(model_dir, bitext, run, **steps)]
    env = os.environ | {"PYTHONPATH": str(ROOT)}
    # the trainer SIGKILLs itself right after logging step 7 (checkpoint at 6): no timing involved
    proc = subprocess.run(cmd, env=env | {KILL_AT_STEP_ENV: "7"}, stdout=subprocess.DEVNULL,
                          stderr=subprocess.PIPE, timeout=600)
    assert proc.returncode == -signal.SIGKILL, proc.stderr[-2000:]
    assert json.loads((run / "checkpoint" / "state.json").read_text())["step"] == 6
    assert [json.loads(x)["step"] for x in (run / "metrics.jsonl").read_text().splitlines()] == list(range(1, 8))
    assert not (run / "summary.json").exists()
    done = subprocess.run(cmd + ["--resume"], env=env, capture_output=True, text=True, timeout=600)
    assert done.returncode == 0, done.stderr
    assert _same(_weights(ref), _weights(run))
    steps_logged = [json.loads(x)["step"] for x in (run / "metrics.jsonl").read_text().splitlines()]
    assert steps_logged == list(range(1, 31))  # step 7 redone once: no duplicated or missing log lines


def test_failed_checkpoint_write_keeps_the_last_good_one(task, tmp_path, monkeypatch):
    import safetensors.torch

    model_dir, bitext = task
    run = tmp_path / "disk"
    cfg = load_config(None, tiny_overrides(model_dir, bitext, run))
    real_save = safetensors.torch.save_file
    calls = {"n": 0}

    def disk_fills_up(tensors, filename, *args, **kwargs):
        calls["n"] += 1
        if calls["n"] == 5:  # second checkpoint, second file: the disk is full half-way
            Path(filename).write_bytes(b"partial")
            raise OSError(28, "No space left on device")
        return real_save(tensors, filename, *args, **kwargs)

    monkeypatch.setattr(safetensors.torch, "save_file", disk_fills_up)
    with pytest.raises(OSError, match="No space left"):
        distill(cfg)
    state = json.loads((run / "checkpoint" / "state.json").read_text())
    assert state["step"] == 2  # the first checkpoint survived intact
    assert (run / "checkpoint" / "COMPLETE").is_file()
    assert not [p for p in run.iterdir() if p.name.startswith(".checkpoint")]  # no half-written leftovers
    monkeypatch.setattr(safetensors.torch, "save_file", real_save)
    assert distill(cfg, resume=True)["steps"] == 6  # and it resumes from there


def test_bad_inputs_fail_before_training(task, tmp_path):
    model_dir, bitext = task
    bad = tmp_path / "bad.tsv"
    bad.write_text("id\tsrc\ttgt\n1\thello\t\n", encoding="utf-8")
    with pytest.raises(ValueError, match="empty"):
        distill(load_config(None, tiny_overrides(model_dir, bad, tmp_path / "x")))
    latin = tmp_path / "latin.tsv"
    latin.write_bytes("id\tsrc\ttgt\n1\tcaf\xe9\tcoffee\n".encode("latin-1"))
    with pytest.raises(ValueError, match="UTF-8"):
        distill(load_config(None, tiny_overrides(model_dir, latin, tmp_path / "y")))
    with pytest.raises(ValueError, match="fewer than one batch"):
        distill(load_config(None, tiny_overrides(model_dir, bitext, tmp_path / "z", **{"optim.batch_size": 128})))
    assert not (tmp_path / "z" / "checkpoint").exists()


def test_projection_needed_for_different_sizes(tmp_path):
    from tests.helpers import make_tiny_model_dir

    teacher = make_tiny_model_dir(tmp_path / "t", hidden=32)
    student = make_tiny_model_dir(tmp_path / "s", hidden=64)
    bitext = write_tiny_bitext(tmp_path / "b.tsv")
    base = tiny_overrides(teacher, bitext, tmp_path / "run", **{"model.student": str(student)})
    with pytest.raises(ValueError, match="set model.projection"):
        distill(load_config(None, base + ["model.projection=never"]))
    summary = distill(load_config(None, base))
    assert (Path(summary["student"]) / "optical_projection.safetensors").is_file()
    from optical.encoders import Encoder

    enc = Encoder(summary["student"])
    assert enc.hidden_size == 32 and enc.encode(["mungu"], True).shape == (1, 32)


def test_english_only_tokenizer_is_refused_for_amharic(tmp_path, tiny_model_dir):
    am = tmp_path / "am.tsv"
    am.write_text("id\tsrc\ttgt\n" + "".join(f"{i}\tሰላም ዓለም ነው\thello world\n" for i in range(16)), "utf-8")
    with pytest.raises(ValueError, match="cannot represent this language"):
        distill(load_config(None, tiny_overrides(tiny_model_dir, am, tmp_path / "am")))


@pytest.mark.slow
def test_two_gloo_processes_match_one_process_with_the_same_global_batch(task, tmp_path):
    model_dir, bitext = task
    common = {"model.dropout": 0.0, "optim.max_steps": 4, "run.checkpoint_every": 0}
    single = tmp_path / "single"
    distill(load_config(None, tiny_overrides(model_dir, bitext, single, **common)))
    ddp = tmp_path / "ddp"
    torchrun = Path(sys.executable).with_name("torchrun")
    # --standalone: a local rendezvous on a free port (no fixed --master_port to collide on)
    cmd = [str(torchrun), "--standalone", "--nproc_per_node=2", "-m", "optical", "distill",
           *tiny_overrides(model_dir, bitext, ddp, **common)]
    env = os.environ | {"PYTHONPATH": str(ROOT), "OMP_NUM_THREADS": "1"}
    done = subprocess.run(cmd, env=env, capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr[-2000:]
    assert json.loads((ddp / "summary.json").read_text())["world_size"] == 2
    loss_single = [json.loads(x)["loss"] for x in (single / "metrics.jsonl").read_text().splitlines()]
    loss_ddp = [json.loads(x)["loss"] for x in (ddp / "metrics.jsonl").read_text().splitlines()]
    assert loss_ddp == pytest.approx(loss_single, abs=1e-5)
    # Attention key biases get a gradient that is zero in exact arithmetic (softmax is
    # invariant to a shift shared by all keys); Adam turns the rounding noise of that
    # zero into lr-sized steps whose sign depends on summation order. Compare the rest.
    a, b = _weights(single), _weights(ddp)
    keys = [k for k in a if not k.endswith("attention.self.key.bias")]
    assert len(keys) > 20
    assert _same({k: a[k] for k in keys}, {k: b[k] for k in keys}, atol=1e-5)
