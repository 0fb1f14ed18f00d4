"""The app's library layer (optical.app, optical.viz) on tiny models and data; plus
:func:`make_app_env`, the tiny world every app test (AppTest and browser) runs against."""

from __future__ import annotations

import json
import os
import random
import shutil
from pathlib import Path

import numpy as np
import pytest

from optical.app.available_systems import available_systems, find_runs
from optical.app.live_query import (
    UploadError,
    build_memory_index,
    explain_hit,
    matches_frame,
    parse_corpus,
    search,
)
from optical.app.results_view import (
    EMPTY_HINT,
    csv_frame,
    display_table,
    gap_table,
    language_means,
    learning_curves,
    load_results,
    significance_marks,
    size_curve,
    spread_table,
)
from optical.app.settings import AppSettings
from optical.app.transport_view import AlignOptions, align, fit_center, fit_geometry, plan_links
from optical.results import ResultsStore
from optical.retrieval import Retriever
from optical.systems import load_encoder_cached

# ------------------------------------------------------------------ the tiny world

LANGUAGES = {"sw": "low", "tl": "low", "de": "high"}


def _store_rows(run_dir: Path) -> list[dict]:
    """Synthetic bench rows: zero-shot and tiny-optical on three languages (test + dev), and
    two bitext sizes of another system (for the size curve)."""
    rng = random.Random(0)
    rows = []
    systems = {"zero-shot": 0.0, "tiny-optical": 0.25}
    for split in ("test", "dev"):
        for system, boost in systems.items():
            for lang, level in LANGUAGES.items():
                gain = boost if lang != "de" else -0.05
                per_query = {}
                for measure in ("R(rel=2)@1", "RR(rel=2)@10", "AP", "nDCG@10"):
                    per_query[measure] = {
                        f"q{i}": min(1.0, max(0.0, rng.random() * 0.6 + 0.2 + gain))
                        for i in range(40)
                    }
                metrics = {m: float(np.mean(list(v.values()))) for m, v in per_query.items()}
                trained = system != "zero-shot"
                rows.append(
                    {
                        "key": f"{system}-{lang}-{split}",
                        "system": system,
                        "kind": "trained" if trained else "zero-shot",
                        "dataset": f"bible:{lang}",
                        "language": lang,
                        "resource": level,
                        "split": split,
                        "metrics": metrics,
                        "per_query": per_query,
                        "run_dir": str(run_dir) if trained else None,
                        "config": {"objective": {"name": "optical"}, "data": {"max_pairs": None}}
                        if trained
                        else None,
                    }
                )
    for pairs, value in ((100, 0.4), (1000, 0.6)):
        rows.append(
            {
                "key": f"size-{pairs}",
                "system": f"optical-{pairs}",
                "kind": "trained",
                "dataset": "bible:sw",
                "language": "sw",
                "resource": "low",
                "split": "test",
                "metrics": {"R(rel=2)@1": value},
                "per_query": {},
                "run_dir": None,
                "config": {"objective": {"name": "optical"}, "data": {"max_pairs": pairs}},
            }
        )
    return rows


def make_app_env(base: Path, model_dir: Path) -> dict[str, str]:
    """Build (once per ``base``) a tiny bitext, BEIR corpus, trained run and results store;
    return the environment variables that point the app at them."""
    base.mkdir(parents=True, exist_ok=True)
    done = base / "ready.json"
    if not done.is_file():
        from optical.train.config import DistillConfig, apply_overrides
        from optical.train.loop import distill
        from tests.train_fixtures import tiny_overrides, write_tiny_beir, write_tiny_bitext

        for child in ("runs", "broken"):
            shutil.rmtree(base / child, ignore_errors=True)
        bitext = write_tiny_bitext(base / "bitext.tsv")
        beir = write_tiny_beir(base / "beir")
        run = base / "runs" / "tiny-run"
        cfg = apply_overrides(
            DistillConfig(),
            tiny_overrides(
                model_dir,
                bitext,
                run,
                **{"data.dev": str(beir), "run.eval_every": 2, "run.name": "tiny-optical"},
            ),
        )
        old = os.environ.get("OPTICAL_HOME")
        os.environ["OPTICAL_HOME"] = str(base / "home")  # the teacher cache of this one run
        try:
            distill(cfg)
        finally:
            if old is None:
                os.environ.pop("OPTICAL_HOME", None)
            else:
                os.environ["OPTICAL_HOME"] = old
        # a finished run whose checkpoint was deleted
        broken = base / "broken" / "gone-run"
        broken.mkdir(parents=True)
        summary = json.loads((run / "summary.json").read_text())
        summary.update(system="gone-run", student=str(broken / "best"))
        (broken / "summary.json").write_text(json.dumps(summary))
        ResultsStore(base / "results.jsonl").extend(_store_rows(run))
        # a corrupt store: a broken line in the middle
        lines = (base / "results.jsonl").read_text().splitlines()
        (base / "corrupt.jsonl").write_text("\n".join([lines[0], "{not json", *lines[1:]]) + "\n")
        done.write_text(json.dumps({"bitext": str(bitext), "beir": str(beir), "run": str(run)}))
    info = json.loads(done.read_text())
    return {
        "OPTICAL_RUNS": str(base / "runs"),
        "OPTICAL_RESULTS": str(base / "results.jsonl"),
        "OPTICAL_APP_MODEL": str(model_dir),
        "OPTICAL_APP_BITEXT": info["bitext"],
        "OPTICAL_APP_CORPUS": info["beir"],
        "OPTICAL_APP_DEVICE": "cpu",
    }


@pytest.fixture(scope="module")
def app_env(tmp_path_factory, tiny_model_dir) -> dict[str, str]:
    return make_app_env(tmp_path_factory.getbasetemp() / "app_env", tiny_model_dir)


@pytest.fixture
def settings(app_env, monkeypatch) -> AppSettings:
    for key, value in app_env.items():
        monkeypatch.setenv(key, value)
    return AppSettings.from_env()


# ------------------------------------------------------------------------ settings
def test_settings_from_env(monkeypatch, tmp_path):
    for var in (
        "OPTICAL_RUNS",
        "OPTICAL_APP_MODEL",
        "OPTICAL_APP_MAX_UPLOAD_MB",
        "OPTICAL_RESULTS",
    ):
        monkeypatch.delenv(var, raising=False)
    s = AppSettings.from_env()
    assert s.runs == (Path("runs"),) and s.zero_shot_model == "bundled:multilingual-e5-small"
    assert s.corpus == "bible:sw" and s.results == Path("runs/results.jsonl")
    monkeypatch.setenv("OPTICAL_RUNS", f"{tmp_path}/a{os.pathsep}{tmp_path}/b")
    monkeypatch.setenv("OPTICAL_APP_MAX_UPLOAD_MB", "0.5")
    s = AppSettings.from_env()
    assert s.runs == (tmp_path / "a", tmp_path / "b") and s.max_upload_bytes == 512 * 1024
    monkeypatch.setenv("OPTICAL_APP_MAX_UPLOAD_MB", "lots")
    with pytest.raises(ValueError, match="OPTICAL_APP_MAX_UPLOAD_MB"):
        AppSettings.from_env()


# ------------------------------------------------------------------------- systems
def test_systems_zero_shot_finished_runs_and_missing_checkpoint(settings, app_env):
    systems = available_systems(settings)
    assert [s.label for s in systems] == ["zero-shot", "tiny-optical"]
    zs, run = systems
    assert zs.student == zs.teacher == app_env["OPTICAL_APP_MODEL"] and not zs.trained
    assert run.trained and run.problem is None and run.teacher == app_env["OPTICAL_APP_MODEL"]
    assert Path(run.student).parent == Path(run.run_dir) and run.info["steps"] == 6
    broken = Path(app_env["OPTICAL_RUNS"]).parent / "broken"
    both = AppSettings(
        settings.results, (Path(app_env["OPTICAL_RUNS"]), broken), settings.zero_shot_model
    )
    found = {s.label: s for s in available_systems(both)}
    assert set(found) == {"zero-shot", "tiny-optical", "gone-run"}
    assert "checkpoint" in found["gone-run"].problem and "missing" in found["gone-run"].problem
    assert [r.finished for r in find_runs([broken.parent])] == [True, True]


# ----------------------------------------------------------------------- alignment
@pytest.fixture(scope="module")
def tiny_encoder(tiny_model_dir):
    return load_encoder_cached(str(tiny_model_dir), "cpu")


@pytest.fixture(scope="module")
def e5_style(tiny_model_dir):
    """The tiny model with e5's instruction prefixes (``query: `` / ``passage: ``)."""
    from optical.encoders import Encoder

    return Encoder(str(tiny_model_dir), query_prefix="query: ", doc_prefix="passage: ").eval()


def test_align_controls_change_the_plan(e5_style):
    src, tgt = "mungu aliupenda ulimwengu sana", "god loved the world so much"
    base = align(e5_style, e5_style, src, tgt, AlignOptions(geometry="raw"))
    n, m = len(base.src_tokens), len(base.tgt_tokens)
    assert base.plan.shape == base.cost.shape == (n, m) and n >= 4 and m >= 6
    assert base.plan.sum() == pytest.approx(1.0, abs=1e-4) and base.mass == pytest.approx(
        1.0, abs=1e-4
    )
    assert base.plan.sum(1) == pytest.approx(np.full(n, 1 / n), abs=1e-3)  # balanced: uniform rows
    assert base.ot_cost == pytest.approx(float((base.plan * base.cost).sum()), rel=1e-4)
    assert set(base.src_kinds) == {"content"} and "▁query" not in base.src_tokens
    sharp = align(e5_style, e5_style, src, tgt, AlignOptions(geometry="raw", eps=0.005))
    smooth = align(e5_style, e5_style, src, tgt, AlignOptions(geometry="raw", eps=1.0))
    assert np.abs(sharp.plan - smooth.plan).max() > 1e-3
    assert sharp.plan.max() > smooth.plan.max()  # smaller eps = sharper plan
    loose = align(e5_style, e5_style, src, tgt, AlignOptions(geometry="raw", reg_m=0.05))
    assert loose.mass < 0.999  # unbalanced: mass is destroyed where transport is expensive
    extra = align(
        e5_style,
        e5_style,
        src,
        tgt,
        AlignOptions(geometry="raw", special_tokens=True, prefix_tokens=True),
    )
    assert len(extra.src_tokens) > n and {"special", "prefix", "content"} == set(extra.src_kinds)
    assert extra.src_tokens[:3] == ["<s>", "▁query", ":"] and extra.src_tokens[-1] == "</s>"
    geo = fit_center(e5_style, [tgt, "the light and the water"])
    centred = align(e5_style, e5_style, src, tgt, AlignOptions(geometry="center"), geo)
    assert not np.allclose(centred.cost, base.cost) and centred.notes == []
    own = align(e5_style, e5_style, src, tgt, AlignOptions(geometry="center"))
    assert any("own mean" in note for note in own.notes)
    wgeo = fit_geometry(e5_style, [tgt, "the light and the water"], "whiten")
    whitened = align(e5_style, e5_style, src, tgt, AlignOptions(geometry="whiten"), wgeo)
    assert not np.allclose(whitened.cost, centred.cost)
    assert np.allclose(whitened.plan.sum(), 1.0) and np.isfinite(whitened.cost).all()
    with pytest.raises(ValueError, match="geometry must be one of"):
        AlignOptions(geometry="zca")


def test_align_bad_input_and_long_sentences(e5_style):
    with pytest.raises(ValueError, match="source sentence is empty"):
        align(e5_style, e5_style, "   ", "god")
    with pytest.raises(ValueError, match="target sentence is empty"):
        align(e5_style, e5_style, "mungu", "")
    with pytest.raises(ValueError, match="eps"):
        AlignOptions(eps=0)
    long = align(
        e5_style, e5_style, " ".join(["mungu aliupenda ulimwengu"] * 200), "god 😀 مرحبا עולם"
    )
    assert long.truncated == (True, False) and any("cut to" in note for note in long.notes)
    assert len(long.src_tokens) == e5_style.max_length - 4  # <s>, ▁query, :, </s> do not take part
    assert np.isfinite(long.plan).all() and np.isfinite(long.ot_cost)


def test_plan_links_rules():
    plan = np.array([[0.4, 0.1, 0.0], [0.05, 0.05, 0.4]])
    assert plan_links(plan, "argmax") == [(0, 0, pytest.approx(0.8)), (1, 2, pytest.approx(0.8))]
    assert [(i, j) for i, j, _ in plan_links(plan, "threshold", 0.15)] == [(0, 0), (0, 1)] + [
        (1, 2)
    ]
    plan2 = np.array([[0.3, 0.2], [0.4, 0.1]])  # both rows prefer column 0; row 1 wins it
    assert [(i, j) for i, j, _ in plan_links(plan2, "mutual")] == [(1, 0)]
    with pytest.raises(ValueError):
        plan_links(plan, "best")


# -------------------------------------------------------------------------- search
def test_parse_corpus_formats_and_bad_files():
    jsonl = b'{"_id": "a", "title": "T", "text": "god loved"}\n\n{"id": 7, "text": "water"}\n{"text": "  "}\n'
    c = parse_corpus("docs.jsonl", jsonl)
    assert (
        c.docs == {"a": "T\ngod loved", "7": "water"} and c.skipped == 1 and len(c.checksum) == 16
    )
    tsv = "\ufeffid\ttext\nx1\tlight\nx2\tmaji\n".encode()
    assert parse_corpus("c.tsv", tsv).docs == {"x1": "light", "x2": "maji"}
    assert parse_corpus("lines.txt", "one\ntwo 😀\n".encode()).docs == {"1": "one", "2": "two 😀"}
    cases = [
        ("bad.jsonl", b'{"text": "ok"}\n{broken\n', "line 2: not valid JSON"),
        ("bad.jsonl", b'["a list"]\n', "expected a JSON object"),
        ("bad.jsonl", b'{"body_text": "x"}\n', 'no "text"'),
        ("latin1.tsv", "caf\xe9\tx".encode("latin-1"), "not UTF-8"),
        ("bin.tsv", b"a\x00b\tc", "binary"),
        ("empty.tsv", b"\n \n", "no document"),
        ("dup.tsv", b"a\tx\na\ty\n", "appears twice"),
        ("wide.tsv", b"a\tb\tc\n", "3 tab-separated fields"),
        ("big.tsv", b"x" * 2000, "the limit is"),
    ]
    for name, data, message in cases:
        with pytest.raises(UploadError, match=message):
            parse_corpus(name, data, max_bytes=1000)
    with pytest.raises(UploadError, match="3 documents; the limit is 2"):
        parse_corpus("many.tsv", b"a\nb\nc\n", max_docs=2)


def test_memory_index_search_and_explain(tiny_encoder):
    docs = {
        f"d{i}": t
        for i, t in enumerate(
            [
                "god loved the world",
                "water and light",
                "mungu na maji",
                "heaven earth",
                "so much love",
            ]
        )
    }
    seen = []
    index = build_memory_index(tiny_encoder, docs, progress=lambda f, msg: seen.append(f), chunk=2)
    assert seen == pytest.approx([0.4, 0.8, 1.0]) and len(index) == 5 and index.tokens is not None
    retriever = Retriever(tiny_encoder, tiny_encoder, index)
    for mode in ("pooled", "maxsim", "ot"):
        out = search(retriever, "god loved the world", k=3, mode=mode)
        assert len(out.result.hits) == 3 and out.notes == []
        assert [h.rank for h in out.result.hits] == [1, 2, 3] and out.result.hits[
            0
        ].text in docs.values()
    assert search(retriever, "god", k=99).result.hits[-1].rank == 5  # k capped at the corpus size
    long = search(retriever, "maji " * 2000, max_chars=100)
    assert "10,000 characters" in long.notes[0] and long.result.hits
    assert search(retriever, "😀 مرحبا עולם").result.hits
    for empty in ("", "   \n\t", None):
        with pytest.raises(ValueError, match="empty query"):
            search(retriever, empty)
    ex = explain_hit(retriever, "god loved", "d0")
    table = matches_frame(ex)
    assert list(table["query token"]) == ex.query_tokens and table["cosine"].between(-1, 1).all()
    assert table["OT mass share"].between(0, 1).all()


# ------------------------------------------------------------------------- results
def test_results_tables_marks_gap_and_curves(settings, app_env):
    data = load_results(settings.results)
    assert data.splits() == ["test", "dev"] and data.families() == ["bible"]
    assert data.systems()[0] == "zero-shot"
    means = language_means(data, "test", "bible", systems=["zero-shot", "tiny-optical"])
    assert set(means["language"]) == set(LANGUAGES) and (means["n_runs"] == 1).all()
    marks = significance_marks(data, "test", "bible", systems=["zero-shot", "tiny-optical"])
    sw = marks[(marks["language"] == "sw") & (marks["measure"] == "AP")].iloc[0]
    assert sw["mark"] == " †" and sw["delta"] > 0.15
    table = display_table(means, marks, "AP")
    assert list(table.columns) == ["sw", "tl", "de", "avg"] and list(table.index) == [
        "zero-shot",
        "tiny-optical",
    ]
    assert table.loc["tiny-optical", "sw"].endswith("†") and "†" not in table.loc["zero-shot", "sw"]
    csv = csv_frame(means, marks, "test", "bible")
    assert {"benchmark", "split", "system", "language", "label", "value", "p_adjusted"} <= set(
        csv.columns
    )
    gap, note = gap_table(data, "test", "bible", systems=["zero-shot", "tiny-optical"])
    assert list(gap.columns) == ["R@1 (rel=2)", "MRR@10 (rel=2)", "MAP", "nDCG@10"] and "low: sw, tl" in note
    assert (
        gap.loc["tiny-optical", "MAP"] < gap.loc["zero-shot", "MAP"]
    )  # the student narrows the gap
    no_gap, why = gap_table(data, "test", "bible", systems=["optical-100"])
    assert no_gap is None and "no results" in why
    spread = spread_table(data, "test", "bible", "AP")
    assert list(spread.columns) == ["mean", "std", "min", "max", "languages"]
    assert (spread["languages"] == 3).all()
    size = size_curve(data, "test", "bible", "R(rel=2)@1")
    assert list(size["pairs"]) == [64.0, 100.0, 1000.0]  # tiny-optical saw 64 pairs (its summary)
    assert list(size["value"])[1:] == [0.4, 0.6]
    curves = learning_curves(find_runs(settings.runs))
    assert set(curves["metric"]) == {"loss", "dev_rr10", "dev_r1"} and curves["step"].max() == 6
    empty = load_results(Path(app_env["OPTICAL_RUNS"]) / "absent.jsonl")
    assert empty.empty and EMPTY_HINT == "optical bench --systems zero-shot"


# ---------------------------------------------------------------------------- viz
def test_figures_have_token_axes_caps_and_no_streamlit():
    import sys

    from optical.viz import alignment_links, cost_heatmap, language_bars, plan_heatmap

    src = [f"▁w{i}" for i in range(300)] + ["<s>"]
    tgt = ["▁god", "▁god", "<s>"]
    plan = np.full((301, 3), 1 / 903)
    fig = plan_heatmap(plan, src, tgt, cost=np.ones((301, 3)))
    assert list(fig.layout.xaxis.ticktext) == ["▁god", "▁god", "&lt;s&gt;"]  # duplicates kept apart
    assert len(fig.layout.yaxis.ticktext) == 120 and "first 120 of 301" in fig.layout.title.text
    assert "mass" in fig.data[0].hovertemplate and "cost" in fig.data[0].hovertemplate
    assert fig.layout.height > 1000  # rows keep a readable height: the page scrolls
    assert cost_heatmap(np.zeros((1, 3)), ["a"], tgt).data[0].zmin == 0.0
    links = alignment_links(["a", "b"], ["x", "y", "z"], [(0, 2, 0.9), (1, 0, 0.1)])
    texts = [list(t.text) for t in links.data if t.mode == "markers+text"]
    assert texts == [["a", "b"], ["x", "y", "z"]]
    assert any(t.hovertext and "a → z: 90%" in t.hovertext[0] for t in links.data if t.hovertext)
    with pytest.raises(ValueError, match="row and"):
        plan_heatmap(plan, src[:5], tgt)
    import pandas as pd

    means = pd.DataFrame(
        {
            "system": ["a", "b"],
            "language": ["sw", "sw"],
            "measure": ["AP", "AP"],
            "label": ["MAP", "MAP"],
            "value": [0.5, 0.7],
        }
    )
    marks = pd.DataFrame({"measure": ["AP"], "language": ["sw"], "system": ["b"], "mark": [" †"]})
    bars = language_bars(means, "AP", marks)
    assert [t.name for t in bars.data] == ["a", "b"] and bars.data[1].text[0] == "0.70 †"
    assert not any(
        name == "streamlit" or name.startswith("streamlit.") for name in _imports_of("optical.viz")
    )
    assert "optical.viz" in sys.modules


def _imports_of(package: str) -> set[str]:
    """Modules imported by the source files of ``package`` (static, from the AST)."""
    import ast
    import importlib

    root = Path(importlib.import_module(package).__file__).parent
    names: set[str] = set()
    for file in root.glob("*.py"):
        for node in ast.walk(ast.parse(file.read_text())):
            if isinstance(node, ast.Import):
                names |= {a.name for a in node.names}
            elif isinstance(node, ast.ImportFrom) and node.module:
                names.add(node.module)
    return names
