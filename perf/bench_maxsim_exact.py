"""Exact MaxSim over the whole Bible corpus: queries per second, screened vs direct.

Exact MaxSim scores every one of the 7,957 English New-Testament verses for each query
(late interaction without a pooled candidate stage). Two paths give the same top k, bit
for bit (checked here on every query both score):

- *direct*: every document scored exactly (float64 products of the float16 tokens);
- *screened*: a float32 screen of every document with a proven error bound, then exact
  rescoring of the documents the bound cannot rule out
  (:mod:`optical.retrieval.maxsim_screen`).

Query encoding is excluded (the token vectors are computed first). Target (issue 13):
>= 20 queries/s on the 2-core CPU.

Also measured: how often MaxSim *reranking* of the pooled top-N candidates (the fast
default of ``mode="maxsim"`` on large indexes) gives the exact top 10, and the exact
measures (R@1 and MRR@10 of the aligned verse) for both, through
:meth:`optical.retrieval.Retriever.search`.

Usage::

    python perf/bench_maxsim_exact.py --out perf/results/maxsim_exact.json
    python perf/bench_maxsim_exact.py --queries 100 --direct-queries 20   # quicker
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import time

import numpy as np
import torch

from optical.dataset_loading import load_collection
from optical.encoders import load_encoder
from optical.evaluation import evaluate
from optical.retrieval import Retriever, corpus_index, encode_texts
from optical.retrieval.maxsim_screen import _layout
from optical.retrieval.token_ranking import maxsim_exact, maxsim_exact_direct

TARGET_QPS = 20.0


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--model", default="bundled:multilingual-e5-small")
    parser.add_argument("--dataset", default="bible:sw")
    parser.add_argument("--queries", type=int, default=500, help="queries timed on the screened path")
    parser.add_argument("--direct-queries", type=int, default=50, help="queries timed on the direct path")
    parser.add_argument("--k", type=int, default=100)
    parser.add_argument("--threads", type=int, default=None)
    parser.add_argument("--rerank-depths", default="100,1000", help="pooled candidates reranked, compared")
    parser.add_argument("--out", default=None, help="write results as JSON")
    args = parser.parse_args(argv)
    if args.threads:
        torch.set_num_threads(args.threads)
    device = torch.device("cpu")
    encoder = load_encoder(args.model, device="cpu")
    collection = load_collection(args.dataset, "test")
    index = corpus_index(encoder, collection.corpus, "bible", with_tokens=True, progress=False)
    store, n_docs = index.tokens, len(index)
    texts = list(collection.queries.values())[: args.queries]
    _, q_tokens = encode_texts(encoder, texts, True, 64, with_tokens=True, progress=False)
    q_tokens = [t for t in q_tokens if len(t)]

    t0 = time.perf_counter()
    _layout(store)
    layout_s = time.perf_counter() - t0
    t0 = time.perf_counter()
    screened = maxsim_exact(store, n_docs, q_tokens, args.k, device)
    screened_s = time.perf_counter() - t0
    m = min(args.direct_queries, len(q_tokens))
    t0 = time.perf_counter()
    direct = maxsim_exact_direct(store, n_docs, q_tokens[:m], args.k, device)
    direct_s = time.perf_counter() - t0
    identical = all(
        np.array_equal(a[0], b[0]) and np.array_equal(a[1], b[1])
        for a, b in zip(screened[:m], direct, strict=True)
    )
    res = {
        "machine": {"python": platform.python_version(), "torch": torch.__version__, "cpu_count": os.cpu_count(),
                    "threads": torch.get_num_threads(), "load_1min": os.getloadavg()[0]},
        "corpus": {"docs": n_docs, "tokens": store.n_tokens, "dim": store.dim},
        "k": args.k,
        "screened": {"queries": len(q_tokens), "seconds": screened_s, "queries_per_s": len(q_tokens) / screened_s,
                     "layout_build_s": layout_s},
        "direct": {"queries": m, "seconds": direct_s, "queries_per_s": m / direct_s},
        "identical_top_k_on_direct_queries": identical,
        "target_queries_per_s": TARGET_QPS,
    }
    res["speedup"] = res["screened"]["queries_per_s"] / res["direct"]["queries_per_s"]
    # rerank of the pooled top N vs exact, through the retriever (same queries)
    retriever = Retriever(encoder, encoder, index)
    queries = dict(list(collection.queries.items())[: args.queries])
    measures = ["R(rel=2)@1", "RR(rel=2)@10"]
    exact_run = retriever.search(queries, k=10, mode="maxsim", exact=True)
    res["exact_measures"] = dict(evaluate(exact_run, collection.qrels, measures))
    res["rerank"] = {}
    for depth in [int(x) for x in args.rerank_depths.split(",")]:
        run = retriever.search(queries, k=10, mode="maxsim", exact=False, rerank_depth=depth)
        same = sum(
            sorted(run[q].items(), key=lambda kv: (-kv[1], kv[0]))[:10]
            == sorted(exact_run[q].items(), key=lambda kv: (-kv[1], kv[0]))[:10]
            for q in queries
        )
        res["rerank"][str(depth)] = {"top10_identical_share": same / len(queries),
                                     "measures": dict(evaluate(run, collection.qrels, measures))}
    print(json.dumps(res, indent=2))
    if args.out:
        with open(args.out, "w", encoding="utf-8") as fh:
            json.dump(res, fh, indent=2)
    return 0 if identical else 1


if __name__ == "__main__":
    raise SystemExit(main())
