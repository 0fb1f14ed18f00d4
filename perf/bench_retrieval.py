"""Retrieval speed: corpus encoding, query latency, large-corpus FAISS search, index size.

(a) Corpus encoding throughput on N Bible verses: a naive loop (fixed batches in input
    order, no bucketing) vs ``Encoder.encode`` (batches bucketed by character length)
    vs ``optical.retrieval.encode_texts`` (bucketed by *tokenised* length, the path index
    building uses). Padding overhead = computed token slots / real tokens.
(b) Single-query latency on the 7,957-verse Bible corpus (cached index with token store;
    the 500 Swahili test queries): pooled FAISS search, and MaxSim rerank of the top 100
    pooled candidates — each including and excluding query encoding.
(c) Pooled search latency on a synthetic corpus of random 384-d unit vectors (default
    1,000,000) for flat, HNSW and IVF indexes, with recall@10 against flat.
(d) Index size per document (pooled FAISS file, token store, stored texts).

Targets (2-core CPU): pooled p95 <= 10 ms at 8k docs and MaxSim rerank p95 <= 50 ms
(both excluding query encoding), encoding >= 1.5x the naive loop.

Usage::

    OPTICAL_HOME=/tmp/ohome python perf/bench_retrieval.py --quick
    OPTICAL_HOME=/tmp/ohome python perf/bench_retrieval.py --out results.json
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
from optical.retrieval import DenseIndex, Retriever, corpus_index, encode_texts
from optical.retrieval.encoding import token_counts

TARGETS = {"pooled_p95_ms": 10.0, "maxsim_p95_ms": 50.0, "encode_speedup": 1.5}


def percentiles(values: list[float]) -> dict[str, float]:
    arr = np.asarray(values, dtype=np.float64)
    return {
        "p50": float(np.percentile(arr, 50)),
        "p95": float(np.percentile(arr, 95)),
        "mean": float(arr.mean()),
    }


# --------------------------------------------------------------------------- (a)


def naive_encode(encoder, texts: list[str], batch_size: int) -> np.ndarray:
    """Fixed batches in input order, no bucketing: the baseline."""
    out = np.zeros((len(texts), encoder.hidden_size), dtype=np.float32)
    encoder.eval()
    with torch.inference_mode():
        for start in range(0, len(texts), batch_size):
            batch = encoder.tokenize(texts[start : start + batch_size], is_query=False)
            out[start : start + batch_size] = encoder.pool(encoder(batch)).cpu().numpy()
    return out


def padded_slots(lengths: np.ndarray, batches: list[np.ndarray]) -> int:
    return int(sum(len(b) * lengths[b].max() for b in batches))


def bench_encoding(encoder, corpus, n_docs: int, batch_size: int, repeats: int) -> dict:
    rng = np.random.default_rng(0)
    ids = list(corpus)
    pick = rng.choice(len(ids), size=min(n_docs, len(ids)), replace=False)
    texts = [corpus[ids[i]].full_text() for i in pick]
    lengths, _ = token_counts(encoder, texts, is_query=False)
    chars = np.array([len(t) for t in texts])
    in_order = [
        np.arange(s, min(s + batch_size, len(texts))) for s in range(0, len(texts), batch_size)
    ]
    by_chars = [
        np.argsort(-chars, kind="stable")[s : s + batch_size]
        for s in range(0, len(texts), batch_size)
    ]
    by_tokens = [
        np.argsort(-lengths, kind="stable")[s : s + batch_size]
        for s in range(0, len(texts), batch_size)
    ]
    real = int(lengths.sum())
    methods = {
        "naive loop (input order)": (lambda: naive_encode(encoder, texts, batch_size), in_order),
        "Encoder.encode (char buckets)": (
            lambda: encoder.encode(texts, is_query=False, batch_size=batch_size),
            by_chars,
        ),
        "encode_texts (token buckets)": (
            lambda: encode_texts(encoder, texts, False, batch_size, with_tokens=False)[0],
            by_tokens,
        ),
    }
    naive_encode(encoder, texts[: batch_size * 2], batch_size)  # warm-up
    results = {}
    reference = None
    for name, (fn, batches) in methods.items():
        times = []
        for _ in range(repeats):
            start = time.perf_counter()
            vectors = fn()
            times.append(time.perf_counter() - start)
        if reference is None:
            reference = vectors
        results[name] = {
            "seconds": min(times),
            "docs_per_s": len(texts) / min(times),
            "padding_overhead": padded_slots(lengths, batches) / real,
            "max_abs_diff_vs_naive": float(np.abs(vectors - reference).max()),
        }
    base = results["naive loop (input order)"]["seconds"]
    for r in results.values():
        r["speedup"] = base / r["seconds"]
    return {"n_docs": len(texts), "batch_size": batch_size, "real_tokens": real, "methods": results}


# --------------------------------------------------------------------------- (b)


def bench_latency(retriever: Retriever, queries: list[str], depth: int) -> dict:
    for q in queries[:5]:  # warm-up
        retriever.search_one(q, k=10, mode="maxsim", exact=False, rerank_depth=depth)
    out = {}
    for label, kwargs in {
        "pooled": {"mode": "pooled"},
        f"maxsim rerank top {depth}": {"mode": "maxsim", "exact": False, "rerank_depth": depth},
    }.items():
        incl, excl, enc = [], [], []
        for q in queries:
            t = retriever.search_one(q, k=10, **kwargs).timings
            incl.append(t["total"])
            excl.append(t["total"] - t["encode"])
            enc.append(t["encode"])
        out[label] = {
            "including_encoding_ms": percentiles(incl),
            "excluding_encoding_ms": percentiles(excl),
            "encoding_ms": percentiles(enc),
        }
    return out


# --------------------------------------------------------------------------- (c)


def bench_synthetic(
    n: int,
    dim: int,
    n_queries: int,
    kinds: list[str],
    ivf_nlist: int,
    hnsw_m: int,
    ef_construction: int,
) -> dict:
    rng = np.random.default_rng(0)
    vectors = rng.standard_normal((n, dim), dtype=np.float32)
    vectors /= np.linalg.norm(vectors, axis=1, keepdims=True)
    queries = rng.standard_normal((n_queries, dim), dtype=np.float32)
    queries /= np.linalg.norm(queries, axis=1, keepdims=True)
    ids = [str(i) for i in range(n)]
    results = {}
    truth = None
    variants = {"flat": [{}], "hnsw": [{}, {"ef_search": 256}], "ivf": [{}, {"nprobe": 64}]}
    for kind in kinds:
        params = {
            "flat": {},
            "ivf": {"nlist": ivf_nlist},
            "hnsw": {"hnsw_m": hnsw_m, "ef_construction": ef_construction},
        }[kind]
        start = time.perf_counter()
        index = DenseIndex.from_vectors(vectors, ids, kind=kind, **params)
        build = time.perf_counter() - start
        for knobs in variants[kind]:
            index.set_search_params(**knobs)
            found, lat = [], []
            for q in queries:
                t0 = time.perf_counter()
                _, pos = index.search(q[None], 10)
                lat.append((time.perf_counter() - t0) * 1000.0)
                found.append(pos[0])
            found = np.stack(found)
            if kind == "flat":
                truth = found
            recall = (
                float(
                    np.mean([len(set(a) & set(b)) / 10 for a, b in zip(found, truth, strict=True)])
                )
                if truth is not None
                else float("nan")
            )
            label = kind + "".join(
                f" {k}={v}" for k, v in index.meta["params"].items() if k in ("nprobe", "ef_search")
            )
            results[label] = {
                "build_s": build,
                "latency_ms": percentiles(lat),
                "recall@10_vs_flat": recall,
                "params": dict(index.meta["params"]),
            }
        del index
    return {"n_docs": n, "dim": dim, "n_queries": n_queries, "kinds": results}


# --------------------------------------------------------------------------- (d)


def index_sizes(index: DenseIndex) -> dict:
    n = len(index)
    files = {p.name: p.stat().st_size for p in index.path.iterdir()}
    return {
        "n_docs": n,
        "n_tokens": index.tokens.n_tokens if index.tokens is not None else 0,
        "pooled_bytes_per_doc": files["vectors.faiss"] / n,
        "tokens_bytes_per_doc": (files.get("tokens.npy", 0) + files.get("offsets.npy", 0)) / n,
        "texts_bytes_per_doc": files["docs.jsonl"] / n,
        "total_mib": sum(files.values()) / 2**20,
    }


# --------------------------------------------------------------------------- report


def report(res: dict) -> str:
    lines = ["| benchmark | setting | value |", "|---|---|---:|"]
    enc = res["encoding"]
    for name, r in enc["methods"].items():
        lines.append(
            f"| (a) encoding {enc['n_docs']} verses, batch {enc['batch_size']} | {name} | "
            f"{r['docs_per_s']:.1f} docs/s ({r['speedup']:.2f}x, padding {r['padding_overhead']:.2f}x) |"
        )
    for label, r in res["latency"]["modes"].items():
        for what in ("excluding_encoding_ms", "including_encoding_ms"):
            p = r[what]
            lines.append(
                f"| (b) {res['latency']['n_docs']} docs, {res['latency']['n_queries']} queries | "
                f"{label}, {what.replace('_ms', '').replace('_', ' ')} | "
                f"p50 {p['p50']:.2f} ms, p95 {p['p95']:.2f} ms |"
            )
    syn = res.get("synthetic")
    if syn:
        for kind, r in syn["kinds"].items():
            p = r["latency_ms"]
            lines.append(
                f"| (c) {syn['n_docs']:,} random {syn['dim']}-d | {kind} (build {r['build_s']:.0f} s, "
                f"recall@10 {r['recall@10_vs_flat']:.3f}) | p50 {p['p50']:.2f} ms, p95 {p['p95']:.2f} ms |"
            )
    s = res["sizes"]
    lines.append(
        f"| (d) index size ({s['n_docs']} docs, {s['n_tokens']} tokens) | pooled (FAISS) | {s['pooled_bytes_per_doc']:.0f} B/doc |"
    )
    lines.append(f"| (d) | token store (fp16 + offsets) | {s['tokens_bytes_per_doc']:.0f} B/doc |")
    lines.append(f"| (d) | stored texts | {s['texts_bytes_per_doc']:.0f} B/doc |")
    lines.append("")
    for name, ok in res["targets"].items():
        lines.append(f"- target {name}: {'met' if ok else 'MISSED'}")
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--quick", action="store_true", help="smaller sizes (about a minute)")
    parser.add_argument("--model", default="bundled:multilingual-e5-small")
    parser.add_argument("--dataset", default="bible:sw")
    parser.add_argument("--encode-docs", type=int, default=None, help="(a) verses (default 1000)")
    parser.add_argument("--batch-size", type=int, default=64)
    parser.add_argument("--repeats", type=int, default=None, help="(a) timing repeats (best of)")
    parser.add_argument("--queries", type=int, default=None, help="(b) queries (default 500)")
    parser.add_argument("--rerank-depth", type=int, default=100)
    parser.add_argument("--synthetic-docs", type=int, default=None, help="(c) default 1,000,000")
    parser.add_argument("--synthetic-queries", type=int, default=200)
    parser.add_argument("--kinds", default="flat,hnsw,ivf")
    parser.add_argument("--ivf-nlist", type=int, default=1024)
    parser.add_argument("--hnsw-m", type=int, default=16, help="(c) HNSW links per node")
    parser.add_argument("--ef-construction", type=int, default=40, help="(c) HNSW build beam")
    parser.add_argument("--skip-synthetic", action="store_true")
    parser.add_argument("--threads", type=int, default=None, help="torch and FAISS threads")
    parser.add_argument("--out", default=None, help="write results as JSON")
    args = parser.parse_args(argv)
    quick = args.quick
    n_encode = args.encode_docs or (256 if quick else 1000)
    repeats = args.repeats or (1 if quick else 2)
    n_queries = args.queries or (100 if quick else 500)
    n_synth = args.synthetic_docs or (100_000 if quick else 1_000_000)
    if args.threads:
        import faiss

        torch.set_num_threads(args.threads)
        faiss.omp_set_num_threads(args.threads)

    res: dict = {
        "machine": {
            "python": platform.python_version(),
            "torch": torch.__version__,
            "cpu_count": os.cpu_count(),
            "torch_threads": torch.get_num_threads(),
            "load_average_at_start": os.getloadavg(),
        },
        "args": vars(args),
    }
    collection = load_collection(args.dataset, "test")
    encoder = load_encoder(args.model)
    print(f"(a) encoding {n_encode} verses ...", flush=True)
    res["encoding"] = bench_encoding(encoder, collection.corpus, n_encode, args.batch_size, repeats)

    print("(b) query latency (cached corpus index; built on first use) ...", flush=True)
    index = corpus_index(encoder, collection.corpus, "bible", with_tokens=True)
    retriever = Retriever(encoder, encoder, index)
    queries = list(collection.queries.values())[:n_queries]
    res["latency"] = {
        "n_docs": len(index),
        "n_queries": len(queries),
        "modes": bench_latency(retriever, queries, args.rerank_depth),
    }
    res["sizes"] = index_sizes(index)
    if not args.skip_synthetic:
        print(f"(c) synthetic corpus of {n_synth:,} vectors ...", flush=True)
        res["synthetic"] = bench_synthetic(
            n_synth,
            index.dim,
            args.synthetic_queries,
            args.kinds.split(","),
            args.ivf_nlist,
            args.hnsw_m,
            args.ef_construction,
        )
    modes = res["latency"]["modes"]
    best_speedup = max(
        r["speedup"] for n, r in res["encoding"]["methods"].items() if not n.startswith("naive")
    )
    res["targets"] = {
        "pooled p95 <= 10 ms (excl. encoding)": modes["pooled"]["excluding_encoding_ms"]["p95"]
        <= TARGETS["pooled_p95_ms"],
        f"maxsim rerank top {args.rerank_depth} p95 <= 50 ms (excl. encoding)": modes[
            f"maxsim rerank top {args.rerank_depth}"
        ]["excluding_encoding_ms"]["p95"]
        <= TARGETS["maxsim_p95_ms"],
        "encoding >= 1.5x naive": best_speedup >= TARGETS["encode_speedup"],
    }
    res["machine"]["load_average_at_end"] = os.getloadavg()
    print(report(res))
    if args.out:
        with open(args.out, "w", encoding="utf-8") as fh:
            json.dump(res, fh, indent=2)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
