"""``optical encode | search | evaluate | compare``: index a corpus, rank, score, compare runs."""

from __future__ import annotations

import argparse
import json
import re
import sys
import time
from pathlib import Path

from optical.cli.argtypes import device, measure_list, positive_int, probability
from optical.dataset_spec import DatasetSpec

__all__ = ["register", "load_qrels_spec", "load_corpus_spec"]

DEFAULT_MEASURES = "AP,nDCG@10,RR@10,R@1,R@10,R@100"
COMPARE_MEASURES = "nDCG@10,AP,RR@10,R@100"


# --------------------------------------------------------------------------- inputs


def load_corpus_spec(spec: str | DatasetSpec) -> dict:
    """Documents of ``bible:<lang>``/``cldr:<lang>``, a BEIR folder or a ``corpus.jsonl`` file."""
    from optical.data import read_jsonl_corpus
    from optical.dataset_loading import dataset_dir

    ds = DatasetSpec.parse(spec)
    path = ds.folder if ds.is_path else dataset_dir(ds)
    if path.is_dir():
        for name in ("corpus.jsonl", "corpus.jsonl.gz"):
            if (path / name).is_file():
                return _non_empty(read_jsonl_corpus(path / name), path / name)
        raise FileNotFoundError(f"{path}: no corpus.jsonl (expected a BEIR folder)")
    if path.is_file():
        return _non_empty(read_jsonl_corpus(path), path)
    raise FileNotFoundError(
        f"{spec}: no such corpus (use bible:<lang>, cldr:<lang>, a BEIR folder or a .jsonl file)"
    )


def _non_empty(corpus: dict, path: Path) -> dict:
    if not corpus:
        raise ValueError(f"{path}: empty corpus (no documents; expected JSON lines with _id and text)")
    return corpus


def _looks_like_beir_tsv(path: Path) -> bool:
    with open(path, encoding="utf-8-sig", errors="replace") as fh:
        for line in fh:
            if line.strip():
                fields = line.rstrip("\r\n").split("\t")
                header = [f.strip().lower() for f in fields] == ["query-id", "corpus-id", "score"]
                return header or (len(fields) == 3 and len(line.split()) == 3)
    return False


def load_qrels_spec(spec: str | DatasetSpec, split: str = "test"):
    """Qrels from a TREC qrels file, a BEIR qrels TSV (header detected), a BEIR folder
    (``qrels/<split>.tsv``) or a dataset spec such as ``bible:sw`` (its ``split`` qrels)."""
    from optical.data import read_qrels
    from optical.data.beir import read_beir_qrels
    from optical.dataset_loading import load_collection

    ds = DatasetSpec.parse(spec)
    if not ds.is_path:
        return load_collection(ds, split).qrels
    path = ds.folder
    if path.is_dir():
        tsv = path / "qrels" / f"{split}.tsv"
        if not tsv.is_file():
            raise FileNotFoundError(f"{tsv}: no BEIR qrels for split {split!r}")
        return read_beir_qrels(tsv)
    if not path.is_file():
        raise FileNotFoundError(f"{spec}: no such qrels file, BEIR folder or dataset spec")
    qrels = read_beir_qrels(path) if _looks_like_beir_tsv(path) else read_qrels(path)
    if not qrels:
        raise ValueError(f"{spec}: no judgements found")
    return qrels


def _queries_spec(spec: str | DatasetSpec, split: str) -> dict[str, str]:
    from optical.dataset_loading import load_collection

    return load_collection(spec, split).queries


def _read_run(path: str):
    from optical.data import read_run

    if Path(path).is_dir():
        raise ValueError(f"{path}: a folder; --run expects a TREC run file (qid Q0 docid rank score tag)")
    run = read_run(path)
    if not any(run.values()):
        raise ValueError(f"{path}: empty run (no ranked documents)")
    return run


def _model_label(name: str) -> str:
    return re.sub(r"[^A-Za-z0-9._+-]+", "-", name.rsplit(":", 1)[-1].rstrip("/").rsplit("/", 1)[-1])


# --------------------------------------------------------------------------- commands


def _cmd_encode(args: argparse.Namespace) -> int:
    from optical.encoders import load_encoder
    from optical.retrieval import DenseIndex, corpus_index

    spec = DatasetSpec.parse(args.corpus)
    corpus = load_corpus_spec(spec)
    encoder = load_encoder(args.model, device=args.device)
    start = time.perf_counter()
    params = {k: v for k, v in (("nlist", args.nlist), ("nprobe", args.nprobe)) if v}
    if args.out:
        index = DenseIndex.build(
            encoder,
            corpus,
            path=args.out,
            kind=args.kind,
            with_tokens=args.tokens,
            batch_size=args.batch_size,
            progress=not args.quiet,
            **params,
        )
    else:
        index = corpus_index(
            encoder,
            corpus,
            spec.corpus_name,
            with_tokens=args.tokens,
            kind=args.kind,
            batch_size=args.batch_size,
            progress=not args.quiet,
            **params,
        )
    sizes = index.nbytes()
    print(
        f"{index.path}\t{len(index)} documents, {index.dim}-d {index.kind}"
        + (f", {index.tokens.n_tokens} token vectors" if index.tokens is not None else "")
        + f", {(sizes['pooled'] + sizes['tokens']) / 2**20:.1f} MiB"
        + f" ({time.perf_counter() - start:.1f} s)"
    )
    return 0


def _cmd_search(args: argparse.Namespace) -> int:
    from optical.data import write_run
    from optical.encoders import load_encoder
    from optical.retrieval import DenseIndex, Retriever, corpus_index
    from optical.retrieval.query_checks import check_queries

    if Path(args.out).is_dir():
        raise ValueError(f"--out {args.out}: a folder; expected the path of the TREC run file to write")
    spec = DatasetSpec.parse(args.dataset)
    queries = _queries_spec(spec, args.split)
    if not queries:
        raise ValueError(f"{args.dataset} has no {args.split!r} queries")
    check_queries(queries)  # refuse invisible queries before any model loads
    corpus = load_corpus_spec(spec)
    q_enc = load_encoder(args.query_model, device=args.device)
    d_enc = q_enc
    if args.doc_model and args.doc_model != args.query_model:
        d_enc = load_encoder(args.doc_model, device=args.device)
    with_tokens = args.mode != "pooled"
    if args.index:
        index = DenseIndex.load(
            args.index,
            encoder=d_enc,
            corpus=corpus,
            corpus_label=args.dataset,
        )  # refuses an index of other documents than the dataset's
    else:
        index = corpus_index(
            d_enc,
            corpus,
            spec.corpus_name,
            with_tokens=with_tokens,
            progress=not args.quiet,
        )
    retriever = Retriever(q_enc, d_enc, index)
    start = time.perf_counter()
    run = retriever.search(
        queries,
        k=args.k,
        mode=args.mode,
        rerank_depth=args.rerank_depth,
        batch_size=args.batch_size,
        progress=not args.quiet,
    )
    tag = args.tag
    if not tag:
        tag = _model_label(args.query_model)
        if d_enc is not q_enc:
            tag += "+" + _model_label(args.doc_model)
        tag += f".{args.mode}"
    write_run(run, args.out, tag=tag)
    print(
        f"{args.out}\t{len(run)} queries x {args.k} documents, mode {args.mode}, tag {tag} "
        f"({time.perf_counter() - start:.1f} s)"
    )
    return 0


def _cmd_evaluate(args: argparse.Namespace) -> int:
    from optical.evaluation import evaluate, per_query

    qrels = load_qrels_spec(args.qrels, args.split)
    run = _read_run(args.run)
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
            out["per_query"] = {
                m: dict(zip(g["qid"], g["value"].astype(float), strict=True))
                for m, g in frame.groupby("measure", sort=False)
            }
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
    import math

    from optical.evaluation import compare_systems, per_query

    if len(args.runs) < 2:
        raise ValueError("compare needs at least two runs")
    runs = [_read_run(p) for p in args.runs]  # every run checked before the qrels load
    qrels = load_qrels_spec(args.qrels, args.split)
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
    rows = []
    for measure in frames[names[0]]["measure"].unique():
        scores = {
            n: dict(
                zip(
                    f.loc[f["measure"] == measure, "qid"],
                    f.loc[f["measure"] == measure, "value"].astype(float),
                    strict=True,
                )
            )
            for n, f in frames.items()
        }
        table = compare_systems(
            scores,
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


# --------------------------------------------------------------------------- parsers


def register(sub: argparse._SubParsersAction) -> None:
    fmt = argparse.ArgumentDefaultsHelpFormatter

    p = sub.add_parser(
        "encode",
        help="encode a corpus into a dense index (cached by model fingerprint and corpus)",
        description="Encode a corpus with a document encoder and save a FAISS index "
        "(default: the cache $OPTICAL_HOME/indexes/<corpus>-<fingerprint>-<checksum>).",
        formatter_class=fmt,
    )
    p.add_argument("--model", required=True, help="document encoder: bundled name, HF id or folder")
    p.add_argument(
        "--corpus", required=True, help="bible:<lang>, cldr:<lang>, a BEIR folder or corpus.jsonl"
    )
    p.add_argument("--out", default=None, help="index folder (default: the cache)")
    p.add_argument("--tokens", action="store_true", help="also store token vectors (MaxSim/OT)")
    p.add_argument("--kind", choices=["flat", "ivf", "hnsw"], default="flat", help="FAISS index")
    p.add_argument("--nlist", type=positive_int, default=None, help="ivf: number of lists")
    p.add_argument("--nprobe", type=positive_int, default=None, help="ivf: lists probed per query")
    p.add_argument("--batch-size", type=positive_int, default=64)
    p.add_argument("--device", type=device, default=None, help="cuda, cpu, ... (default: cuda if available)")
    p.add_argument("--quiet", action="store_true", help="no progress bar")
    p.set_defaults(func=_cmd_encode)

    p = sub.add_parser(
        "search",
        help="rank a dataset's queries and write a TREC run",
        description="Encode the queries of a dataset, search the document index and write a "
        "TREC run file (the index is built and cached on first use).",
        formatter_class=fmt,
    )
    p.add_argument("--query-model", required=True, help="query encoder (e.g. a distilled student)")
    p.add_argument("--doc-model", default=None, help="document encoder (default: --query-model)")
    p.add_argument("--dataset", required=True, help="bible:<lang>, cldr:<lang> or a BEIR folder")
    p.add_argument("--split", default="test", help="query split")
    p.add_argument("--mode", choices=["pooled", "maxsim", "ot"], default="pooled")
    p.add_argument("--k", type=positive_int, default=100, help="documents per query")
    p.add_argument(
        "--rerank-depth", type=positive_int, default=100, help="candidates reranked (maxsim, ot)"
    )
    p.add_argument("--index", default=None, help="use this index folder instead of the cache")
    p.add_argument("--tag", default=None, help="run tag (default: <model>.<mode>)")
    p.add_argument("--batch-size", type=positive_int, default=64)
    p.add_argument("--device", type=device, default=None, help="cuda, cpu, ... (default: cuda if available)")
    p.add_argument("--quiet", action="store_true", help="no progress bars")
    p.add_argument("--out", required=True, help="TREC run file to write")
    p.set_defaults(func=_cmd_search)

    p = sub.add_parser(
        "evaluate",
        help="score a TREC run against qrels (trec_eval semantics)",
        description="Score a run. --qrels takes a TREC qrels file, a BEIR qrels TSV (header "
        "detected), a BEIR folder or a dataset spec such as bible:sw.",
        formatter_class=fmt,
    )
    p.add_argument("--qrels", required=True, help="qrels file, BEIR folder or dataset spec")
    p.add_argument("--run", required=True, help="TREC run file")
    p.add_argument("--split", default="test", help="qrels split for folders and dataset specs")
    p.add_argument(
        "--measures", type=measure_list, default=DEFAULT_MEASURES, help="comma-separated measures"
    )
    p.add_argument(
        "--relevance-level",
        type=positive_int,
        default=1,
        help="minimum grade counted as relevant by binary measures (an integer >= 1)",
    )
    p.add_argument("--json", action="store_true", help="print JSON instead of text")
    p.add_argument("--per-query", action="store_true", help="also print per-query values")
    p.set_defaults(func=_cmd_evaluate)

    p = sub.add_parser(
        "compare",
        help="compare runs with paired significance tests",
        description="Mean scores, differences to a baseline and (corrected) p-values of "
        "paired tests over queries, for each measure.",
        formatter_class=fmt,
    )
    p.add_argument(
        "runs", nargs="+", metavar="RUN", help="TREC run files (the first is the default baseline)"
    )
    p.add_argument("--qrels", required=True, help="qrels file, BEIR folder or dataset spec")
    p.add_argument("--split", default="test", help="qrels split for folders and dataset specs")
    p.add_argument("--baseline", default=None, help="baseline run (path or name; default: first)")
    p.add_argument(
        "--measures", type=measure_list, default=COMPARE_MEASURES, help="comma-separated measures"
    )
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
    p.set_defaults(func=_cmd_compare)
