"""Every table names its task and scoring mode; cross-reference tables show the gap to the
teacher ceiling (zero-shot, WEB queries, same mode). Small synthetic stores, hand-computed
numbers."""

from __future__ import annotations

import re

import pytest

from optical.cli import main
from optical.evaluation.comparison import Comparison, signed
from optical.report import bench_table, bench_tables, render_latex, render_markdown, report_blocks
from optical.results.row import make_row
from optical.results.store import ResultsStore
from optical.systems import System

ZERO = System("zero-shot", "m", "m", "zero-shot")
OPT = System("optical-sw", "o", "o", "model")
MODES = {"pooled": "pooled scoring", "maxsim": "MaxSim scoring", "ot": "OT-rerank scoring"}
TASKS = {"bible": "aligned-verse retrieval (bible)", "bible-xref": "cross-reference retrieval (bible-xref)"}
SCALE = {"pooled": 1.0, "maxsim": 0.8, "ot": 0.4}  # a mode's values: the pooled ones times this

# per-query values of 4 queries (pooled); every measure of a row gets the same values
XREF = {
    ("zero-shot", "sw"): [0.5, 0.0, 0.5, 0.0],  # 0.250
    ("zero-shot", "en"): [1.0, 0.5, 0.5, 0.0],  # 0.500  (KJV queries)
    ("zero-shot", "en-web"): [1.0, 1.0, 0.5, 0.5],  # 0.750  (WEB queries: the ceiling)
    ("optical-sw", "sw"): [1.0, 0.5, 0.0, 0.5],  # 0.500
    ("optical-sw", "en"): [0.5, 0.5, 0.5, 0.5],  # 0.500
    ("optical-sw", "en-web"): [1.0, 0.5, 0.5, 0.5],  # 0.625
}
BIBLE = {
    ("zero-shot", "sw"): [1.0, 0.0, 0.0, 1.0],
    ("zero-shot", "de"): [1.0, 1.0, 1.0, 0.0],
    ("optical-sw", "sw"): [1.0, 1.0, 0.0, 1.0],
    ("optical-sw", "de"): [1.0, 1.0, 0.0, 0.0],
}
XREF_MEASURES = ("AP", "nDCG@10", "P@10", "RR@10")
BIBLE_MEASURES = ("R(rel=2)@1", "RR(rel=2)@10", "AP", "nDCG@10")


def _rows(family, values, measures, modes=tuple(MODES), skip=(), group="g"):
    rows = []
    for mode in modes:
        for (name, lang), vals in values.items():
            if (name, lang, mode) in skip:
                continue
            scaled = [v * SCALE[mode] for v in vals]
            per_query = {m: {f"q{i}": v for i, v in enumerate(scaled)} for m in measures}
            metrics = {m: sum(scaled) / len(scaled) for m in measures} | {"R(rel=2)@10": 1.0, "R@100": 1.0}
            rows.append(make_row(ZERO if name == "zero-shot" else OPT, f"{family}:{lang}", "test", metrics,
                                 settings={"mode": mode, "k": 100}, per_query=per_query,
                                 context={"group": group}))
    return rows


@pytest.fixture
def rows():
    return _rows("bible", BIBLE, BIBLE_MEASURES) + _rows("bible-xref", XREF, XREF_MEASURES)


def _headings(markdown: str) -> list[str]:
    return re.findall(r"^\*\*(.+?)\*\*", markdown, flags=re.M)


# ------------------------------------------------------------------------------ captions
@pytest.mark.parametrize("mode", list(MODES))
@pytest.mark.parametrize("family", list(TASKS))
def test_every_heading_and_caption_names_the_task_and_the_mode(rows, family, mode):
    context = f"{TASKS[family]}, {MODES[mode]}"
    md = bench_table(rows, dataset_family=family, mode=mode)
    heads = _headings(md)
    # bible: 4 measures; bible-xref: 4 measures + the gap table
    assert len(heads) == (5 if family == "bible-xref" else 4)
    assert all(h.endswith(f" — {context}") for h in heads), heads
    assert heads[0] == ("MAP" if family == "bible-xref" else "R@1 (rel=2)") + f" — {context}"
    tex = bench_table(rows, dataset_family=family, mode=mode, fmt="latex")
    captions = re.findall(r"\\caption\{(.+?)\}\n", tex)
    assert len(captions) == len(heads)
    assert all(c.split(". ")[0].endswith(f" --- {context}") for c in captions), captions
    one = bench_table(rows, dataset_family=family, mode=mode, systems=["optical-sw"])  # languages as rows
    assert _headings(one) == [f"optical-sw — {context}"]
    tex_one = bench_table(rows, dataset_family=family, mode=mode, systems=["optical-sw"], fmt="latex")
    assert f"\\caption{{optical-sw --- {context}." in tex_one


def test_tables_still_refuse_mixed_modes(rows):
    for family in TASKS:
        with pytest.raises(ValueError, match=r"several modes \(maxsim, ot, pooled\)"):
            bench_table(rows, dataset_family=family)
        with pytest.raises(ValueError, match="several modes"):
            bench_tables(rows, dataset_family=family, ceiling=None)


# ------------------------------------------------------------------------- ceiling gap
def test_the_gap_to_the_teacher_ceiling_hand_computed(rows):
    md = bench_table(rows, dataset_family="bible-xref", mode="pooled")
    context = "cross-reference retrieval (bible-xref), pooled scoring"
    heads = _headings(md)
    # the gap table follows the primary measure's table
    assert heads[:2] == [f"MAP — {context}",
                         f"MAP: gap to the teacher ceiling (zero-shot, WEB queries = 0.750) — {context}"]
    gap = md[md.index("**MAP: gap") : md.index("**nDCG@10")]
    assert "| System | sw | en | en-web | Avg |" in gap
    # zero-shot: 0.25, 0.5, 0.75 - 0.75; Avg (sw, en: en-web is the ceiling) 0.375 - 0.75
    assert "| zero-shot | -0.500 | -0.250 | +0.000 | -0.375 |" in gap
    # optical: 0.5, 0.5, 0.625 - 0.75; Avg (0.5 + 0.5) / 2 - 0.75 = -0.25
    assert "| optical-sw | -0.250 | -0.250 | -0.125 | -0.250 |" in gap
    assert "Avg: macro average over languages, en-web left out (its queries are the documents' own text)." in md
    assert "†" not in gap.split("\n\n")[1] and "**0" not in gap  # no marks, no bold: nothing is tested
    assert md.endswith("Teacher ceiling (zero-shot, pooled scoring): MAP 0.750 with WEB queries (en-web), "
                       "0.500 with KJV queries (en).")
    # the ceiling is that of the same mode: maxsim values are 0.8 x the pooled ones
    maxsim = bench_table(rows, dataset_family="bible-xref", mode="maxsim")
    assert "(zero-shot, WEB queries = 0.600) — cross-reference retrieval (bible-xref), MaxSim scoring**" in maxsim
    assert "| zero-shot | -0.400 | -0.200 | +0.000 | -0.300 |" in maxsim
    assert "MAP 0.600 with WEB queries (en-web), 0.400 with KJV queries (en)." in maxsim
    tex = bench_table(rows, dataset_family="bible-xref", mode="ot", fmt="latex")
    assert ("\\caption{MAP: gap to the teacher ceiling (zero-shot, WEB queries = 0.300) --- cross-reference "
            "retrieval (bible-xref), OT-rerank scoring. Gap:") in tex
    assert "zero-shot & -0.200 & -0.100 & +0.000 & -0.150 \\\\" in tex


def test_the_ceiling_is_found_whatever_systems_and_languages_are_shown(rows):
    md = bench_table(rows, dataset_family="bible-xref", mode="pooled", languages=["sw"], measures=["AP"])
    assert "| zero-shot | -0.500 | -0.500 |" in md and "| optical-sw | -0.250 | -0.250 |" in md
    # one system: languages as rows and a gap column
    one = bench_table(rows, dataset_family="bible-xref", mode="pooled", systems=["optical-sw"], measures=["AP"])
    assert "| language | resource | queries | MAP | MAP − ceiling |" in one
    assert "| sw | low | 4 | 0.500 | -0.250 |" in one and "| en-web | ceiling | 4 | 0.625 | -0.125 |" in one
    assert "| *macro avg* | | | 0.500 | -0.250 |" in one
    assert "Teacher ceiling (zero-shot, pooled scoring): MAP 0.750 with WEB queries (en-web)" in one


def test_an_explicit_ceiling_or_none(rows):
    kjv = bench_table(rows, dataset_family="bible-xref", mode="pooled", measures=["AP"], ceiling=("zero-shot", "en"))
    assert "**MAP: gap to the teacher ceiling (zero-shot, KJV queries = 0.500) —" in kjv
    assert "| optical-sw | +0.000 | +0.000 | +0.125 | +0.000 |" in kjv
    assert "MAP 0.500 with KJV queries (en), 0.750 with WEB queries (en-web)." in kjv
    plain = bench_table(rows, dataset_family="bible-xref", mode="pooled", measures=["AP"], ceiling=None)
    assert "gap to" not in plain and "ceiling" not in plain
    # no default ceiling on the aligned-verse task; an explicit one applies there too
    bible = bench_table(rows, dataset_family="bible", mode="pooled")
    assert "ceiling" not in bible
    de = bench_table(rows, dataset_family="bible", mode="pooled", measures=["AP"], ceiling=("zero-shot", "de"))
    assert "**MAP: gap to the teacher ceiling (zero-shot, de queries = 0.750) —" in de
    assert "| optical-sw | +0.000 | -0.250 | -0.125 |" in de


def test_a_missing_ceiling_is_a_note_not_a_failure():
    no_web = _rows("bible-xref", XREF, XREF_MEASURES, modes=("pooled", "maxsim"),
                   skip={("zero-shot", "en-web", "pooled")})
    md = bench_table(no_web, dataset_family="bible-xref", mode="pooled")
    assert "gap to the teacher ceiling (" not in md and len(_headings(md)) == 4
    assert "Not tested (no zero-shot results): en-web." in md  # the baseline lacks a language: not a failure
    # the maxsim ceiling row is not taken for the pooled table
    assert md.endswith("No gap to the teacher ceiling: the selected rows have no zero-shot results with WEB "
                       "queries (en-web) in pooled scoring (zero-shot MAP: 0.500 with KJV queries (en)).")
    assert "(zero-shot, WEB queries = 0.600)" in bench_table(no_web, dataset_family="bible-xref", mode="maxsim")
    only_optical = {k: v for k, v in XREF.items() if k[0] != "zero-shot"}
    md = bench_table(_rows("bible-xref", only_optical, XREF_MEASURES, modes=("ot",)), dataset_family="bible-xref")
    assert md.endswith("No gap to the teacher ceiling: the selected rows have no zero-shot results with WEB "
                       "queries (en-web) in OT-rerank scoring (nor with KJV queries (en)).")
    assert "MAP − ceiling" not in md and _headings(md) == [
        "optical-sw — cross-reference retrieval (bible-xref), OT-rerank scoring"]


def test_difference_table_of_the_table_model():
    import pandas as pd

    frame = pd.DataFrame({"system": ["a", "a", "b", "b"], "language": ["sw", "de", "sw", "de"],
                          "qid": "q", "measure": "AP", "value": [0.5, 0.25, 0.75, float("nan")]})
    comparison = Comparison.from_results(frame.dropna(), average=True)
    table = comparison.difference_table(0.5, notes=["n."])
    assert table.to_markdown() == ("| System | sw | de | Avg |\n|:---|---:|---:|---:|\n"
                                   "| a | +0.000 | -0.250 | -0.125 |\n| b | +0.250 | – | – |\n\nn.\n")
    assert comparison.difference_table({"AP": 0.25}).cells()[0][1].text == "+0.250"
    with pytest.raises(ValueError, match="no reference value for AP"):
        comparison.difference_table({"R@1": 0.1})
    two = pd.concat([frame.dropna(), frame.dropna().assign(measure="R@1")])
    with pytest.raises(ValueError, match="one reference value per measure"):
        Comparison.from_results(two).difference_table(0.5)
    assert signed(-0.0004) == "+0.000" and signed(0.1235, 2) == "+0.12" and signed(float("nan")) == "–"


# ------------------------------------------------------------------------------ report
def test_report_blocks_name_task_and_mode_and_xref_blocks_show_the_gap(rows, tmp_path):
    store = ResultsStore(tmp_path / "r.jsonl")
    store.extend(rows)
    blocks = report_blocks(store)
    assert [b.title for b in blocks] == [
        "bible (test)", "bible (test, maxsim scoring)", "bible (test, ot scoring)",
        "bible-xref (test)", "bible-xref (test, maxsim scoring)", "bible-xref (test, ot scoring)",
    ]
    md, _ = render_markdown(store)
    parts = [p for p in md.split("\n### ")[1:] if "all scoring modes at a glance" not in p.split("\n")[0]]
    sections = dict(zip([b.title for b in blocks], parts, strict=True))
    for block in blocks:
        text = sections[block.title]
        context = f"{TASKS[block.family]}, {MODES[block.mode]}"
        heads = _headings(text)
        assert heads and all(h.endswith(f" — {context}") for h in heads), (block.title, heads)
        assert any(h.startswith("Gap and variance across languages") for h in heads)
        if block.family == "bible-xref":
            ceiling = 0.75 * SCALE[block.mode]
            assert f"MAP: gap to the teacher ceiling (zero-shot, WEB queries = {ceiling:.3f}) — {context}" in heads
            assert f"MAP {ceiling:.3f} with WEB queries (en-web), {ceiling * 2 / 3:.3f} with KJV queries (en)" in text
            assert f"P@10 — {context}" in heads  # the report shows more than MAP on this task
        else:
            assert "ceiling" not in text and not any(h.startswith("P@10") for h in heads)
    pooled = sections["bible-xref (test)"]
    assert "| optical-sw | -0.250 | -0.250 | -0.125 | -0.250 |" in pooled
    tex = render_latex(store)
    assert ("\\caption{bible-xref (test, ot scoring) --- MAP: gap to the teacher ceiling (zero-shot, WEB queries "
            "= 0.300) --- cross-reference retrieval (bible-xref), OT-rerank scoring. Gap:") in tex
    assert "\\caption{bible (test, maxsim scoring) --- R@1 (rel=2) --- aligned-verse retrieval (bible), MaxSim " in tex
    assert tex.count("\\begin{table}") == md.count("|:---|")


def test_report_of_a_store_without_xref_rows(tmp_path):
    store = ResultsStore(tmp_path / "r.jsonl")
    store.extend(_rows("bible", BIBLE, BIBLE_MEASURES, modes=("pooled",)))
    md, _ = render_markdown(store)
    assert "ceiling" not in md and "**R@1 (rel=2) — aligned-verse retrieval (bible), pooled scoring**" in md
    assert "| zero-shot | 0.500 | **0.750** | **0.625** |" in md  # the numbers as before


# --------------------------------------------------------------------------------- CLI
def test_bench_table_only_prints_captions_and_the_gap(rows, tmp_path, capsys):
    store = ResultsStore(tmp_path / "r.jsonl")
    store.extend(rows)
    common = ["bench", "--table-only", "--store", str(store.path), "--systems", "zero-shot", "optical-sw"]
    xref = [*common, "--datasets", "bible-xref:sw", "bible-xref:en", "bible-xref:en-web", "--mode", "maxsim"]
    assert main(xref) == 0
    out = capsys.readouterr().out
    assert "**MAP — cross-reference retrieval (bible-xref), MaxSim scoring**" in out
    assert "**MAP: gap to the teacher ceiling (zero-shot, WEB queries = 0.600) —" in out
    assert "| optical-sw | -0.200 | -0.200 | -0.100 | -0.200 |" in out
    # only sw shown: the ceiling still comes from the en-web rows
    assert main([*common, "--datasets", "bible-xref:sw", "--mode", "ot", "--format", "latex"]) == 0
    out = capsys.readouterr().out
    assert "WEB queries = 0.300) --- cross-reference retrieval (bible-xref), OT-rerank scoring" in out
    assert "optical-sw & -0.100 & -0.100 \\\\" in out
    assert main([*common, "--datasets", "bible:sw", "bible:de"]) == 0
    out = capsys.readouterr().out
    assert "**R@1 (rel=2) — aligned-verse retrieval (bible), pooled scoring**" in out and "ceiling" not in out
