"""``optical encode | search``: index a corpus with a document encoder, rank a dataset's queries.

The scoring commands (``evaluate``, ``compare``) are :mod:`optical.cli.evaluation_cmd`; what
both read from the command line is :mod:`optical.cli.retrieval_inputs`.
"""

from __future__ import annotations

import argparse
import re
import time
from pathlib import Path

from optical.cli.argtypes import device, positive_int
from optical.cli.defaults_help import defaults_parser
from optical.cli.retrieval_inputs import load_corpus_spec, load_qrels_spec, load_queries_spec
from optical.dataset_spec import DatasetSpec

__all__ = ["register", "load_qrels_spec", "load_corpus_spec"]


def _model_label(name: str) -> str:
    return re.sub(r"[^A-Za-z0-9._+-]+", "-", name.rsplit(":", 1)[-1].rstrip("/").rsplit("/", 1)[-1])


# --------------------------------------------------------------------------- commands


def _cmd_encode(args: argparse.Namespace) -> int:
    """encode a corpus into a dense index (cached by model fingerprint and corpus)

    Encode a corpus with a document encoder and save a FAISS index
    (default: the cache $OPTICAL_HOME/indexes/<corpus>-<fingerprint>-<checksum>).
    """
    from optical.encoders import load_encoder
    from optical.retrieval import DenseIndex, corpus_index

    spec = DatasetSpec.parse(args.corpus)
    corpus = load_corpus_spec(spec)
    encoder = load_encoder(args.model, device=args.device)
    start = time.perf_counter()
    options = {
        "kind": args.kind,
        "with_tokens": args.tokens,
        "batch_size": args.batch_size,
        "progress": not args.quiet,
        **{k: v for k, v in (("nlist", args.nlist), ("nprobe", args.nprobe)) if v},
    }
    if args.out:
        index = DenseIndex.build(encoder, corpus, path=args.out, **options)
    else:
        index = corpus_index(encoder, corpus, spec.corpus_name, **options)
    sizes = index.nbytes()
    print(
        f"{index.path}\t{len(index)} documents, {index.dim}-d {index.kind}"
        + (f", {index.tokens.n_tokens} token vectors" if index.tokens is not None else "")
        + f", {(sizes['pooled'] + sizes['tokens']) / 2**20:.1f} MiB"
        + f" ({time.perf_counter() - start:.1f} s)"
    )
    return 0


def _cmd_search(args: argparse.Namespace) -> int:
    """rank a dataset's queries and write a TREC run

    Encode the queries of a dataset, search the document index and write a
    TREC run file (the index is built and cached on first use).
    """
    from optical.data import write_run
    from optical.encoders import load_encoder
    from optical.retrieval import DenseIndex, Retriever, corpus_index
    from optical.retrieval.query_checks import check_queries

    if Path(args.out).is_dir():
        raise ValueError(f"--out {args.out}: a folder; expected the path of the TREC run file to write")
    spec = DatasetSpec.parse(args.dataset)
    queries = load_queries_spec(spec, args.split)
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


# --------------------------------------------------------------------------- parsers


def _add_encoding_options(p: argparse.ArgumentParser, quiet: str) -> None:
    """``--batch-size``, ``--device`` and ``--quiet`` (whose help is ``quiet``)."""
    p.add_argument("--batch-size", type=positive_int, default=64)
    p.add_argument("--device", type=device, default=None, help="cuda, cpu, ... (default: cuda if available)")
    p.add_argument("--quiet", action="store_true", help=quiet)


def register(sub: argparse._SubParsersAction) -> None:
    p = defaults_parser(sub, "encode", _cmd_encode)
    p.add_argument("--model", required=True, help="document encoder: bundled name, HF id or folder")
    p.add_argument(
        "--corpus", required=True, help="bible:<lang>, cldr:<lang>, a BEIR folder or corpus.jsonl"
    )
    p.add_argument("--out", default=None, help="index folder (default: the cache)")
    p.add_argument("--tokens", action="store_true", help="also store token vectors (MaxSim/OT)")
    p.add_argument("--kind", choices=["flat", "ivf", "hnsw"], default="flat", help="FAISS index")
    p.add_argument("--nlist", type=positive_int, default=None, help="ivf: number of lists")
    p.add_argument("--nprobe", type=positive_int, default=None, help="ivf: lists probed per query")
    _add_encoding_options(p, quiet="no progress bar")

    p = defaults_parser(sub, "search", _cmd_search)
    p.add_argument("--query-model", required=True, help="query encoder (e.g. a distilled student)")
    p.add_argument("--doc-model", default=None, help="document encoder (default: --query-model)")
    p.add_argument("--dataset", required=True, help="bible:<lang>, bible-xref:<lang>, cldr:<lang> or a BEIR folder")
    p.add_argument("--split", default="test", help="query split")
    p.add_argument("--mode", choices=["pooled", "maxsim", "ot"], default="pooled")
    p.add_argument("--k", type=positive_int, default=100, help="documents per query")
    p.add_argument(
        "--rerank-depth", type=positive_int, default=100, help="candidates reranked (maxsim, ot)"
    )
    p.add_argument("--index", default=None, help="use this index folder instead of the cache")
    p.add_argument("--tag", default=None, help="run tag (default: <model>.<mode>)")
    _add_encoding_options(p, quiet="no progress bars")
    p.add_argument("--out", required=True, help="TREC run file to write")
