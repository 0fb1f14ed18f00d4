"""Every view of the Streamlit app through ``streamlit.testing.v1.AppTest`` on tiny models:
interactions change what is shown, bad input gives a message, never an exception."""

from __future__ import annotations

from pathlib import Path

import pytest
from streamlit.testing.v1 import AppTest

from tests.test_app_service import make_app_env

ROOT = Path(__file__).resolve().parents[1]
TIMEOUT = 120


@pytest.fixture(scope="module")
def app_env(tmp_path_factory, tiny_model_dir) -> dict[str, str]:
    return make_app_env(tmp_path_factory.getbasetemp() / "app_env", tiny_model_dir)


@pytest.fixture
def env(app_env, monkeypatch) -> dict[str, str]:
    for key, value in app_env.items():
        monkeypatch.setenv(key, value)
    return app_env


def open_page(page: str | None = None) -> AppTest:
    at = AppTest.from_file(str(ROOT / "app.py"), default_timeout=TIMEOUT)
    at.run()
    if page:
        at.switch_page(f"app_pages/{page}.py")
        at.run()
    assert not at.exception, [e.value for e in at.exception]
    return at


def texts(elements) -> list[str]:
    return [str(e.value) for e in elements]


def metrics(at: AppTest) -> dict[str, str]:
    return {m.label.replace("\\", ""): m.value for m in at.metric}  # labels are markdown-escaped


def first_table(at: AppTest):
    """The first table on the page, indexed by system."""
    return at.dataframe[0].value.set_index("system")


def no_exception(at: AppTest) -> None:
    assert not at.exception, [e.value for e in at.exception]


# ----------------------------------------------------------------------- alignment
def test_alignment_explorer_controls_change_the_plan(env):
    at = open_page()
    assert at.title[0].value == "Alignment explorer"
    assert (
        at.selectbox(key="left").value == "zero-shot"
        and at.selectbox(key="right").value == "tiny-optical"
    )
    assert at.selectbox(key="left").options == ["zero-shot", "tiny-optical"]
    before = metrics(at)
    cost_left, cost_right = (
        before["OT cost ⟨P, C⟩ · zero-shot"],
        before["OT cost ⟨P, C⟩ · tiny-optical"],
    )
    assert (
        float(cost_left) > 0 and float(cost_right) > 0 and cost_left != cost_right
    )  # distillation moved it
    assert len(at.get("plotly_chart")) == 6  # plan, cost, links x before/after
    at.select_slider(key="eps").set_value(0.5).run()
    no_exception(at)
    assert metrics(at)["OT cost ⟨P, C⟩ · zero-shot"] != cost_left  # a smoother plan costs more
    at.toggle(key="unbalanced").set_value(True).run()
    mass = metrics(at)["Transported mass"]
    assert mass != "1.000 | 1.000"
    at.checkbox(key="special").check().run()
    n_src, n_tgt = metrics(at)["Tokens (source × target)"].split(" × ")
    at.checkbox(key="special").uncheck().run()
    m_src, m_tgt = metrics(at)["Tokens (source × target)"].split(" × ")
    assert (int(n_src), int(n_tgt)) == (int(m_src) + 2, int(m_tgt) + 2)  # <s> and </s> take part
    at.radio(key="geometry").set_value("raw").run()
    at.radio(key="rule").set_value("threshold").run()
    at.slider(key="threshold").set_value(0.1).run()
    at.radio(key="layout").set_value("stacked").run()
    no_exception(at)
    at.number_input(key="pair").set_value(5).run()
    no_exception(at)
    assert "pair id p4" in texts(at.caption)
    at.selectbox(key="right").set_value("zero-shot").run()
    assert at.metric[0].value == at.metric[1].value and at.metric[1].delta == "+0.0000"


def test_alignment_explorer_typed_and_bad_sentences(env):
    at = open_page()
    at.radio(key="source_kind").set_value("Type your own").run()
    no_exception(at)
    assert "OT cost ⟨P, C⟩ · zero-shot" in metrics(at)
    at.text_area(key="src_text").input("   ").run()
    assert any("Type both" in w for w in texts(at.warning)) and not at.metric
    at.text_area(key="src_text").input(" ".join(["mungu aliupenda ulimwengu"] * 150)).run()
    at.text_area(key="tgt_text").input("god 😀 loved مرحبا بالعالم שלום the world").run()
    no_exception(at)
    notes = " ".join(texts(at.info))
    assert "cut to 64 tokens" in notes and "the figures show the first 120" not in notes
    assert metrics(at)["Tokens (source × target)"].startswith("62 ×")
    at.checkbox(key="special").check()
    at.text_area(key="src_text").input("mungu").run()
    no_exception(at)


def test_alignment_explorer_missing_checkpoint(env, monkeypatch):
    broken = Path(env["OPTICAL_RUNS"]).parent / "broken"
    monkeypatch.setenv("OPTICAL_RUNS", f"{env['OPTICAL_RUNS']}:{broken}")
    at = open_page()
    at.selectbox(key="right").set_value("gone-run").run()
    no_exception(at)
    assert any("checkpoint" in e and "missing" in e for e in texts(at.error))


def test_alignment_explorer_without_runs_or_bitext(env, monkeypatch, tmp_path):
    monkeypatch.setenv("OPTICAL_RUNS", str(tmp_path / "nothing"))
    monkeypatch.setenv("OPTICAL_APP_BITEXT", str(tmp_path / "absent.tsv"))
    at = open_page()
    no_exception(at)
    assert any("No trained student found" in i for i in texts(at.info))
    assert any("absent.tsv is not available" in w for w in texts(at.warning))
    assert at.code[0].value == "optical assets build"


# ------------------------------------------------------------------------- results
def test_results_view_tables_marks_and_interactions(env):
    at = open_page("results")
    assert at.title[0].value == "Per-language results"
    assert at.selectbox(key="split").value == "test"
    table = first_table(at)  # R@1
    assert list(table.index) == ["zero-shot", "tiny-optical", "optical-100", "optical-1000"]
    assert table.loc["tiny-optical", "sw"].endswith("†")
    assert len(at.get("plotly_chart")) >= 4  # bars, gap, spread, size, curves
    assert at.get("download_button")
    at.multiselect(key="systems").set_value(["zero-shot", "tiny-optical"]).run()
    no_exception(at)
    assert list(first_table(at).index) == ["zero-shot", "tiny-optical"]
    at.selectbox(key="baseline").set_value("tiny-optical").run()
    no_exception(at)
    flipped = first_table(at)
    assert flipped.loc["zero-shot", "sw"].endswith("‡") and not flipped.loc[
        "tiny-optical", "sw"
    ].endswith("†")
    at.selectbox(key="split").set_value("dev").run()
    no_exception(at)
    assert first_table(at).loc["zero-shot", "sw"] != table.loc["zero-shot", "sw"]
    at.radio(key="measure").set_value("AP").run()
    no_exception(at)
    at.multiselect(key="systems").set_value([]).run()
    assert any("at least one system" in w for w in texts(at.warning))


def test_results_view_one_experiment_at_a_time(env, monkeypatch, tmp_path):
    """The same system name in two sweep groups is not averaged across them."""
    from optical.results import ResultsStore
    from tests.test_app_service import _store_rows

    rows = []
    for group, boost, langs in (("main", 0.3, ("sw", "tl", "de")), ("tune", -0.3, ("sw",))):
        for r in _store_rows(Path(env["OPTICAL_RESULTS"]).parent):
            if r["language"] in langs and r["system"] in ("zero-shot", "tiny-optical"):
                r = r | {"key": f"{group}-{r['key']}", "group": group}
                if r["system"] == "tiny-optical":
                    r["per_query"] = {
                        m: {q: min(1.0, max(0.0, v + boost)) for q, v in pq.items()}
                        for m, pq in r["per_query"].items()
                    }
                    r["metrics"] = {m: sum(pq.values()) / len(pq) for m, pq in r["per_query"].items()}
                rows.append(r)
    store = tmp_path / "groups.jsonl"
    ResultsStore(store).extend(rows)
    monkeypatch.setenv("OPTICAL_RESULTS", str(store))
    at = open_page("results")
    assert at.selectbox(key="group").value == "main"  # the larger group first
    main = first_table(at)
    assert list(main.columns[:3]) == ["sw", "tl", "de"]
    at.selectbox(key="group").set_value("tune").run()
    no_exception(at)
    tune = first_table(at)
    assert "tl" not in tune.columns
    assert float(tune.loc["tiny-optical", "sw"].split()[0]) < float(
        main.loc["tiny-optical", "sw"].split()[0]
    )
    at.selectbox(key="group").set_value("(all experiments)").run()
    no_exception(at)
    mixed = float(first_table(at).loc["tiny-optical", "sw"].split()[0])
    assert float(tune.loc["tiny-optical", "sw"].split()[0]) < mixed < float(
        main.loc["tiny-optical", "sw"].split()[0]
    )


def test_results_view_empty_and_corrupt_store(env, monkeypatch, tmp_path):
    monkeypatch.setenv("OPTICAL_RESULTS", str(tmp_path / "none.jsonl"))
    at = open_page("results")
    assert any("is empty" in i for i in texts(at.info))
    assert "optical bench --systems zero-shot" in at.code[0].value
    assert at.get("plotly_chart")  # the learning curves still show
    monkeypatch.setenv(
        "OPTICAL_RESULTS", str(Path(env["OPTICAL_RESULTS"]).parent / "corrupt.jsonl")
    )
    at = open_page("results")
    assert any("Could not read the results store" in e and "line 2" in e for e in texts(at.error))


# -------------------------------------------------------------------------- search
def test_search_view_query_hits_modes_and_systems(env):
    at = open_page("search")
    assert any("Type a query" in i for i in texts(at.info))
    at.text_input(key="query").input("god loved the world").run()
    no_exception(at)
    labels = [e.label for e in at.expander]
    assert len(labels) == 10 and labels[0].startswith("#1 · ")
    assert any("**10 hits** in" in m for m in texts(at.markdown))
    assert {"Pooled cosine", "MaxSim", "OT cost"} <= set(metrics(at))  # hit 1 is explained
    assert list(at.dataframe[0].value.columns) == [
        "query token",
        "best document token",
        "cosine",
        "OT mass share",
    ]
    at.radio(key=[r.key for r in at.radio if r.key.startswith("view-1-")][0]).set_value(
        "Transport plan"
    ).run()
    no_exception(at)
    assert at.get("plotly_chart")
    at.selectbox(key="system").set_value("zero-shot").run()
    no_exception(at)
    assert [e.label for e in at.expander] != labels  # another query encoder, other scores
    for mode in ("maxsim", "ot"):
        at.selectbox(key="mode").set_value(mode).run()
        no_exception(at)
        assert len(at.expander) == 10
    at.number_input(key="k").set_value(3).run()
    assert len(at.expander) == 3


@pytest.mark.parametrize(
    "query, message",
    [
        ("   \t ", "empty query"),
        ("maji " * 2000, "10,000 characters"),
    ],
)
def test_search_view_bad_queries_give_messages(env, query, message):
    at = open_page("search")
    at.text_input(key="query").input(query).run()
    no_exception(at)
    assert any(message in w for w in texts(at.warning))


def test_search_view_emoji_rtl_and_mixed_scripts(env):
    at = open_page("search")
    at.text_input(key="query").input("😀🙏 مرحبا بالعالم Mungu עולם 世界").run()
    no_exception(at)
    assert len(at.expander) == 10 and not at.error


def test_search_view_missing_checkpoint_and_missing_corpus(env, monkeypatch, tmp_path):
    broken = Path(env["OPTICAL_RUNS"]).parent / "broken"
    monkeypatch.setenv("OPTICAL_RUNS", f"{env['OPTICAL_RUNS']}:{broken}")
    at = open_page("search")
    at.selectbox(key="system").set_value("gone-run").run()
    no_exception(at)
    assert any("checkpoint" in e for e in texts(at.error)) and not at.expander
    monkeypatch.setenv("OPTICAL_APP_CORPUS", str(tmp_path / "no-corpus"))
    at = open_page("search")
    assert any("no such dataset" in w for w in texts(at.warning)), texts(at.warning) + texts(
        at.error
    )


def test_results_view_binary_family_shows_the_binary_measures(env, monkeypatch, tmp_path):
    """A collection benched with binary measures (R@1, RR@10) gets those as its tabs, not
    the Bible's grade-2 ones (which would read 'No values')."""
    from optical.results import ResultsStore
    from tests.test_app_service import _store_rows

    rename = {"R(rel=2)@1": "R@1", "RR(rel=2)@10": "RR@10"}
    rows = []
    for r in _store_rows(Path(env["OPTICAL_RESULTS"]).parent):
        if r["system"] in ("zero-shot", "tiny-optical") and r["split"] == "test":
            pq = {rename.get(m, m): v for m, v in r["per_query"].items()}
            rows.append(r | {"key": "cldr-" + r["key"], "dataset": f"cldr:{r['language']}",
                             "per_query": pq, "metrics": {m: sum(v.values()) / len(v) for m, v in pq.items()}})
    store = tmp_path / "binary.jsonl"
    ResultsStore(store).extend(rows)
    monkeypatch.setenv("OPTICAL_RESULTS", str(store))
    at = open_page("results")
    no_exception(at)
    assert at.radio(key="measure").options[:2] == ["R@1", "MRR@10"]
    assert not any("No " in i and "values" in i for i in texts(at.info))
    assert first_table(at).loc["zero-shot"].notna().all()
