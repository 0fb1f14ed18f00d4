"""A sweep evaluates every system in every scoring mode it lists: one row per mode."""

from __future__ import annotations

import pytest

from optical.results.store import ResultsStore
from optical.sweeps.runner import check_spec, load_spec, run_sweep
from tests.train_fixtures import write_tiny_beir, write_tiny_bitext


def _spec(tmp_path, modes_line: str, model: str = "bundled:multilingual-e5-small", *,
          eval_first: tuple = (), zero_shot: str | None = None) -> str:
    """A one-run sweep spec on the tiny BEIR folder (``tmp_path / "tiny"``); ``eval_first``
    are datasets evaluated before it, ``zero_shot`` the zero-shot system (default ``model``)."""
    data = write_tiny_beir(tmp_path / "tiny")
    bitext = write_tiny_bitext(tmp_path / "bitext.tsv")
    path = tmp_path / "s.toml"
    path.write_text(f"""[sweep]
name = "m"
runs_dir = "{tmp_path / 'runs'}"
eval = [{", ".join(f'"{d}"' for d in (*eval_first, data))}]
zero_shot = ["{zero_shot or model}"]
{modes_line}

[base]
"model.teacher" = "{model}"
"data.train" = "{bitext}"
"data.max_pairs" = 16
"optim.batch_size" = 8
"optim.max_steps" = 1
"run.keep_best" = false
"run.progress" = false
""")
    return str(path)


def test_every_system_gets_a_row_per_mode(tmp_path, tiny_model_dir):
    spec = load_spec(_spec(tmp_path, 'modes = ["pooled", "maxsim"]', str(tiny_model_dir)))
    assert spec.scoring == ["pooled", "maxsim"]
    store = ResultsStore(tmp_path / "r.jsonl")
    stats = run_sweep(spec, store, progress=None)
    rows = store.rows()
    assert stats["trained"] == 1 and stats["evaluated"] == 4  # (zero-shot + the run) x 2 modes
    assert sorted((r.kind, r.mode) for r in rows) == [("model", "maxsim"), ("model", "pooled"),
                                                        ("trained", "maxsim"), ("trained", "pooled")]
    assert len({r.key for r in rows}) == 4
    assert run_sweep(spec, store, progress=None)["evaluated"] == 0  # all already stored


@pytest.mark.parametrize("line, message", [
    ('modes = ["pooled", "exact"]', "mode must be one of"),
    ('modes = ["maxsim", "maxsim"]', "lists a mode twice"),
    ('mode = "ot"\nmodes = ["pooled", "maxsim"]', "give one of them"),
])
def test_bad_modes_are_refused(tmp_path, line, message):
    path = _spec(tmp_path, line)
    with pytest.raises(ValueError, match=message):
        load_spec(path)


def test_the_default_is_one_pooled_mode(tmp_path):
    spec = load_spec(_spec(tmp_path, ""))
    assert check_spec(spec).scoring == ["pooled"]
