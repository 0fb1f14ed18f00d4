"""optical.results.frames and .sweeps: tidy frames from store rows, seed statistics, specs."""

from __future__ import annotations

import json
import math
from pathlib import Path

import pandas as pd
import pytest

from optical.results import ResultsStore
from optical.results.frames import (
    dataset_family,
    grade2_judged,
    per_query_frame,
    results_frame,
    run_info,
    seed_averaged,
    seed_stats,
    t_interval,
)
from optical.sweeps.questions import (
    cross_variants,
    experiment_spec,
    experiment_systems,
    own_teacher_models,
    run_experiment,
    short_name,
    truncated_model,
    zero_shot_system,
)
from optical.sweeps.runner import load_spec, plan

REPO = Path(__file__).resolve().parents[1]
SPECS = REPO / "configs" / "sweeps"


def _row(
    system, language, values, seed=None, config=None, variant=None, group="g", dataset=None, **extra
):
    return {
        "key": f"{system}-{language}-{seed}",
        "system": system,
        "dataset": dataset or f"bible:{language}",
        "language": language,
        "split": "test",
        "group": group,
        "seed": seed,
        "variant": variant,
        "config": config,
        "metrics": {"AP": sum(values) / len(values)},
        "per_query": {"AP": {f"q{i}": v for i, v in enumerate(values)}},
        **extra,
    }


def _config(objective="optical", pairs=100, depth=None, train="bible:sw"):
    return {
        "objective": {"name": objective},
        "data": {"max_pairs": pairs, "train": train},
        "model": {"truncate_layers": depth},
    }


def test_dataset_family():
    assert dataset_family("bible:sw") == "bible"
    assert dataset_family("bitext:bible:sw") == "bitext"
    assert dataset_family("/data/beir/sw") == "collection"
    assert dataset_family("runs/x:y/sw") == "collection"  # a colon after a slash is a path


def test_run_info_reads_variants_configs_and_zero_shot_rows():
    trained = _row(
        "ce@e5-small-L6-sw",
        "sw",
        [1],
        seed=2,
        config=_config("cross_entropy", 30, 6),
        variant="ce@e5-small-L6",
    )
    assert run_info(trained) == {
        "method": "ce",
        "model": "e5-small-L6",
        "objective": "cross_entropy",
        "pairs": 30,
        "depth": 6,
        "train": "bible:sw",
        "seed": 2,
    }
    plain = _row("optical-sw", "sw", [1], seed=0, config=_config(), variant="optical")
    assert (run_info(plain)["method"], run_info(plain)["model"]) == ("optical", "")
    zero = _row("zero-shot@L3", "sw", [1], variant="zero-shot", model="L3")
    assert run_info(zero) | {} == {
        "method": "zero-shot",
        "model": "L3",
        "objective": "zero-shot",
        "pairs": None,
        "depth": None,
        "train": None,
        "seed": None,
    }
    # a bench row without sweep fields: untrained, method = zero-shot
    assert run_info({"system": "x", "config": None})["method"] == "zero-shot"


def test_results_and_per_query_frames_filter_and_flatten():
    rows = [
        _row("zero-shot", "sw", [1, 0]),
        _row("optical-sw", "sw", [1, 1], seed=0, config=_config()),
        _row("optical-sw", "de", [0, 1], seed=0, config=_config(), group="other"),
        _row("x", "sw", [1], dataset="/tmp/c/sw", task="embedding"),
    ]
    frame = results_frame(rows, group="g", task="retrieval")
    assert list(frame["system"]) == ["zero-shot", "optical-sw"] and list(frame["value"]) == [
        0.5,
        1.0,
    ]
    assert list(frame["resource"]) == ["low", "low"] and list(frame["family"]) == ["bible", "bible"]
    assert list(results_frame(rows, family="collection")["system"]) == ["x"]
    pq = per_query_frame(rows, group="other")
    assert pq[["system", "language", "qid", "value"]].values.tolist() == [
        ["optical-sw", "de", "q0", 0.0],
        ["optical-sw", "de", "q1", 1.0],
    ]
    assert per_query_frame([]).empty and results_frame([]).empty


def test_t_interval_and_seed_stats_by_hand():
    mean, low, high = t_interval([1.0, 2.0, 3.0])
    half = 4.302652729911275 * 1.0 / math.sqrt(3)  # t(0.975, df=2) * s / sqrt(n)
    assert (mean, low, high) == pytest.approx((2.0, 2.0 - half, 2.0 + half))
    assert t_interval([0.7])[0] == 0.7 and math.isnan(t_interval([0.7])[1])
    frame = pd.DataFrame({"system": ["a", "a", "b"], "value": [0.5, 0.7, 0.2]})
    stats = seed_stats(frame, ["system"]).set_index("system")
    assert stats.loc["a", "mean"] == pytest.approx(0.6) and stats.loc["a", "std"] == pytest.approx(
        0.1414214, 1e-6
    )
    assert stats.loc["a", "n"] == 2 and stats.loc["a", "ci_high"] - 0.6 == pytest.approx(
        12.7062047 * 0.1, 1e-6
    )
    assert stats.loc["b", "n"] == 1 and math.isnan(stats.loc["b", "std"])


def test_seed_averaged(tmp_path):
    store = ResultsStore(tmp_path / "r.jsonl")
    store.extend(
        [
            _row("s", "sw", [1, 0], seed=0, config=_config()),
            _row("s", "sw", [0, 0], seed=1, config=_config()),
        ]
    )
    avg = seed_averaged(per_query_frame(store))
    assert avg["value"].tolist() == [0.5, 0.0]


def test_grade2_judged():
    base = {"key": "k", "system": "s", "dataset": "bible:sw", "language": "sw", "split": "test"}
    bible = base | {"metrics": {"R(rel=2)@10": 0.8, "AP": 0.5, "R@100": 0.9}}
    cldr = base | {"metrics": {"R(rel=2)@10": 0.0, "AP": 0.4, "R@100": 0.9}}
    failed = base | {"metrics": {"R(rel=2)@10": 0.0, "AP": 0.0, "R@100": 0.0}}
    assert grade2_judged([bible]) and grade2_judged([bible, cldr]) and not grade2_judged([cldr])
    assert grade2_judged([failed])  # nothing found at all: no evidence against grade 2


def test_cross_variants_match_the_committed_specs():
    methods = {
        "optical": {"objective.name": "optical"},
        "ce": {"objective.name": "cross_entropy"},
        "infonce": {"objective.name": "infonce"},
        "mse": {"objective.name": "mse"},
    }
    # the notebooks' default models, as own_teacher_models resolves them
    models = {
        "e5-small": {},
        "e5-small-L6": {"model.teacher": "runs/models/multilingual-e5-small-L6"},
    }
    assert cross_variants(methods, models) == load_spec(SPECS / "rq1_ot_vs_ce.toml").variants
    scaling = {
        "e5-small-L3": {"model.teacher": "runs/models/multilingual-e5-small-L3"},
        "e5-small-L6": {"model.teacher": "runs/models/multilingual-e5-small-L6"},
        "e5-small": {},
    }
    assert (
        cross_variants({"optical": {"objective.name": "optical"}}, scaling)
        == load_spec(SPECS / "rq5_scaling.toml").variants
    )
    with pytest.raises(ValueError, match="both set"):
        cross_variants({"a": {"model.truncate_layers": 3}}, {"b": {"model.truncate_layers": 6}})
    with pytest.raises(ValueError, match="cannot contain '@'"):
        cross_variants({"a@b": {}}, {"m": {}})


def test_committed_specs_plan_and_experiment_spec_changes():
    counts = {
        "rq1_ot_vs_ce": 24,
        "rq2_alignment": 3,
        "rq3_domain_shift": 3,
        "rq4_variance": 6,
        "rq5_scaling": 3,
    }
    for name, n in counts.items():
        spec = load_spec(SPECS / f"{name}.toml")
        runs = plan(spec)
        assert len(runs) == n and spec.name == name.replace("_", "-")
        assert spec.runs_dir == f"runs/{spec.name}" and spec.zero_shot[0] == "zero-shot"
        assert all(r.config.run.keep_best is False for r in runs)
    ce = [r for r in plan(load_spec(SPECS / "rq3_domain_shift.toml")) if r.variant == "ce"][0]
    assert ce.config.objective.name == "cross_entropy" and ce.config.data.max_pairs == 100
    spec = experiment_spec(
        SPECS / "rq1_ot_vs_ce.toml",
        name="mine",
        runs_dir="runs/mine",
        eval=["bible:tl"],
        base={"optim.max_steps": 3},
        grid={"data.max_pairs": [10], "run.seed": [0, 1]},
        variants=[{"name": "optical@m", "objective.name": "optical"}],
        zero_shot=[],
    )
    assert (spec.name, spec.runs_dir, spec.eval, spec.zero_shot) == (
        "mine",
        "runs/mine",
        ["bible:tl"],
        [],
    )
    assert (
        spec.base["optim.max_steps"] == 3 and spec.base["optim.batch_size"] == 8
    )  # updated, not replaced
    runs = plan(spec)
    assert [r.system for r in runs] == ["optical@m-sw-max_pairs10"] * 2 and [
        r.seed for r in runs
    ] == [0, 1]
    assert (
        "data.max_pairs"
        not in experiment_spec(SPECS / "rq1_ot_vs_ce.toml", grid={"data.max_pairs": None}).grid
    )


def test_short_name():
    assert short_name("bundled:multilingual-e5-small") == "multilingual-e5-small"
    assert short_name("intfloat/multilingual-e5-base") == "multilingual-e5-base"
    assert short_name("/models/my-model/") == "my-model"


def test_truncated_model_and_zero_shot_systems(tmp_path, tiny_model_dir):
    folder = truncated_model(str(tiny_model_dir), 1, tmp_path / "models")
    assert folder.name == f"{tiny_model_dir.name}-L1"
    assert json.loads((folder / "config.json").read_text())["num_hidden_layers"] == 1
    made = json.loads((folder / "optical_asset.json").read_text())
    assert made["student_of"] == {"truncated_from": str(tiny_model_dir), "layers": 1}
    stamp = (folder / "config.json").stat().st_mtime_ns
    assert truncated_model(str(tiny_model_dir), 1, tmp_path / "models") == folder  # built once
    assert (folder / "config.json").stat().st_mtime_ns == stamp
    teacher = str(tiny_model_dir)
    base = zero_shot_system("full", {}, teacher, tmp_path / "models")
    assert (base.name, base.query_model, base.doc_model) == ("zero-shot", teacher, teacher)
    small = zero_shot_system("L1", {"model.truncate_layers": 1}, teacher, tmp_path / "models")
    assert (small.name, small.query_model, small.doc_model) == (
        "zero-shot@L1",
        str(folder),
        str(folder),
    )
    other = zero_shot_system("x", {"model.student": "some/hf-model"}, teacher)
    own = own_teacher_models(
        {
            "full": {},
            "L1": {"model.truncate_layers": 1, "objective.eps": 0.1},
            "hf": {"model.student": "a/b"},
        },
        teacher,
        tmp_path / "models",
    )
    assert own == {
        "full": {},
        "L1": {"model.teacher": str(folder), "objective.eps": 0.1},
        "hf": {"model.teacher": "a/b"},
    }
    own_zero = zero_shot_system("L1", own["L1"], teacher)
    assert (own_zero.name, own_zero.query_model) == ("zero-shot@L1", str(folder))
    assert (other.name, other.query_model) == ("zero-shot@x", "some/hf-model")


def test_run_experiment_labels_zero_shot_rows_and_lists_systems(tmp_path, tiny_model_dir):
    from tests.train_fixtures import write_tiny_beir, write_tiny_bitext

    data = write_tiny_beir(tmp_path / "sw")
    bitext = write_tiny_bitext(tmp_path / "sw.tsv")
    spec = experiment_spec(
        SPECS / "rq2_alignment.toml",
        name="unit",
        runs_dir=str(tmp_path / "runs"),
        eval=[str(data)],
        zero_shot=[str(tiny_model_dir)],
        base={
            "model.teacher": str(tiny_model_dir),
            "data.train": str(bitext),
            "data.max_pairs": 16,
            "optim.batch_size": 4,
            "optim.max_steps": 1,
            "run.progress": False,
        },
        variants=[{"name": "optical", "objective.name": "optical"}],
    )
    store = ResultsStore(tmp_path / "r.jsonl")
    base = zero_shot_system("tiny", {}, str(tiny_model_dir))
    stats = run_experiment(
        spec, store, zero_shot=[base], models={"zero-shot": "tiny"}, progress=None
    )
    rows = store.rows()
    # the spec's own zero-shot entry (the same model, named after its folder) and the named one
    assert {r.system for r in rows} == {"zero-shot", tiny_model_dir.name, "optical-sw"}
    assert stats["trained"] == 1 and stats["evaluated"] == 3
    run_dir = (
        tmp_path / "runs" / "optical-sw-s0"
    )  # finished: resume checkpoint pruned, student kept
    assert (run_dir / "summary.json").is_file() and (run_dir / "last" / "config.json").is_file()
    assert not (run_dir / "checkpoint").exists()
    assert [r.model for r in rows if r.system == "zero-shot"] == ["tiny"]
    assert all(r.group == "unit" for r in rows)
    systems = experiment_systems(spec, [base], {"zero-shot": "tiny"})
    assert [(s.name, e["variant"], e["seed"]) for s, e in systems] == [
        (tiny_model_dir.name, "zero-shot", None),
        ("zero-shot", "zero-shot", None),
        ("optical-sw", "optical", 0),
    ]
    assert (
        run_experiment(spec, store, zero_shot=[base], models={"zero-shot": "tiny"}, progress=None)[
            "evaluated"
        ]
        == 0
    )
