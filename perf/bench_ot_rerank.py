"""OT-rerank throughput: (query, candidate) pairs batched across queries vs one query at a time.

The 7,957-verse Bible corpus (cached index with token store) under the bundled teacher,
``--queries`` Swahili test queries, the pooled top ``--depth`` reranked by OT (the sweep's
setting: eps 0.05, 100 Sinkhorn iterations). "one query at a time" calls the retriever
once per query, so Sinkhorn batches hold one query's candidates only (what OT rerank did
before it batched across queries); "batched" passes all queries at once. The two runs
must rank and score identically (checked; the script fails otherwise).

Usage::

    python perf/bench_ot_rerank.py --queries 100 --out perf/results/ot_rerank.json
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import time

import torch

from optical.dataset_loading import load_collection
from optical.encoders import load_encoder
from optical.retrieval import Retriever, corpus_index


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--dataset", default="bible:sw")
    parser.add_argument("--model", default="bundled:multilingual-e5-small")
    parser.add_argument("--queries", type=int, default=100)
    parser.add_argument("--depth", type=int, default=100)
    parser.add_argument("--out", default=None)
    args = parser.parse_args()

    collection = load_collection(args.dataset, "test")
    encoder = load_encoder(args.model)
    index = corpus_index(encoder, collection.corpus, "bible", with_tokens=True)
    retriever = Retriever(encoder, encoder, index)
    queries = dict(list(collection.queries.items())[: args.queries])
    retriever.search(dict(list(queries.items())[:2]), k=args.depth, mode="ot", rerank_depth=args.depth)  # warm-up

    start = time.perf_counter()
    one = {}
    for qid, text in queries.items():
        one |= retriever.search({qid: text}, k=args.depth, mode="ot", rerank_depth=args.depth)
    one_s = time.perf_counter() - start
    start = time.perf_counter()
    batched = retriever.search(queries, k=args.depth, mode="ot", rerank_depth=args.depth)
    batched_s = time.perf_counter() - start
    same = {q: dict(r) for q, r in one.items()} == {q: dict(r) for q, r in batched.items()}

    result = {
        "dataset": args.dataset, "model": args.model, "queries": len(queries), "depth": args.depth,
        "one_query_at_a_time_q_per_s": round(len(queries) / one_s, 2),
        "batched_q_per_s": round(len(queries) / batched_s, 2),
        "speedup": round(one_s / batched_s, 2),
        "identical_runs": same,
        "threads": torch.get_num_threads(), "cpu": platform.processor() or platform.machine(),
        "cpus": os.cpu_count(), "torch": torch.__version__,
    }
    print(json.dumps(result, indent=2))
    if args.out:
        with open(args.out, "w", encoding="utf-8") as fh:
            json.dump(result, fh, indent=2)
            fh.write("\n")
    if not same:
        raise SystemExit("the batched OT rerank does not reproduce the one-query-at-a-time run")


if __name__ == "__main__":
    main()
