"""optical.evaluation.comparison: one table model rendered as markdown, LaTeX and a frame, the
writers behind ``optical bench`` / ``optical report`` tables, and the one mark convention
(† better, ‡ worse) shared with the app.

The expected strings are written out by hand from a small example whose significance is
certain: a paired t-test on a constant per-query difference gives p = 0, on no difference p = 1.
"""

from __future__ import annotations

import re

import pandas as pd
import pytest

from optical.evaluation.comparison import (
    MARKS,
    Cell,
    Comparison,
    Table,
    latex_escape,
    markdown_escape,
)
from optical.evaluation.measure_sets import BINARY_NOTE
from optical.evaluation.tables import significance_table

# per-query AP of 4 queries. good: +0.1 on every sw query (better), = base on de;
# bad: = base on sw, 0.25 instead of 0.5 on every de query (worse).
AP = {
    ("base", "sw"): [0.2, 0.4, 0.6, 0.8],  # 0.500
    ("base", "de"): [0.5, 0.5, 0.5, 0.5],  # 0.500
    ("good", "sw"): [0.3, 0.5, 0.7, 0.9],  # 0.600 †
    ("good", "de"): [0.5, 0.5, 0.5, 0.5],  # 0.500
    ("bad", "sw"): [0.2, 0.4, 0.6, 0.8],  # 0.500
    ("bad", "de"): [0.25, 0.25, 0.25, 0.25],  # 0.250 ‡
}
LEGEND = (
    "Measure: AP (mean over queries of each language). Avg: macro average over languages. "
    "Bold: best system per column. † / ‡: significantly better / worse than base (paired t-test, "
    "Holm correction over 4 comparisons per measure, α = 0.05)."
)
TABLE = (
    "| System | sw | de | Avg |\n"
    "|:---|---:|---:|---:|\n"
    "| base | 0.500 | **0.500** | 0.500 |\n"
    "| good | **0.600**† | **0.500** | **0.550** |\n"
    "| bad | 0.500 | 0.250‡ | 0.375 |\n"
)


def _frame(values=AP, measure="AP", extra=None) -> pd.DataFrame:
    rows = [
        {"system": s, "language": lang, "qid": f"{lang}-q{i}", "measure": measure, "value": v}
        | (extra or {})
        for (s, lang), vals in values.items()
        for i, v in enumerate(vals)
    ]
    return pd.DataFrame(rows)


@pytest.fixture
def comparison() -> Comparison:
    return Comparison.from_results(_frame(), baseline="base", test="ttest", average=True)


# ---------------------------------------------------------------------------- markdown
def test_markdown_is_the_paper_table(comparison):
    assert comparison.to_markdown() == TABLE + "\n" + LEGEND + "\n"


def test_markdown_without_baseline_bold_or_average():
    plain = Comparison.from_results(_frame(), bold_best=False, decimals=2)
    assert plain.to_markdown() == (
        "| System | sw | de |\n"
        "|:---|---:|---:|\n"
        "| base | 0.50 | 0.50 |\n"
        "| good | 0.60 | 0.50 |\n"
        "| bad | 0.50 | 0.25 |\n"
        "\n"
        "Measure: AP (mean over queries of each language).\n"
    )
    two = pd.concat([_frame(), _frame(measure="nDCG@10")])
    multi = Comparison.from_results(two, systems=["good", "base"], languages=["de"], bold_best=False)
    assert multi.to_markdown() == (
        "| System | de AP | de nDCG@10 |\n"
        "|:---|---:|---:|\n"
        "| good | 0.500 | 0.500 |\n"
        "| base | 0.500 | 0.500 |\n"
    )


def test_precomputed_significance_names_its_test_and_correction():
    frame = _frame()
    sig = significance_table(frame, "base", test="ttest", correction="bonferroni", alpha=0.01)
    text = Comparison.from_results(frame, baseline="base", significance=sig).to_markdown()
    assert "(paired t-test, Bonferroni correction over 4 comparisons per measure, α = 0.01)." in text
    assert "| good | **0.600**† |" in text and "| bad | 0.500 | 0.250‡ |" in text
    with pytest.raises(ValueError, match="not among the shown systems"):
        Comparison.from_results(frame, baseline="base", systems=["good", "bad"])


def test_table_writer_is_the_reports_writer():
    table = Table(["System", "x | y", "n"], [["a|b", "0.1 ± 0.2", "3"], ["c", "–", "1"]],
                  notes=["Note one.", "Note two."])
    assert table.to_markdown() == (
        "| System | x \\| y | n |\n"
        "|:---|---:|---:|\n"
        "| a\\|b | 0.1 ± 0.2 | 3 |\n"
        "| c | – | 1 |\n"
        "\n"
        "Note one. Note two.\n"
    )
    # empty cells stay one space wide, italics and alignment as the bench's one-system table
    row = Table(["language", "resource", "n"], [[Cell("macro avg", italic=True), "", "0.5"]], align="llr")
    assert row.to_markdown() == "| language | resource | n |\n|:---|:---|---:|\n| *macro avg* | | 0.5 |\n"
    with pytest.raises(ValueError, match="align"):
        Table(["a", "b"], [], align="lx")
    with pytest.raises(ValueError, match="do not have 2 cells"):
        Table(["a", "b"], [["1"]])


def test_bench_table_from_rows_and_frames():
    from optical.report import bench_table

    def row(system, lang, values):
        per_query = {m: {f"q{i}": v for i, v in enumerate(values)} for m in ("R@1", "AP")}
        return {"key": f"{system}-{lang}", "system": system, "dataset": f"bible:{lang}", "language": lang,
                "split": "test", "metrics": {m: sum(values) / len(values) for m in per_query},
                "per_query": per_query}

    rows = [row("solo", "sw", [1.0, 0.0, 1.0, 1.0]), row("solo", "de", [0.0, 0.0, 1.0, 0.0])]
    assert bench_table(rows, measures=["R@1", "AP"]) == (
        "**solo — aligned-verse retrieval (bible), pooled scoring**\n"
        "\n"
        "| language | resource | queries | R@1 | MAP |\n"
        "|:---|:---|---:|---:|---:|\n"
        "| sw | low | 4 | 0.750 | 0.750 |\n"
        "| de | high | 4 | 0.250 | 0.250 |\n"
        "| *macro avg* | | | 0.500 | 0.500 |\n"
        "\n" + BINARY_NOTE
    )
    frame = _frame(extra={"split": "test", "dataset": "bible:xx", "group": "g"})
    text = bench_table(frame, baseline="base", measures=["AP"], group="g")
    # one block per measure: the paper table, its legend; the default test is randomisation
    # (a frame without a mode column: the heading names the task only)
    assert text.startswith("**MAP — aligned-verse retrieval (bible)**\n\n| System | sw | de | Avg |\n|:---|---:|---:|---:|\n")
    assert "| good | **0.600** | **0.500** | **0.550** |" in text  # 4 queries: never significant
    assert "paired randomisation test, Holm correction over 4 comparisons" in text
    with pytest.raises(ValueError, match="no 'split' column"):
        bench_table(_frame(), measures=["AP"])
    with pytest.raises(ValueError, match="no results match"):
        bench_table(frame, measures=["AP"], group="other")
    latex = bench_table(frame, baseline="base", measures=["AP"], group="g", fmt="latex")
    assert latex.startswith("\\begin{table}[ht]\n\\centering\n\\caption{MAP --- aligned-verse retrieval (bible). Measure: AP")
    with pytest.raises(ValueError, match="unknown table format"):
        bench_table(frame, measures=["AP"], group="g", fmt="html")


# ------------------------------------------------------------------------------- latex
def test_latex_booktabs_bold_marks_and_caption(comparison):
    tex = comparison.to_latex("AP per language", label="tab:ap")
    assert tex == (
        "\\begin{table}[ht]\n"
        "\\centering\n"
        "\\caption{AP per language. Measure: AP (mean over queries of each language). Avg: macro "
        "average over languages. Bold: best system per column. $^\\dagger$ / $^\\ddagger$: "
        "significantly better / worse than base (paired t-test, Holm correction over 4 comparisons "
        "per measure, $\\alpha$ = 0.05).}\n"
        "\\label{tab:ap}\n"
        "\\begin{tabular}{lrrr}\n"
        "\\toprule\n"
        "System & sw & de & Avg \\\\\n"
        "\\midrule\n"
        "base & 0.500 & \\textbf{0.500} & 0.500 \\\\\n"
        "good & \\textbf{0.600}$^\\dagger$ & \\textbf{0.500} & \\textbf{0.550} \\\\\n"
        "bad & 0.500 & 0.250$^\\ddagger$ & 0.375 \\\\\n"
        "\\bottomrule\n"
        "\\end{tabular}\n"
        "\\end{table}\n"
    )


def test_latex_escapes_text():
    assert latex_escape("a_b & c% $x$ #1 {y} ~^\\") == (
        "a\\_b \\& c\\% \\$x\\$ \\#1 \\{y\\} \\textasciitilde{}\\textasciicircum{}\\textbackslash{}"
    )
    assert latex_escape("0.5 ± 0.1, high−low 10–100, α × Δ") == (
        "0.5 $\\pm$ 0.1, high$-$low 10--100, $\\alpha$ $\\times$ $\\Delta$"
    )
    assert markdown_escape("a|b") == "a\\|b"
    odd = {("x_1 & co", "sw"): [0.1, 0.2], ("50%", "sw"): [0.3, 0.4]}
    tex = Comparison.from_results(_frame(odd, measure="R@1_x")).to_latex()
    assert "x\\_1 \\& co & 0.150 \\\\" in tex and "50\\% & \\textbf{0.350} \\\\" in tex
    assert "Measure: R@1\\_x" in tex and "_" not in tex.replace("\\_", "")
    table = Table(["System", "x"], [[Cell("macro avg", italic=True), "1 ± 2"]])
    assert "\\textit{macro avg} & 1 $\\pm$ 2 \\\\" in table.to_latex()
    assert "\\caption" not in table.to_latex()


# ------------------------------------------------------------------------------- frame
def test_frame_columns_values_and_marks(comparison):
    frame = comparison.to_frame()
    assert list(frame.columns) == [
        "system", "language", "measure", "value", "best", "direction", "mark", "p_adjusted"
    ]
    assert len(frame) == 3 * 3  # systems x (sw, de, Avg)
    cell = frame.set_index(["system", "language"])
    assert cell.loc[("good", "sw"), "value"] == pytest.approx(0.6)
    assert cell.loc[("good", "sw"), ["direction", "mark"]].tolist() == ["better", "†"]
    assert cell.loc[("bad", "de"), ["direction", "mark"]].tolist() == ["worse", "‡"]
    assert cell.loc[("good", "sw"), "p_adjusted"] == 0.0 and cell.loc[("good", "de"), "p_adjusted"] == 1.0
    assert pd.isna(cell.loc[("base", "sw"), "p_adjusted"]) and cell.loc[("good", "Avg"), "mark"] == ""
    assert cell.loc[("bad", "Avg"), "value"] == pytest.approx(0.375)
    best = sorted(map(tuple, frame.loc[frame["best"], ["system", "language"]].to_numpy()))
    assert best == [("base", "de"), ("good", "Avg"), ("good", "de"), ("good", "sw")]


def test_marks_agree_between_markdown_frame_and_latex(comparison):
    frame = comparison.to_frame()
    from_frame = {(r.system, r.language, r.mark) for r in frame.itertuples() if r.mark}
    languages = ["sw", "de", "Avg"]

    def marked(lines, split, marks):
        out = set()
        for line in lines:
            cells = [c.strip() for c in split(line)]
            for lang, cell in zip(languages, cells[1:], strict=True):
                for symbol, written in marks.items():
                    if cell.endswith(written):
                        out.add((cells[0], lang, symbol))
        return out

    md_rows = comparison.to_markdown().splitlines()[2:5]
    from_md = marked(md_rows, lambda line: line.strip("|").split("|"), {"†": "†", "‡": "‡"})
    tex_rows = [line for line in comparison.to_latex().splitlines() if line.endswith("\\\\")][1:]
    from_tex = marked([r[:-2] for r in tex_rows], lambda line: line.split("&"),
                      {"†": "$^\\dagger$", "‡": "$^\\ddagger$"})
    assert from_frame == from_md == from_tex == {("good", "sw", "†"), ("bad", "de", "‡")}
    assert MARKS["better"] == "†" and MARKS["worse"] == "‡"


# --------------------------------------------------------------------------------- app
def test_app_marks_are_daggers(tmp_path):
    from optical.app.results_view import MARKS as APP_MARKS
    from optical.app.results_view import display_table, load_results, significance_marks
    from optical.results import ResultsStore
    from optical.viz.language_figures import language_bars

    assert APP_MARKS == {"better": " †", "worse": " ‡", "": ""}
    store = ResultsStore(tmp_path / "r.jsonl")
    base = [0.1 * (i % 5) for i in range(12)]
    for system, shift in (("zero-shot", 0.0), ("up", 0.3), ("down", -0.05)):
        values = {f"q{i}": v + shift + 0.1 for i, v in enumerate(base)}
        store.append({"key": system, "system": system, "dataset": "bible:sw", "language": "sw",
                      "split": "test", "metrics": {"AP": sum(values.values()) / 12},
                      "per_query": {"AP": values}})
    data = load_results(store.path)
    marks = significance_marks(data, "test", "bible", measures=["AP"])
    assert dict(zip(marks["system"], marks["mark"], strict=True)) == {"up": " †", "down": " ‡"}
    means = pd.DataFrame({"system": ["zero-shot", "up", "down"], "language": "sw", "measure": "AP",
                          "label": "MAP", "value": [0.3, 0.6, 0.25]})
    table = display_table(means, marks, "AP")
    assert table["sw"].tolist() == ["0.300", "0.600 †", "0.250 ‡"]
    assert [t.text[0] for t in language_bars(means, "AP", marks).data] == ["0.30", "0.60 †", "0.25 ‡"]
    for text in (display_table.__doc__, significance_marks.__doc__, language_bars.__doc__):
        assert "▲" not in text and "▼" not in text


# --------------------------------------------------------------------------------- CLI
def _store(tmp_path):
    from optical.results import ResultsStore

    store = ResultsStore(tmp_path / "r.jsonl")
    for (system, lang), values in AP.items():
        store.append({"key": f"{system}-{lang}", "system": system, "dataset": f"bible:{lang}",
                      "language": lang, "split": "test", "group": "paper",
                      "metrics": {"AP": sum(values) / 4},
                      "per_query": {"AP": {f"q{i}": v for i, v in enumerate(values)}}})
    return store


def test_cli_bench_table_formats(tmp_path, capsys):
    from optical.cli import main
    from optical.cli.bench_cmd import FORMATS
    from optical.report.paper_table import FORMATS as REPORT_FORMATS

    assert FORMATS == REPORT_FORMATS
    store = _store(tmp_path)
    common = ["bench", "--store", str(store.path), "--table-only", "--systems", "base", "good", "bad",
              "--datasets", "bible:sw", "bible:de", "--baseline", "base"]
    assert main(common) == 0
    out = capsys.readouterr().out
    assert "**MAP — aligned-verse retrieval (bible), pooled scoring**\n\n| System | sw | de | Avg |" in out
    assert main([*common, "--format", "latex"]) == 0
    out = capsys.readouterr().out
    assert "\\begin{tabular}{lrrr}" in out and "\\toprule" in out and "|" not in out
    with pytest.raises(SystemExit) as exc:
        main([*common, "--format", "html"])
    assert exc.value.code == 2
    err = capsys.readouterr().err.strip().splitlines()[-1]
    assert "argument --format: invalid choice: 'html'" in err
    empty = ["bench", "--store", str(tmp_path / "none.jsonl"), "--table-only", "--datasets", "bible:sw"]
    assert main(empty) == 1
    assert "is empty: run `optical bench` first" in capsys.readouterr().err


def test_cli_report_latex(tmp_path, capsys):
    from optical.cli import main

    store = _store(tmp_path)
    md, tex = tmp_path / "r.md", tmp_path / "tables" / "r.tex"
    argv = ["report", "--store", str(store.path), "--out", str(md), "--no-html"]
    assert main([*argv, "--latex", str(tex)]) == 0
    assert str(tex) in capsys.readouterr().out
    text = tex.read_text()
    assert text.count("\\begin{table}") == md.read_text().count("|:---|")
    assert "\\section*{paper}" in text and "\\subsection*{bible (test)}" in text
    assert "\\caption{bible (test) --- MAP --- aligned-verse retrieval (bible), pooled scoring. Measure: AP" in text
    assert re.search(r"\\caption\{bible \(test\) --- Gap and variance across languages --- aligned-verse "
                     r"retrieval \(bible\), pooled scoring\. Gap: ", text)
    for bad, why in ((str(tmp_path / "r.pdf"), "expected a .tex file name"),
                     (str(tmp_path / "dir.tex"), "is a folder")):
        (tmp_path / "dir.tex").mkdir(exist_ok=True)
        with pytest.raises(SystemExit):
            main([*argv, "--latex", bad])
        assert why in capsys.readouterr().err
