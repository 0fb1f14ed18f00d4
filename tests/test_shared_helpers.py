"""The helpers that the issue-12 clean-up made public: one implementation each, shared by
the modules that used to repeat them (Sinkhorn pieces, measure names, run readers, CLI
parsers, data-file readers, asset checks, the figure palette)."""

from __future__ import annotations

import argparse
import json
import math
from dataclasses import dataclass

import pytest
import torch
from plotly.colors import qualitative

from optical.assets.manifest import first_problem, language_state
from optical.cli import build_parser
from optical.cli.defaults_help import defaults_parser
from optical.cli.retrieval_inputs import load_queries_spec, read_run_file
from optical.data.errors import DataFormatError, claim_line
from optical.data.jsonl import json_objects
from optical.data.trec import DUPLICATE_JUDGEMENT, read_qrels
from optical.evaluation.measure_names import at_relevance_level, measure_key, parse_measure
from optical.ot import sinkhorn
from optical.ot_inputs import check_options, parse_reg_m, prepare_problem
from optical.ot_solver import SinkhornLog, assemble_plan, marginal_error
from optical.viz.palette import series_color

# ------------------------------------------------------------------------ Sinkhorn pieces


def test_check_options_and_parse_reg_m():
    check_options(0.1, 10, None, 5)
    for bad in ((0.0, 10, None, 5), (0.1, 0, None, 5), (0.1, 10, -1.0, 5), (0.1, 10, None, 0)):
        with pytest.raises(ValueError):
            check_options(*bad)
    assert parse_reg_m(None, 0.1) == (1.0, 1.0, math.inf, math.inf)
    tau_a, tau_b, rho_a, rho_b = parse_reg_m((1.0, math.inf), 0.5)
    assert (tau_a, tau_b, rho_a, rho_b) == (pytest.approx(1 / 1.5), 1.0, 1.0, math.inf)
    with pytest.raises(ValueError, match="reg_m"):
        parse_reg_m("1", 0.1)


def test_prepare_problem_batches_and_takes_logs():
    cost = torch.tensor([[0.0, 1.0], [1.0, 0.0]])
    batched, neg_c, log_a, log_b, mask_a, mask_b = prepare_problem(
        cost, None, None, None, None, True, 0.5
    )
    assert batched.shape == (1, 2, 2) and mask_a is None and mask_b is None
    assert torch.equal(neg_c, cost[None] * (-1.0 / 0.5))
    assert torch.allclose(log_a.exp(), torch.full((1, 2), 0.5))
    assert torch.allclose(log_b.exp(), torch.full((1, 2), 0.5))
    with pytest.raises(ValueError, match="non-finite"):
        prepare_problem(torch.tensor([[math.nan]]), None, None, None, None, True, 0.5)


def test_solver_pieces_give_the_sinkhorn_plan():
    cost = torch.rand(2, 3, 4, generator=torch.Generator().manual_seed(0), dtype=torch.float64)
    eps = 0.2
    _, neg_c, log_a, log_b, _, _ = prepare_problem(cost, None, None, None, None, True, eps)
    stats: dict[str, int] = {}
    fe, ge = SinkhornLog.apply(neg_c, log_a, log_b, 1.0, 1.0, 50, None, 10, stats)
    plan = assemble_plan(neg_c, log_a + fe, log_b, ge, True)
    assert stats["n_iter"] == 50
    assert torch.equal(plan, sinkhorn(cost, eps=eps, max_iter=50))
    # columns are exact after the last column update; the row error is what is left
    assert torch.allclose(plan.sum(-2), log_b.exp())
    err = marginal_error(plan.sum(-1), log_a, fe, 0.0)
    assert err.shape == (2,) and bool((err < 1e-6).all())


# ------------------------------------------------------------------------ measure names


def test_measure_key_keeps_an_explicit_rel_and_at_relevance_level_applies_one():
    assert measure_key(parse_measure("AP")) == "AP"
    assert measure_key(parse_measure("AP(rel=1)")) == "AP(rel=1)"
    assert measure_key(parse_measure("P(rel=1)@5")) == "P(rel=1)@5"
    assert str(at_relevance_level(parse_measure("R@1"), 2)) == "R(rel=2)@1"
    assert str(at_relevance_level(parse_measure("R@1"), 1)) == "R@1"
    assert str(at_relevance_level(parse_measure("R(rel=3)@1"), 2)) == "R(rel=3)@1"  # explicit wins
    assert str(at_relevance_level(parse_measure("nDCG@10"), 2)) == "nDCG@10"  # graded: no rel


# ------------------------------------------------------------------------ CLI helpers


def _cmd_example(args: argparse.Namespace) -> int:
    """do one   example
    thing

    The longer description
        of the command.
    """
    return 7


def test_defaults_parser_takes_help_from_the_docstring_and_sets_func():
    parser = argparse.ArgumentParser(prog="x")
    sub = parser.add_subparsers(dest="command")
    p = defaults_parser(sub, "example", _cmd_example)
    p.add_argument("--k", type=int, default=3, help="how many")
    args = parser.parse_args(["example"])
    assert args.func is _cmd_example and args.k == 3
    assert p.description == "The longer description of the command."
    assert "(default: 3)" in p.format_help()
    assert "do one example thing" in parser.format_help()


def test_evaluate_and_compare_are_registered_after_search():
    sub = next(a for a in build_parser()._actions if isinstance(a, argparse._SubParsersAction))
    names = list(sub.choices)
    assert names.index("search") + 1 == names.index("evaluate") == names.index("compare") - 1


def test_read_run_file_and_load_queries_spec(tmp_path):
    run = tmp_path / "a.run"
    run.write_text("q1 Q0 d1 1 2.0 t\n", encoding="utf-8")
    assert read_run_file(str(run)) == {"q1": {"d1": 2.0}}
    with pytest.raises(ValueError, match="a folder"):
        read_run_file(str(tmp_path))
    empty = tmp_path / "empty.run"
    empty.write_text("\n", encoding="utf-8")
    with pytest.raises(ValueError, match="empty run"):
        read_run_file(str(empty))
    beir = tmp_path / "beir"
    (beir / "qrels").mkdir(parents=True)
    (beir / "corpus.jsonl").write_text('{"_id": "d1", "text": "x"}\n', encoding="utf-8")
    (beir / "queries.jsonl").write_text('{"_id": "q1", "text": "hi"}\n', encoding="utf-8")
    (beir / "qrels" / "test.tsv").write_text("q1\td1\t1\n", encoding="utf-8")
    assert load_queries_spec(str(beir), "test") == {"q1": "hi"}


# ------------------------------------------------------------------------ data readers


def test_claim_line_names_both_lines_and_keeps_braces_in_ids():
    first: dict[str, int] = {}
    claim_line(first, "{a}", "f.txt", 3, "unique ids", "dup {0!r} (first {first}, now {line})", "{a}")
    assert first == {"{a}": 3}
    with pytest.raises(DataFormatError) as err:
        claim_line(first, "{a}", "f.txt", 9, "unique ids", "dup {0!r} (first {first}, now {line})", "{a}")
    assert str(err.value) == "f.txt, line 9: dup '{a}' (first 3, now 9)"
    assert err.value.expected == "unique ids" and first == {"{a}": 3}


def test_duplicate_judgement_message(tmp_path):
    path = tmp_path / "q.txt"
    path.write_text("q 0 d 1\nq 0 d 0\n", encoding="utf-8")
    with pytest.raises(DataFormatError) as err:
        read_qrels(path)
    assert err.value.detail == DUPLICATE_JUDGEMENT.format("q", "d", first=1)
    assert "first on line 1" in err.value.detail


def test_json_objects_skips_blank_lines_and_reports_through_the_callers_errors():
    lines = [(1, '{"a": 1}'), (2, "  "), (3, '{"b": 2}')]
    got = list(json_objects(lines, lambda *a: ValueError(a), lambda *a: TypeError(a)))
    assert got == [(1, '{"a": 1}', {"a": 1}), (3, '{"b": 2}', {"b": 2})]
    with pytest.raises(KeyError) as err:
        list(json_objects([(5, "{x")], lambda n, t, e: KeyError((n, t, e.msg)), None))
    assert err.value.args[0][:2] == (5, "{x") and err.value.__suppress_context__
    with pytest.raises(LookupError, match="7"):
        list(json_objects([(7, json.dumps([1]))], None, lambda n, t: LookupError(n)))


# ------------------------------------------------------------------------ assets, figures


@dataclass(frozen=True)
class _Settings:
    seed: int = 1


def test_language_state_and_first_problem(tmp_path):
    assert language_state("sw", _Settings(), tmp_path, lambda: tmp_path / "unused") == (
        "missing",
        "not built",
    )
    (tmp_path / "sw").mkdir()
    (tmp_path / "sw" / "manifest.json").write_text(
        json.dumps({"settings": {"seed": 2}, "files": {}}), encoding="utf-8"
    )
    assert language_state("sw", _Settings(), None, lambda: tmp_path)[0] == "stale"
    states = {"a": ("ok", "ok"), "b": ("stale", "built with other settings"), "c": ("missing", "x")}
    assert first_problem(["a"], states.__getitem__) == (True, "ok")
    assert first_problem(["a", "b", "c"], states.__getitem__) == (
        False,
        "b: built with other settings",
    )


def test_series_color_cycles_the_plotly_palette():
    palette = qualitative.Plotly
    assert [series_color(k) for k in range(len(palette))] == list(palette)
    assert series_color(len(palette) + 2) == palette[2]
