"""``optical evaluate | compare``: score a TREC run against qrels, compare runs by paired tests."""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

from optical.cli.argtypes import measure_list, positive_int, probability
from optical.cli.defaults_help import defaults_parser
from optical.cli.retrieval_inputs import load_excluded_spec, load_qrels_spec, read_run_file

__all__ = ["register"]

DEFAULT_MEASURES = "AP,nDCG@10,RR@10,R@1,R@10,R@100"
COMPARE_MEASURES = "nDCG@10,AP,RR@10,R@100"


def _scores_by_measure(frame) -> dict[str, dict[str, float]]:
    """``{measure: {qid: value}}`` of a :func:`optical.evaluation.per_query` frame."""
    return {
        m: dict(zip(g["qid"], g["value"].astype(float), strict=True))
        for m, g in frame.groupby("measure", sort=False)
    }


def _without_excluded(run, spec: str, split: str):
    """``run`` without the documents the qrels' collection excludes for each query (on
    bible-xref: the query's own translation), saying how many were removed."""
    from optical.evaluation.exclusions import drop_excluded

    excluded = load_excluded_spec(spec, split)
    if not excluded:
        return run
    kept = drop_excluded(run, excluded)
    removed = sum(len(run[q]) - len(kept[q]) for q in run)
    print(f"note: {removed} excluded documents removed from the run before scoring (the "
          f"collection's excluded/{split}.tsv: e.g. each query's own translation)", file=sys.stderr)
    return kept


def _cmd_evaluate(args: argparse.Namespace) -> int:
    """score a TREC run against qrels (trec_eval semantics)

    Score a run. --qrels takes a TREC qrels file, a BEIR qrels TSV (header
    detected), a BEIR folder or a dataset spec such as bible:sw. Documents the
    collection excludes for a query (bible-xref: its own translation) are removed
    from the run before scoring.
    """
    from optical.evaluation import evaluate, per_query

    qrels = load_qrels_spec(args.qrels, args.split)
    run = _without_excluded(read_run_file(args.run), args.qrels, args.split)
    measures = args.measures  # parsed and checked by argtypes.measure_list
    result = evaluate(run, qrels, measures, relevance_level=args.relevance_level)
    frame = (
        per_query(run, qrels, measures, relevance_level=args.relevance_level)
        if args.per_query
        else None
    )
    if args.json:
        out = {
            "run": args.run,
            "qrels": args.qrels,
            "n_queries": result.n_queries,
            "measures": dict(result),
            "warnings": result.warnings,
        }
        if frame is not None:
            out["per_query"] = _scores_by_measure(frame)
        print(json.dumps(out, indent=2, ensure_ascii=False))
        return 0
    for warning in result.warnings:
        print(f"warning: {warning}", file=sys.stderr)
    if frame is not None:
        for row in frame.itertuples(index=False):
            print(f"{row.measure:<22}\t{row.qid}\t{row.value:.4f}")
    print(f"{'num_q':<22}\tall\t{result.n_queries}")
    for name, value in result.items():
        print(f"{name:<22}\tall\t{value:.4f}")
    return 0


def _system_names(paths: list[str]) -> list[str]:
    names = [Path(p).name.removesuffix(".trec").removesuffix(".run") for p in paths]
    if len(set(names)) == len(names):
        return names
    return [str(Path(p)) for p in paths]


def _cmd_compare(args: argparse.Namespace) -> int:
    """compare runs with paired significance tests

    Mean scores, differences to a baseline and (corrected) p-values of
    paired tests over queries, for each measure.
    """
    import math

    from optical.evaluation import compare_systems, per_query

    if len(args.runs) < 2:
        raise ValueError("compare needs at least two runs")
    runs = [read_run_file(p) for p in args.runs]  # every run checked before the qrels load
    qrels = load_qrels_spec(args.qrels, args.split)
    runs = [_without_excluded(run, args.qrels, args.split) for run in runs]
    names = _system_names(args.runs)
    if args.baseline is None:
        baseline = names[0]
    elif args.baseline in args.runs:
        baseline = names[args.runs.index(args.baseline)]
    elif args.baseline in names:
        baseline = args.baseline
    else:
        raise ValueError(f"baseline {args.baseline!r} is none of the runs: {', '.join(names)}")
    measures = args.measures  # parsed and checked by argtypes.measure_list
    frames = {
        n: per_query(run, qrels, measures) for n, run in zip(names, runs, strict=True)
    }
    by_measure = {n: _scores_by_measure(f) for n, f in frames.items()}
    rows = []
    for measure in frames[names[0]]["measure"].unique():
        table = compare_systems(
            {n: scores[measure] for n, scores in by_measure.items()},
            baseline,
            test=args.test,
            correction=args.correction,
            alpha=args.alpha,
            n_resamples=args.n_resamples,
        )
        for r in table.itertuples(index=False):
            rows.append({"measure": measure, **r._asdict()})
    if args.json:
        clean = [
            {k: (None if isinstance(v, float) and math.isnan(v) else v) for k, v in r.items()}
            for r in rows
        ]
        print(
            json.dumps(
                {
                    "baseline": baseline,
                    "test": args.test,
                    "correction": args.correction,
                    "rows": clean,
                },
                indent=2,
            )
        )
        return 0
    n_q = len(next(iter(frames.values()))["qid"].unique())
    print(f"| measure | system | mean | Δ vs {baseline} | p | p ({args.correction}) |")
    print("|---|---|---:|---:|---:|---:|")
    for r in rows:
        mark = ""
        if r["significant"]:
            mark = "†" if r["delta"] > 0 else "‡"
        is_base = r["system"] == baseline
        delta = "–" if is_base else f"{r['delta']:+.4f}"
        p = "–" if is_base else f"{r['p']:.4f}"
        p_adj = "–" if is_base else f"{r['p_adjusted']:.4f}"
        print(
            f"| {r['measure']} | {r['system']} | {r['mean']:.4f}{mark} | {delta} | {p} | {p_adj} |"
        )
    print(
        f"\n{n_q} queries; {args.test} test, {args.correction} correction over the "
        f"{len(names) - 1} comparison{'s' if len(names) > 2 else ''} per measure; † / ‡ = significantly better / worse than "
        f"{baseline} at alpha = {args.alpha}."
    )
    return 0


def _add_measures(p: argparse.ArgumentParser, default: str) -> None:
    p.add_argument(
        "--measures", type=measure_list, default=default, help="comma-separated measures"
    )


def register(sub: argparse._SubParsersAction) -> None:
    p = defaults_parser(sub, "evaluate", _cmd_evaluate)
    p.add_argument("--qrels", required=True, help="qrels file, BEIR folder or dataset spec")
    p.add_argument("--run", required=True, help="TREC run file")
    p.add_argument("--split", default="test", help="qrels split for folders and dataset specs")
    _add_measures(p, DEFAULT_MEASURES)
    p.add_argument(
        "--relevance-level",
        type=positive_int,
        default=1,
        help="minimum grade counted as relevant by binary measures (an integer >= 1)",
    )
    p.add_argument("--json", action="store_true", help="print JSON instead of text")
    p.add_argument("--per-query", action="store_true", help="also print per-query values")

    p = defaults_parser(sub, "compare", _cmd_compare)
    p.add_argument(
        "runs", nargs="+", metavar="RUN", help="TREC run files (the first is the default baseline)"
    )
    p.add_argument("--qrels", required=True, help="qrels file, BEIR folder or dataset spec")
    p.add_argument("--split", default="test", help="qrels split for folders and dataset specs")
    p.add_argument("--baseline", default=None, help="baseline run (path or name; default: first)")
    _add_measures(p, COMPARE_MEASURES)
    p.add_argument(
        "--test", choices=["randomization", "ttest", "bootstrap"], default="randomization"
    )
    p.add_argument("--correction", choices=["holm", "bonferroni", "none"], default="holm")
    p.add_argument(
        "--alpha", type=probability, default=0.05, help="significance level, in (0, 1)"
    )
    p.add_argument(
        "--n-resamples",
        type=positive_int,
        default=10_000,
        help="random sign flips / bootstrap samples per comparison",
    )
    p.add_argument("--json", action="store_true", help="print JSON instead of a markdown table")
