"""One typed parser for distillation settings: CLI overrides, config files and sweep specs
(issue 11, section 3). No model is loaded here: every check happens when the config is built."""

from __future__ import annotations

from pathlib import Path

import pytest

from optical.train.config import GEOMETRIES, SETTINGS, DistillConfig, apply_overrides, load_config
from optical.train.config_values import Text, coerce

ROOT = Path(__file__).resolve().parents[1]


def _cfg(*overrides: str) -> DistillConfig:
    return apply_overrides(DistillConfig(), list(overrides))


# ----------------------------------------------------------------------------- types
def test_override_values_are_parsed_against_the_field_type():
    cfg = _cfg('data.extra_train=["bible:de", "bible:fr"]', "data.extra_fraction=.5", "optim.lr=2e-5",
               "objective.reg_m=none", "run.keep_best=no", "data.max_pairs=NONE", "run.seed=7",
               "model.student=2024", 'run.name="my run"', "optim.epochs=2")
    assert cfg.data.extra_train == ["bible:de", "bible:fr"]  # a TOML array, not the string '["bible:de"...'
    assert cfg.data.extra_fraction == 0.5 and cfg.optim.lr == 2e-5 and cfg.objective.reg_m is None
    assert cfg.run.keep_best is False and cfg.data.max_pairs is None and cfg.run.seed == 7
    assert cfg.model.student == "2024"  # a string field keeps the text (was read as the int 2024)
    assert cfg.run.name == "my run" and cfg.optim.epochs == 2.0 and isinstance(cfg.optim.epochs, float)
    assert _cfg("data.extra_train=bible:de,bible:fr").data.extra_train == ["bible:de", "bible:fr"]
    assert _cfg('data.extra_train=["bible:de"]').data.extra_train == ["bible:de"]
    assert _cfg("data.extra_train=").data.extra_train == []


@pytest.mark.parametrize("override, message", [
    ("optim.lr=abc", r"optim.lr: expected a number, got 'abc'"),
    ("run.seed=1.5", r"run.seed: expected an integer, got '1.5'"),
    ("optim.batch_size=32.0", r"optim.batch_size: expected an integer"),
    ("model.freeze_embeddings=maybe", r"model.freeze_embeddings: expected true or false"),
    ("optim.lr=nan", r"optim.lr: expected a finite number"),
    ("objective.eps=inf", r"objective.eps: expected a finite number"),
    ("model.teacher=none", r"model.teacher: expected a string, got 'none' \(this setting cannot be unset\)"),
    ("optim.batch_size=none", r"optim.batch_size: expected an integer, got 'none'"),
    ('data.extra_train=["bible:de"', r"data.extra_train: .* is not a valid TOML value"),
    ("data.extra_train=[1, 2]", r"data.extra_train: expected a list of strings"),
    ("optim.lr", r"not of the form section.key=value"),
])
def test_bad_override_values_are_one_clear_error(override, message):
    with pytest.raises(ValueError, match=message):
        _cfg(override)


@pytest.mark.parametrize("override, message", [
    ("objective.geometry=whitened", "objective.geometry must be one of center, whiten, raw, got 'whitened'"),
    ("objective.marginals=mass", "objective.marginals must be one of uniform, norm"),
    ("objective.name=magic", "objective.name must be one of"),
    ("optim.schedule=step", "optim.schedule must be one of linear, cosine, constant"),
    ("model.student_side=both", "model.student_side must be one of query, document"),
    ("model.projection=sometimes", "model.projection must be one of auto, always, never"),
    ("run.device=gpu", "run.device must be auto, cpu, cuda, cuda:<index> or mps"),
    ("optim.lr=0", r"optim.lr must be > 0, got 0.0"),
    ("optim.lr=-1e-5", r"optim.lr must be > 0"),
    ("objective.eps=0", r"objective.eps must be > 0"),
    ("objective.reg_m=0", r"objective.reg_m must be > 0"),
    ("objective.reg_m=-1", r"objective.reg_m must be > 0"),
    ("objective.temperature=0", r"objective.temperature must be > 0"),
    ("objective.max_iter=0", r"objective.max_iter must be >= 1"),
    ("optim.batch_size=0", r"optim.batch_size must be >= 1"),
    ("optim.grad_accum=0", r"optim.grad_accum must be >= 1"),
    ("optim.max_steps=-3", r"optim.max_steps must be >= 1, got -3"),
    ("optim.max_steps=0", r"optim.max_steps must be >= 1, got 0"),
    ("optim.epochs=0", r"optim.epochs must be > 0"),
    ("optim.warmup_ratio=1", r"optim.warmup_ratio must be in \[0, 1\)"),
    ("run.seed=-1", r"run.seed must be an integer in \[0, 2\*\*32\)"),
    ("data.subset_seed=-2", r"data.subset_seed must be an integer"),
    ("model.dropout=1.5", r"model.dropout must be in \[0, 1\)"),
    ("model.max_length=0", r"model.max_length must be >= 2"),
    ("model.freeze_layers=-1", r"model.freeze_layers must be >= 0"),
    ("data.max_pairs=0", r"data.max_pairs must be >= 1"),
    ("data.dev_queries=0", r"data.dev_queries must be >= 1"),
    ("run.eval_every=-5", r"run.eval_every must be >= 0"),
    ("data.extra_fraction=0.3", r"data.extra_fraction > 0 needs data.extra_train"),
    ("optim.grad_accum=3", r"optim.batch_size \(32\) must be a multiple of optim.grad_accum \(3\)"),
    ("run.out_dir=", r"run.out_dir must be a non-empty string"),
])
def test_choices_and_ranges_are_checked_when_the_config_is_built(override, message):
    with pytest.raises(ValueError, match=message):
        _cfg(override)


def test_geometry_choices_match_the_loss():
    from optical.losses import GEOMETRY_KINDS

    assert set(GEOMETRIES) == set(GEOMETRY_KINDS)


@pytest.mark.parametrize("key, message", [
    ("objective.epsilon", r"unknown setting 'objective.epsilon'; did you mean objective.eps\?"),
    ("optimizer.lr", r"unknown setting 'optimizer.lr'; did you mean optim.lr\?"),
    ("eps", r"unknown setting 'eps'; did you mean objective.eps\?"),
    ("optim.batch", r"did you mean optim.batch_size\?"),
    ("objective.bogus", r"unknown setting 'objective.bogus'; \[objective\] has name, eps"),
])
def test_unknown_keys_suggest_the_closest_setting(key, message):
    with pytest.raises(ValueError, match=message):
        _cfg(f"{key}=1")


def test_config_files_are_typed_and_checked_like_overrides(tmp_path):
    toml = tmp_path / "c.toml"
    toml.write_text('[optim]\nlr = "abc"\n')
    with pytest.raises(ValueError, match=r"c.toml: optim.lr: expected a number, got the string 'abc'"):
        load_config(toml)
    toml.write_text('[data]\nextra_train = "bible:de"\nextra_fraction = 0.2\n')
    with pytest.raises(ValueError, match=r"data.extra_train: expected a list of strings.*got the string"):
        load_config(toml)
    toml.write_text("[run]\nseed = 1.5\n")
    with pytest.raises(ValueError, match=r"run.seed: expected an integer, got 1.5"):
        load_config(toml)
    toml.write_text("[optimizer]\nlr = 1e-5\n")
    with pytest.raises(ValueError, match=r"unknown setting 'optimizer.lr'; did you mean optim.lr\?"):
        load_config(toml)
    toml.write_text('[objective]\ngeometry = "whitened"\n')
    with pytest.raises(ValueError, match="objective.geometry must be one of"):
        load_config(toml)
    # TOML has no null: the string "none" clears an optional setting; dotted keys work too
    toml.write_text('"objective.reg_m" = 1.0\n[data]\nmax_pairs = "none"\n')
    cfg = load_config(toml, ["objective.eps=0.1"])
    assert (cfg.objective.reg_m, cfg.data.max_pairs, cfg.objective.eps) == (1.0, None, 0.1)
    toml.write_text("[optim]\nmax_steps = -3\n")
    with pytest.raises(ValueError, match="optim.max_steps must be >= 1"):
        load_config(toml)


def test_typed_values_must_have_the_type():
    assert coerce("optim.lr", 1, SETTINGS["optim.lr"]) == 1.0
    assert coerce("data.max_pairs", "none", SETTINGS["data.max_pairs"]) is None
    assert coerce("data.max_pairs", Text("12"), SETTINGS["data.max_pairs"]) == 12
    for key, value in [("run.seed", True), ("run.seed", "1"), ("model.teacher", 5), ("optim.lr", "1e-3"),
                       ("run.keep_best", "false"), ("data.extra_train", "bible:de"), ("optim.batch_size", None)]:
        with pytest.raises(ValueError, match=key):
            coerce(key, value, SETTINGS[key])


def test_local_model_paths_are_checked_before_any_model_loads(tmp_path):
    with pytest.raises(FileNotFoundError, match="model.teacher: no such file or folder: /nonexistent"):
        _cfg("model.teacher=/nonexistent")
    with pytest.raises(FileNotFoundError, match="model.student: no such file or folder: ./not-here"):
        _cfg("model.student=./not-here")
    with pytest.raises(FileNotFoundError, match="data.train: .*missing.tsv: no such dataset folder or file"):
        _cfg(f"data.train={tmp_path / 'missing.tsv'}")
    with pytest.raises(FileNotFoundError, match="data.train: bibel:sw: no such dataset"):
        _cfg("data.train=bibel:sw")
    with pytest.raises(ValueError, match="data.extra_train: 'bible:xx': unknown language code"):
        _cfg("data.extra_train=bible:xx", "data.extra_fraction=0.2")
    assert _cfg(f"model.teacher={tmp_path}").model.teacher == str(tmp_path)


def test_shipped_configs_load():
    for path in sorted((ROOT / "configs").glob("*.toml")):
        assert load_config(path).run.out_dir


# ----------------------------------------------------------------------------- CLI
def _distill_cli(capsys, *args: str) -> tuple[int, str, str]:
    from optical.cli import main

    rc = main(["distill", *args])
    out = capsys.readouterr()
    return rc, out.out, out.err


@pytest.mark.parametrize("override", ["objective.geometry=whitened", "optim.lr=abc", "run.seed=1.5",
                                      "optim.max_steps=-3", "model.teacher=/nonexistent", "objective.epsilon=1"])
def test_print_config_refuses_what_training_would_refuse(capsys, override):
    rc, out, err = _distill_cli(capsys, "--print-config", override)
    assert rc == 1 and out == ""
    assert err.startswith("optical distill: error: ") and err.count("\n") == 1 and "Traceback" not in err


def test_bad_override_fails_before_any_model_loads(capsys, monkeypatch):
    import optical.encoders

    def no_models(*args, **kwargs):
        raise AssertionError("a model was loaded")

    monkeypatch.setattr(optical.encoders.Encoder, "__init__", no_models)
    rc, _, err = _distill_cli(capsys, "objective.geometry=whitened")
    assert rc == 1 and "objective.geometry must be one of" in err


def test_overrides_may_come_after_resume(capsys, tmp_path):
    import json

    rc, out, err = _distill_cli(capsys, "run.seed=1", "--resume", f"run.out_dir={tmp_path}", "--print-config",
                                "objective.eps=0.02")
    assert rc == 0, err
    cfg = json.loads(out)
    assert (cfg["run"]["seed"], cfg["run"]["out_dir"], cfg["objective"]["eps"]) == (1, str(tmp_path), 0.02)


def test_demo_checks_its_student_config_before_starting_anything(tmp_path, capsys, monkeypatch):
    import subprocess

    from optical.cli import main

    def nothing_starts(*args, **kwargs):
        raise AssertionError("a process was started")

    monkeypatch.setattr(subprocess, "Popen", nothing_starts)
    monkeypatch.setattr(subprocess, "call", nothing_starts)
    bad = tmp_path / "demo.toml"
    bad.write_text('[objective]\ngeometry = "whitened"\n')
    assert main(["demo", "--config", str(bad)]) == 1
    assert "objective.geometry must be one of" in capsys.readouterr().err
