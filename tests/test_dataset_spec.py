"""The dataset spec type (issue 12, point 2): one parser of ``bible:sw`` / ``cldr:so`` /
``bitext:<spec>`` / paths, and every reader of a dataset string agrees with it."""

from __future__ import annotations

import dataclasses
import subprocess
import sys
from pathlib import Path

import pytest

from optical.dataset_spec import FAMILIES, DatasetSpec

SPECS = ["bible:sw", "cldr:so", "bitext:bible:sw", "bitext:/data/pairs.tsv", "/data/beir/sw",
         "runs/x:y/sw", "C:\\data\\beir", "pairs/sw.tsv", "bibel:sw"]


@pytest.mark.parametrize("text", SPECS)
def test_round_trip(text):
    spec = DatasetSpec.parse(text)
    assert str(spec) == text and f"{spec}" == text  # what a results row stores
    assert DatasetSpec.parse(str(spec)) == spec
    assert DatasetSpec.parse(spec) is spec
    assert DatasetSpec.parse(text, check=False) == spec


@pytest.mark.parametrize(
    "text, family, language, benchmark",
    [
        ("bible:sw", "bible", "sw", "bible"),
        ("cldr:so", "cldr", "so", "cldr"),
        ("bitext:bible:sw", "bitext", "sw", "bitext"),
        ("/data/beir/sw", "collection", "sw", "sw"),
        ("/data/beir/sw/", "collection", "sw", "sw"),
        ("runs/x:y/sw", "collection", "sw", "sw"),  # a colon after a slash is a path
        ("C:\\data", "collection", "C:\\data", "C:\\data"),  # a one-letter drive is a path
        ("bibel:sw", "collection", "bibel:sw", "bibel:sw"),  # an unknown family: a path
    ],
)
def test_families_and_languages(text, family, language, benchmark):
    spec = DatasetSpec.parse(text)
    assert (spec.family, spec.language, spec.benchmark) == (family, language, benchmark)
    assert spec.is_embedded == (family in FAMILIES)
    assert spec.is_bitext == (family == "bitext") and spec.is_path == (family == "collection")


def test_embedded_code_and_inner_spec():
    assert DatasetSpec.parse("bible:sw").code == "sw" and DatasetSpec.parse("/x/sw").code is None
    inner = DatasetSpec.parse("bitext:cldr:so").inner
    assert inner == DatasetSpec.parse("cldr:so") and inner.is_embedded


def test_run_tag_is_the_file_stem_and_language_the_name():
    spec = DatasetSpec.parse("pairs/sw.tsv")
    assert (spec.language, spec.run_tag) == ("sw.tsv", "sw")
    assert DatasetSpec.parse("bible:tl").run_tag == "tl"


def test_folders_and_build_commands(tmp_path, monkeypatch):
    from optical.assets.bible import bible_dir
    from optical.assets.cldr import cldr_dir

    assert DatasetSpec.parse("bible:sw").folder == bible_dir() / "sw"
    assert DatasetSpec.parse("cldr:so").folder == cldr_dir() / "so"
    assert DatasetSpec.parse("bitext:bible:de").folder == bible_dir() / "de"
    assert DatasetSpec.parse("/data/beir/sw").folder == Path("/data/beir/sw")
    monkeypatch.setenv("HOME", str(tmp_path))
    assert DatasetSpec.parse("~/beir/sw").folder == tmp_path / "beir" / "sw"
    assert DatasetSpec.parse("bible:sw").build_command == "optical assets build --languages sw"
    assert DatasetSpec.parse("cldr:so").build_command == "optical assets build --cldr-languages so"
    assert DatasetSpec.parse("bitext:bible:de").build_command == "optical assets build --languages de"
    assert DatasetSpec.parse("/data/beir/sw").build_command is None


def test_corpus_names_and_labels(tmp_path):
    (tmp_path / "beir").mkdir()
    (tmp_path / "docs.jsonl").write_text("{}\n")
    assert DatasetSpec.parse("bible:sw").corpus_name == DatasetSpec.parse("bible:de").corpus_name == "bible"
    assert DatasetSpec.parse(tmp_path / "docs.jsonl").corpus_name == "docs"
    assert DatasetSpec.parse(f"{tmp_path}/beir/.").corpus_name == "beir"  # the resolved folder
    assert DatasetSpec.parse("bible:sw").corpus_label == "English New Testament (WEB)"
    assert DatasetSpec.parse("cldr:de").corpus_label == "cldr:de corpus"
    assert DatasetSpec.parse(tmp_path / "beir").corpus_label == "beir corpus"


@pytest.mark.parametrize(
    "text, pattern",
    [
        ("", r"empty dataset spec"),
        ("bible:", r"'bible:' is not an embedded dataset \(expected one of bible:<lang>, bible-xref:<lang>, cldr:<lang>\)"),
        ("cldr:", r"'cldr:' is not an embedded dataset"),
        ("bitext:", r"'bitext:'.*bitext:<dataset spec>"),
        ("bible:xx", r"'bible:xx': unknown language code\(s\) xx; available: sw \(Swahili\)"),
        ("cldr:zz", r"'cldr:zz': unknown language code\(s\) zz"),
        ("bible:sw:nosplit", r"'bible:sw:nosplit': unknown language code\(s\) sw:nosplit"),
        ("bible:sw,tl", r"'bible:sw,tl': unknown language code\(s\) sw,tl"),
        ("bible: sw", r"'bible: sw': ' sw' is not a language code"),
        ("bitext:bible:xx", r"'bible:xx': unknown language"),
    ],
)
def test_bad_specs_raise_one_clear_value_error(text, pattern):
    with pytest.raises(ValueError, match=pattern):
        DatasetSpec.parse(text)


def test_check_false_reads_stored_rows_of_any_language():
    assert DatasetSpec.parse("bible:xx", check=False).language == "xx"
    with pytest.raises(ValueError, match="unknown language"):
        DatasetSpec.parse(DatasetSpec.parse("bible:xx", check=False))  # checked when asked
    with pytest.raises(ValueError, match="not an embedded dataset"):
        DatasetSpec.parse("bible:", check=False)  # the shape is always checked


def test_spec_is_frozen_and_hashable():
    spec = DatasetSpec.parse("bible:sw")
    with pytest.raises(dataclasses.FrozenInstanceError):
        spec.family = "cldr"  # type: ignore[misc]
    assert len({spec, DatasetSpec.parse("bible:sw"), DatasetSpec.parse("bible:tl")}) == 2


def test_importing_the_type_loads_no_heavy_module():
    code = ("import sys, optical.dataset_spec; "
            "print(sorted(m for m in ('torch', 'transformers', 'faiss', 'pandas', 'ir_measures', "
            "'optical.dataset_loading', 'optical.assets.bible') if m in sys.modules))")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "[]"


# --------------------------------------------------------------------- every reader agrees


@pytest.mark.parametrize("text", ["bible:sw", "cldr:so", "/data/beir/sw", "runs/x:y/sw", "bitext:bible:sw"])
def test_readers_agree_with_the_type(text):
    from optical.results.frames import dataset_family, per_query_frame, results_frame
    from optical.results.row import ResultRow
    from optical.systems import corpus_name

    spec = DatasetSpec.parse(text)
    row = ResultRow.from_dict({"key": "k", "system": "s", "dataset": text, "language": spec.language,
                               "split": "test", "metrics": {"AP": 0.5}, "per_query": {"AP": {"q": 0.5}}})
    assert dataset_family(text) == row.family == spec.family
    assert row.benchmark == spec.benchmark
    assert results_frame([row])[["family", "benchmark"]].iloc[0].tolist() == [spec.family, spec.benchmark]
    assert per_query_frame([row])["benchmark"].tolist() == [spec.benchmark]  # the app's benchmark column
    assert corpus_name(text) == spec.corpus_name


def test_app_family_of_a_folder_with_a_colon_is_its_name():
    from optical.results.row import ResultRow

    row = ResultRow.from_dict({"key": "k", "system": "s", "dataset": "runs/x:y/sw", "language": "sw",
                               "split": "test", "metrics": {}})
    assert row.benchmark == "sw"  # was "runs/x" (split at the first colon)


def test_system_name_of_a_training_file_under_a_folder_with_a_colon(tmp_path):
    from optical.train.config import DistillConfig

    cfg = DistillConfig()
    cfg.data.train = "runs/x:y/sw.tsv"
    assert cfg.system_name() == f"{cfg.objective.name}-sw-s{cfg.run.seed}"  # was "...-y/sw.tsv-..."
    cfg.data.train = "bible:tl"
    assert cfg.system_name() == f"{cfg.objective.name}-tl-s{cfg.run.seed}"


def test_dataset_dir_refuses_bad_specs_naming_them(tmp_path, monkeypatch):
    from optical.dataset_loading import dataset_dir, load_bitext, load_collection

    monkeypatch.chdir(tmp_path)
    with pytest.raises(ValueError, match="empty dataset spec"):
        dataset_dir("")  # was the current folder
    with pytest.raises(ValueError, match=r"^'bible:xx': unknown language code\(s\) xx"):
        dataset_dir("bible:xx")  # the message names the spec
    for load in (dataset_dir, load_collection, load_bitext):
        with pytest.raises(ValueError, match=r"bitext:bible:sw: names the bitext of bible:sw.*use bible:sw"):
            load("bitext:bible:sw")
    with pytest.raises(FileNotFoundError, match="nothere: no such dataset folder or file"):
        dataset_dir("nothere")


def test_dataset_dir_expands_the_home_folder(tmp_path, monkeypatch):
    from optical.dataset_loading import dataset_dir

    (tmp_path / "beir").mkdir()
    monkeypatch.setenv("HOME", str(tmp_path))
    assert dataset_dir("~/beir") == tmp_path / "beir"  # config checks expand ~, so must loading


def test_check_dataset_spec_refuses_a_bitext_row_name():
    from optical.train.config import check_dataset_spec

    with pytest.raises(ValueError, match=r"data.train: 'bitext:bible:sw' names results rows"):
        check_dataset_spec("data.train", "bitext:bible:sw")
    with pytest.raises(ValueError, match=r"^data.dev: 'bible:' is not an embedded dataset"):
        check_dataset_spec("data.dev", "bible:")  # one prefix, not the spec twice


def test_bench_table_filters_by_the_parsed_family(tmp_path):
    from optical.report import bench_table
    from optical.results import ResultsStore

    def row(system, dataset, language, values):
        per_query = {"R@1": {f"q{i}": float(v) for i, v in enumerate(values)}}
        return {"key": f"{system}-{dataset}", "system": system, "dataset": dataset, "language": language,
                "split": "test", "metrics": {"R@1": sum(values) / len(values)}, "per_query": per_query}

    store = ResultsStore(tmp_path / "r.jsonl")
    store.extend([row("a", str(tmp_path / "beir" / "sw"), "sw", [1, 0, 1, 1]),
                  row("a", "bible:tl", "tl", [0, 0, 0, 1])])
    table = bench_table(store.rows(), measures=["R@1"], baseline=None, dataset_family="collection")
    assert "sw" in table and "tl" not in table  # was "no results match" (no path starts "collection:")
    table = bench_table(store.rows(), measures=["R@1"], baseline=None, dataset_family="bible")
    assert "tl" in table and "sw" not in table
