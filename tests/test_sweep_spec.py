"""Sweep specs are checked whole before any run starts (issue 11, sections 2-4); their settings
are spelled and typed as in `optical distill` and reach the configs with no round trip."""

from __future__ import annotations

from pathlib import Path

import pytest

from optical.sweeps.runner import load_spec, plan

ROOT = Path(__file__).resolve().parents[1]

SPEC = """
[sweep]
name = "unit"
runs_dir = "{runs}"
eval = ["bible:sw"]
{sweep}

[base]
"data.max_pairs" = 32
{base}

[grid]
"run.seed" = [0, 1]
{grid}

[[variants]]
name = "optical"
{variant}
"""


def _spec(tmp_path, sweep="", base="", grid="", variant="", extra="") -> Path:
    path = tmp_path / "sweep.toml"
    path.write_text(SPEC.format(runs=tmp_path / "runs", sweep=sweep, base=base, grid=grid, variant=variant)
                    + extra)
    return path


def test_a_valid_spec_plans_typed_configs(tmp_path):
    runs = plan(load_spec(_spec(tmp_path, base='"model.student" = "2024"\n"optim.lr" = 1')))
    assert [r.run_dir.name for r in runs] == ["optical-sw-s0", "optical-sw-s1"]
    cfg = runs[0].config
    # typed values go straight through: "2024" stays a string (was the int 2024), 1 becomes 1.0
    assert cfg.model.student == "2024" and cfg.optim.lr == 1.0 and cfg.data.max_pairs == 32


def test_nested_tables_spell_settings_as_distill_configs_do(tmp_path):
    dotted = plan(load_spec(_spec(tmp_path, base='"optim.lr" = 1e-5\n"objective.eps" = 0.1')))
    nested = plan(load_spec(_spec(tmp_path, extra="[base.optim]\nlr = 1e-5\n[base.objective]\neps = 0.1\n")))
    assert [r.config for r in dotted] == [r.config for r in nested]
    assert nested[0].config.objective.eps == 0.1


@pytest.mark.parametrize("where, text, message", [
    ("sweep", 'eval_spilt = "dev"', r"\[sweep\] unknown key 'eval_spilt'; did you mean eval_split\?"),
    ("extra", '[bse]\n"optim.lr" = 1e-5\n', r"unknown section \[bse\]; did you mean \[base\]\?"),
    ("base", '"objective.epsilon" = 0.1', r"\[base\]: unknown setting 'objective.epsilon'; did you mean objective.eps"),
    ("grid", '"data.train" = "bible:sw"', r"\[grid\] 'data.train' must be a list of values.*got 'bible:sw'"),
    ("grid", '"optim.max_steps" = 5', r"\[grid\] 'optim.max_steps' must be a list of values, e.g. \[0, 1\], got 5"),
    ("grid", '"optim.lr" = []', r"\[grid\] 'optim.lr' is empty: it would give 0 runs"),
    ("grid", '"optim.lr" = [1e-5, "abc"]', r"\[grid\] optim.lr: expected a number, got the string 'abc'"),
    ("variant", '"objective.geometry" = "whitened"', r"variant optical.*objective.geometry must be one of"),
    ("variant", '"optim.max_steps" = -3', r"variant optical.*optim.max_steps must be >= 1"),
    ("variant", '"optim.bogus" = 1', r"variant optical: unknown setting 'optim.bogus'"),
    ("variant", '"run.seed" = 3', r"variant optical sets run.seed, which is also a grid axis"),
    ("variant", '"run.out_dir" = "x"', r"run.out_dir is set by the sweep"),
    ("base", '"data.extra_train" = "bible:de"', r"data.extra_train: expected a list of strings"),
    ("base", '"model.teacher" = "/nonexistent"', r"model.teacher: no such file or folder: /nonexistent"),
    ("extra", '[[variants]]\nname = "optical"\n', r"variant name 'optical' is used twice"),
])
def test_bad_specs_are_refused_before_any_run(tmp_path, where, text, message):
    path = _spec(tmp_path, **{where: text})
    with pytest.raises((ValueError, FileNotFoundError), match=message):
        plan(load_spec(path))


@pytest.mark.parametrize("line, message", [
    ('eval = "bible:sw"', r"\[sweep\] eval: expected a list of strings.*got the string 'bible:sw'"),
    ("eval = []", r"\[sweep\] eval is empty"),
    ('zero_shot = "zero-shot"', r"\[sweep\] zero_shot: expected a list of strings"),
    ('eval_split = "tset"', r"\[sweep\] eval_split must be one of test, dev, train"),
    ('mode = "exact"', r"\[sweep\] mode must be one of pooled, maxsim, ot"),
    ("name = 3", r"\[sweep\] name: expected a string, got 3"),
    ('eval = ["bible:xx"]', r"\[sweep\] eval: 'bible:xx': unknown language code"),
    ('eval = ["/nonexistent/beir"]', r"\[sweep\] eval: /nonexistent/beir: no such dataset folder"),
])
def test_sweep_keys_are_typed(tmp_path, line, message):
    path = tmp_path / "s.toml"
    path.write_text(f'[sweep]\nruns_dir = "{tmp_path}"\n{line}\n' + ("" if line.startswith("eval ") else
                                                                    'eval = ["bible:sw"]\n'))
    with pytest.raises((ValueError, FileNotFoundError), match=message):
        load_spec(path)


def test_overrides_are_typed_too(tmp_path):
    from optical.train.config_values import Text

    path = _spec(tmp_path)
    spec = load_spec(path, {"eval": Text("bible:sw,bible:tl"), "optim.lr": Text("1e-4"), "runs_dir": Text("r")})
    assert spec.eval == ["bible:sw", "bible:tl"] and spec.base["optim.lr"] == 1e-4 and spec.runs_dir == "r"
    with pytest.raises(ValueError, match=r"\[sweep\] eval: expected a list of strings"):
        load_spec(path, {"eval": "bible:sw"})
    with pytest.raises(ValueError, match=r"unknown setting 'objective.bogus'"):
        load_spec(path, {"objective.bogus": 1})


def _sweep_cli(capsys, *args: str) -> tuple[int, str, str]:
    from optical.cli import main

    rc = main(["sweep", *args])
    out = capsys.readouterr()
    return rc, out.out, out.err


def test_dry_run_refuses_what_training_would_refuse(tmp_path, capsys):
    rc, out, err = _sweep_cli(capsys, "--spec", str(_spec(tmp_path, base='"objective.geometry" = "whitened"')),
                              "--dry-run")
    assert rc == 1 and "objective.geometry must be one of" in err and err.count("\n") == 1
    rc, out, err = _sweep_cli(capsys, "--spec", str(_spec(tmp_path)), "--dry-run", "optim.max_steps=-3")
    assert rc == 1 and "optim.max_steps must be >= 1" in err


def test_dry_run_overrides_parse_as_distill_does(tmp_path, capsys):
    rc, out, err = _sweep_cli(capsys, "--spec", str(_spec(tmp_path)), "--dry-run", "eval=bible:sw",
                              "optim.lr=abc")
    assert rc == 1 and "optim.lr: expected a number, got 'abc'" in err
    rc, out, err = _sweep_cli(capsys, "--spec", str(_spec(tmp_path)), "--dry-run", "eval=bible:sw")
    assert rc == 0, err
    assert "2 training runs + 0 zero-shot systems x 1 datasets" in out  # not 8 (the characters of 'bible:sw')


def test_shipped_specs_plan():
    for path in sorted((ROOT / "configs" / "sweeps").glob("*.toml")):
        assert plan(load_spec(path)), path
