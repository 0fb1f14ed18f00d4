"""``optical report`` rendered from a small synthetic results store: the numbers in the markdown
are the hand-computed ones."""

from __future__ import annotations

import re

import pytest

from optical.cli import main
from optical.report import markdown_to_html, render_markdown, report_blocks, write_report
from optical.results import ResultsStore

# per-query R@1 (= AP here) of 4 queries; sw is low-resource, de high-resource
R1 = {
    ("zero-shot", None): {"sw": [1, 0, 0, 1], "de": [1, 1, 1, 0]},  # 0.50, 0.75
    ("optical-sw", 0): {"sw": [1, 1, 0, 1], "de": [1, 1, 0, 0]},  # 0.75, 0.50
    ("optical-sw", 1): {"sw": [1, 1, 1, 1], "de": [1, 1, 1, 0]},  # 1.00, 0.75
}
CONFIG = {
    "objective": {"name": "optical"},
    "data": {"max_pairs": 100, "train": "bible:sw"},
    "model": {},
}


def _row(system, seed, lang, values, group="rq4-variance", family="bible", grade2=True, **extra):
    mean = sum(values) / len(values)
    per_query = {m: {f"q{i}": float(v) for i, v in enumerate(values)} for m in ("R(rel=2)@1", "AP")}
    return {
        "key": f"{group}-{system}-{seed}-{lang}-{family}",
        "system": system,
        "dataset": f"{family}:{lang}",
        "language": lang,
        "split": "test",
        "group": group,
        "seed": seed,
        "variant": "zero-shot" if seed is None else "optical",
        "config": None if seed is None else CONFIG,
        "metrics": {
            "R(rel=2)@1": mean if grade2 else 0.0,
            "AP": mean,
            "R(rel=2)@10": 1.0 if grade2 else 0.0,
            "R@100": 1.0,
        },
        "per_query": per_query if grade2 else {"AP": per_query["AP"]},
        **extra,
    }


@pytest.fixture
def store(tmp_path) -> ResultsStore:
    s = ResultsStore(tmp_path / "results.jsonl")
    for (system, seed), langs in R1.items():
        for lang, values in langs.items():
            s.append(_row(system, seed, lang, values))
    # RQ3-like group: a family judged with grade 1 only (R@1 must be left out)
    s.append(
        _row(
            "zero-shot",
            None,
            "sw",
            [1, 0, 1, 1],
            group="rq3-domain-shift",
            family="cldr",
            grade2=False,
        )
    )
    s.append(
        _row("ce-sw", 0, "sw", [0, 0, 1, 1], group="rq3-domain-shift", family="cldr", grade2=False)
    )
    s.append(
        {
            "key": "f1",
            "task": "threshold",
            "system": "ce-sw",
            "dataset": "cldr:sw",
            "language": "sw",
            "split": "test",
            "group": "rq3-domain-shift",
            "seed": 0,
            "variant": "ce",
            "config": CONFIG,
            "metrics": {"F1": 0.25, "F1_precision": 0.5, "F1_recall": 1 / 6, "F1_threshold": 0.8},
        }
    )
    # RQ2-like embedding rows
    for system, seed, acc in (("zero-shot", None, [1, 0]), ("optical-sw", 0, [1, 1])):
        s.append(
            {
                "key": f"emb-{system}",
                "task": "embedding",
                "system": system,
                "dataset": "bitext:bible:sw",
                "language": "sw",
                "split": "test",
                "group": "rq2-alignment",
                "seed": seed,
                "variant": "zero-shot" if seed is None else "optical",
                "config": None if seed is None else CONFIG,
                "metrics": {
                    "alignment": 0.4,
                    "uniformity": -2.0,
                    "uniformity_en": -2.5,
                    "mining_acc": sum(acc) / 2,
                },
                "per_query": {
                    "mining_acc": {"a": acc[0], "b": acc[1]},
                    "alignment": {"a": 0.3, "b": 0.5},
                },
            }
        )
    s.append(
        _row("zero-shot", None, "sw", [1, 1], group="tune-dev") | {"split": "dev", "key": "dev"}
    )
    return s


def _section(md: str, heading: str) -> str:
    start = md.index(heading)
    nxt = md.find("\n## ", start + 1)
    return md[start : nxt if nxt > 0 else None]


def test_blocks_split_groups_families_and_splits(store):
    blocks = report_blocks(store)
    assert [(b.group, b.family, len(b.rows)) for b in blocks] == [
        ("rq2-alignment", "bitext", 2),
        ("rq3-domain-shift", "cldr", 3),
        ("rq4-variance", "bible", 6),
    ]
    assert [b.group for b in report_blocks(store, split="dev")] == ["tune-dev"]
    assert [b.group for b in report_blocks(store, groups=["rq2-alignment"])] == ["rq2-alignment"]


def test_paper_table_seeds_gap_and_summary_numbers(store):
    md, figures = render_markdown(store)
    assert len(figures) == 3
    rq4 = _section(md, "## RQ4")
    # macro R@1: optical (0.875 + 0.625) / 2 = 0.750; zero-shot (0.5 + 0.75) / 2 = 0.625
    assert "Macro R@1 (rel=2): best optical-sw 0.750, zero-shot 0.625 (Δ +0.125)." in rq4
    assert "2 systems × 2 languages (sw, de), up to 2 seeds." in rq4
    # 4 queries cannot reach p < 0.05 with a paired sign-flip test: no marks
    assert "Cells significantly better / worse than zero-shot on R@1 (rel=2): 0 / 0 of 2." in rq4
    # gap high - low: zero-shot 0.75 - 0.5; optical per seed 0.5 - 0.75 and 0.75 - 1.0
    assert "High−low R@1 (rel=2) gap: zero-shot +0.250; smallest |gap| zero-shot +0.250." in rq4
    r1 = rq4[rq4.index("**R@1 (rel=2) — aligned-verse retrieval (bible), pooled scoring**") : rq4.index("**MAP — aligned-verse retrieval (bible), pooled scoring**")]
    assert "| zero-shot | 0.500 | **0.750** | 0.625 |" in r1
    assert "| optical-sw | **0.875** | 0.625 | **0.750** |" in r1
    seeds = rq4[rq4.index("**R@1 (rel=2), mean ± std over seeds — aligned-verse retrieval (bible), pooled scoring**") :]
    assert "| optical-sw | 0.875 ± 0.177 | 0.625 ± 0.177 | 2 |" in seeds
    assert "| zero-shot | 0.500 | 0.750 | 1 |" in seeds
    gap = rq4[rq4.index("**Gap and variance across languages — aligned-verse retrieval (bible), pooled scoring**") :]
    assert "| zero-shot | 0.250 | 0.177 | 0.500–0.750 |" in gap
    assert re.search(
        r"\| optical-sw \| -0\.250 ± 0\.000 \| 0\.177 ± 0\.000 \| 0\.625–0\.875 \|", gap
    )


def test_grade1_family_drops_r1_and_shows_f1(store):
    md, _ = render_markdown(store)
    rq3 = _section(md, "## RQ3")
    assert "**R@1 (rel=2) —" not in rq3 and "**R@1 —" not in rq3 and "**MAP — cldr, pooled scoring**" in rq3
    assert "grade-1 judgements only" in rq3
    assert "Macro MAP: best zero-shot 0.750" in rq3
    assert "| ce-sw | 0.250 | 0.500 | 0.167 | 0.800 |" in rq3  # F1, precision, recall, threshold
    assert "sw best F1" in rq3


def test_embedding_group_tables(store):
    md, _ = render_markdown(store)
    rq2 = _section(md, "## RQ2")
    assert "Macro mining accuracy: best optical-sw 1.000, zero-shot 0.500 (Δ +0.500)." in rq2
    assert (
        "**alignment — bitext** (lower is better)" in rq2 and "| optical-sw | **1.000** | **1.000** |" in rq2
    )
    assert "sw uniformity" in rq2 and "| optical-sw | -2.000 | -2.500 |" in rq2


def test_write_report_and_html(store, tmp_path):
    out = write_report(
        store, tmp_path / "docs" / "report.md", tmp_path / "docs" / "report.html", plotlyjs="cdn"
    )
    assert out["blocks"] == 3
    md = (tmp_path / "docs" / "report.md").read_text()
    html = (tmp_path / "docs" / "report.html").read_text()
    assert md.startswith("# optical — results report")
    assert html.count("<table>") == md.count("|:---|") and "cdn.plot.ly" in html
    assert html.count('class="plotly-graph-div"') == 3
    assert "<td>optical-sw</td><td><strong>0.875</strong></td>" in html
    with pytest.raises(FileNotFoundError, match="no results store"):
        write_report(ResultsStore(tmp_path / "missing.jsonl"), tmp_path / "x.md")


def test_markdown_to_html_subset():
    html = markdown_to_html(
        "## T\n\n*Summary.* a **b** `c`\n\n| S | x \\| y |\n|:---|---:|\n| <s> | 1 |\n"
    )
    assert "<h2>T</h2>" in html and "<em>Summary.</em>" in html and "<strong>b</strong>" in html
    assert "<code>c</code>" in html and "<th>x | y</th>" in html and "<td>&lt;s&gt;</td>" in html


def test_cli(store, tmp_path, capsys):
    target = tmp_path / "r.md"
    assert (
        main(
            [
                "report",
                "--store",
                str(store.path),
                "--out",
                str(target),
                "--no-html",
                "--groups",
                "rq4-variance",
            ]
        )
        == 0
    )
    assert "1 sections" in capsys.readouterr().out and "## RQ4" in target.read_text()
    assert main(["report", "--store", str(tmp_path / "none.jsonl"), "--out", str(target)]) == 1
    assert "no results store" in capsys.readouterr().err
