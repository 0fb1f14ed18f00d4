"""Retired settings and the recipe's defaults (issue 12).

``objective.hard_negatives`` was never read and is gone; configs written by older code
(a run folder's ``config.json``, a checkpoint, an old TOML file or command line) still load
when they carry its old default, and are refused with a message naming it otherwise.
The geometry defaults to the recipe's ``whiten`` everywhere, while the committed sweeps
that produced the README's numbers keep ``center`` explicitly."""

from __future__ import annotations

import inspect
import json
from pathlib import Path

import pytest

from optical.train import config as config_mod
from optical.train.config import DistillConfig, apply_overrides, load_config
from optical.train.config_values import Text

ROOT = Path(__file__).resolve().parents[1]
SPECS = ROOT / "configs" / "sweeps"


def _old_config_json(**objective) -> dict:
    """A config.json as the code before issue 12 wrote it (every field, hard_negatives too)."""
    data = DistillConfig().to_dict()
    data["objective"].update({"geometry": "center", "hard_negatives": 0} | objective)
    return json.loads(json.dumps(data))


def _cli(capsys, *args: str) -> tuple[int, str, str]:
    from optical.cli import main

    rc = main(["distill", *args])
    out = capsys.readouterr()
    return rc, out.out, out.err


# ------------------------------------------------------------------- the migration
def test_the_retired_key_is_gone_from_the_config():
    retired, settings = config_mod.RETIRED_SETTINGS, config_mod.SETTINGS
    assert "objective.hard_negatives" in retired and "objective.hard_negatives" not in settings
    assert "hard_negatives" not in DistillConfig().to_dict()["objective"]
    assert not set(retired) & set(settings)


def test_an_old_config_json_with_the_old_default_loads():
    old = _old_config_json()
    cfg = DistillConfig.from_dict(old)
    expected = dict(old)
    expected["objective"] = {k: v for k, v in old["objective"].items() if k != "hard_negatives"}
    assert cfg.to_dict() == expected  # every other stored setting kept, the old geometry included
    assert cfg.objective.geometry == "center"
    dotted = DistillConfig.from_dict({"objective.hard_negatives": 0, "objective.eps": 0.1})
    assert dotted.objective.eps == 0.1


@pytest.mark.parametrize("value", [3, 1, -1, "3", 0.5, True])
def test_a_non_default_value_is_refused_naming_the_key(value):
    with pytest.raises(ValueError, match=r"objective\.hard_negatives = .*removed.*no effect"):
        DistillConfig.from_dict(_old_config_json(hard_negatives=value))


def test_command_line_text_is_migrated_too(capsys):
    assert apply_overrides(DistillConfig(), ["objective.hard_negatives=0"]) == DistillConfig()
    with pytest.raises(ValueError, match="objective.hard_negatives"):
        apply_overrides(DistillConfig(), ["objective.hard_negatives=2"])
    assert config_mod.migrate_settings({"objective.hard_negatives": Text(" 0 "), "optim.lr": 1.0}) == {"optim.lr": 1.0}
    rc, out, err = _cli(capsys, "--print-config", "objective.hard_negatives=0", "objective.eps=0.02")
    assert rc == 0, err
    printed = json.loads(out)
    assert "hard_negatives" not in printed["objective"] and printed["objective"]["eps"] == 0.02
    rc, out, err = _cli(capsys, "--print-config", "objective.hard_negatives=5")
    assert rc == 1 and "objective.hard_negatives" in err and "no effect" in err and err.count("\n") == 1


@pytest.mark.parametrize(("retired", "error"), [
    ("hard_negatives = 0", None),
    ("hard_negatives = 4", r"{toml}: objective\.hard_negatives = 4: .*no effect"),
    ("hard_negative = 0", r"unknown setting 'objective.hard_negative'"),  # other keys: as before
])
def test_an_old_toml_file_is_migrated_and_its_errors_name_the_file(tmp_path, capsys, retired, error):
    toml = tmp_path / "old.toml"
    toml.write_text(f'[objective]\nname = "cross_entropy"\n{retired}\n')
    rc, out, err = _cli(capsys, "--config", str(toml), "--print-config")
    if error is None:
        assert load_config(toml).objective.name == "cross_entropy"
        assert rc == 0 and "hard_negatives" not in out
    else:
        assert rc == 1 and retired.split()[0] in err
        with pytest.raises(ValueError, match=error.format(toml=toml)):
            load_config(toml)


def test_a_run_folder_written_by_older_code_resumes_and_loads(tmp_path, tiny_model_dir, capsys):
    from optical.run_folder import read_config, read_summary
    from optical.systems import parse_system
    from optical.train.checkpoint import find_checkpoint
    from optical.train.loop import distill
    from tests.train_fixtures import tiny_overrides, write_tiny_bitext

    bitext = write_tiny_bitext(tmp_path / "bitext.tsv")
    run = tmp_path / "run"
    args = tiny_overrides(tiny_model_dir, bitext, run, **{"optim.max_steps": 2})
    distill(load_config(None, args))

    def age(path: Path, key: str | None = None) -> None:  # what the older code stored
        data = json.loads(path.read_text())
        inner = data[key] if key else data
        inner["objective"]["hard_negatives"] = 0
        path.write_text(json.dumps(data))

    age(run / "config.json")
    age(run / "summary.json", "config")
    age(find_checkpoint(run) / "state.json", "config")
    # systems and readers of the run
    assert parse_system(str(run)).kind == "trained"
    assert read_summary(run).config["objective"]["hard_negatives"] == 0
    stored = DistillConfig.from_dict(read_config(run))
    assert stored == load_config(None, args)
    # resume (the checkpoint's stored config carries the retired key)
    longer = load_config(None, tiny_overrides(tiny_model_dir, bitext, run, **{"optim.max_steps": 3}))
    assert distill(longer, resume=True)["steps"] == 3
    assert "hard_negatives" not in json.loads((run / "config.json").read_text())["objective"]


# ---------------------------------------------------------------- default geometry
def test_the_default_geometry_is_the_recipe_s():
    from optical.app.transport_view import AlignOptions, fit_geometry

    assert config_mod.DEFAULT_GEOMETRY == "whiten"
    assert DistillConfig().objective.geometry == "whiten"
    assert load_config(None).objective.geometry == "whiten"
    assert AlignOptions().geometry == "whiten"
    assert inspect.signature(fit_geometry).parameters["kind"].default == "whiten"
    for name in ("optical_sw.toml", "demo_optical_sw.toml"):  # the shipped recipe
        assert load_config(ROOT / "configs" / name).objective.geometry == "whiten"


def test_committed_sweeps_keep_the_geometry_their_numbers_were_made_with():
    from optical.sweeps.runner import load_spec, plan

    explicit = {("tune_dev", "optical-whiten"): "whiten", ("tune_dev", "optical-raw"): "raw"}
    pinned = {"bible_main": "whiten"}  # issue 13's main comparison: the recipe, for every run
    seen = set()
    for path in sorted(SPECS.glob("*.toml")):
        spec = load_spec(path)
        base = pinned.get(path.stem, "center")
        assert spec.base.get("objective.geometry") == base, path.name  # pinned, not defaulted
        for run in plan(spec):
            seen.add(path.stem)
            want = explicit.get((path.stem, run.variant), base)
            assert run.config.objective.geometry == want, (path.name, run.system)
    assert {"rq1_ot_vs_ce", "rq2_alignment", "rq3_domain_shift", "rq4_variance", "rq5_scaling",
            "tune_dev", "bible_main"} <= seen


def test_the_notebooks_inherit_the_pinned_geometry():
    from optical.sweeps.questions import experiment_spec
    from optical.sweeps.runner import plan

    for name in ("rq1_ot_vs_ce", "rq2_alignment", "rq3_domain_shift", "rq4_variance", "rq5_scaling"):
        spec = experiment_spec(SPECS / f"{name}.toml", base={"optim.max_steps": 2},
                               variants=[{"name": "optical", "objective.name": "optical"}])
        assert {r.config.objective.geometry for r in plan(spec)} == {"center"}, name


def test_the_alignment_explorer_starts_on_the_default_geometry(tmp_path_factory, tiny_model_dir, monkeypatch):
    from streamlit.testing.v1 import AppTest

    from tests.test_app_service import make_app_env

    for key, value in make_app_env(tmp_path_factory.getbasetemp() / "app_env", tiny_model_dir).items():
        monkeypatch.setenv(key, value)
    at = AppTest.from_file(str(ROOT / "app.py"), default_timeout=120)
    at.run()
    at.switch_page("app_pages/alignment.py")
    at.run()
    assert not at.exception, [e.value for e in at.exception]
    radio = at.radio(key="geometry")
    assert radio.value == "whiten" and list(radio.options) == ["center", "whiten", "raw"]
