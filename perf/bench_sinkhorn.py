"""Throughput of batched ``optical.ot.sinkhorn`` vs a per-pair loop over POT's log-domain Sinkhorn.

Both sides run a fixed number of iterations (default 100, eps 0.05) on ``1 - cosine`` costs of
random unit vectors, with square problems ``n = m = length``. POT is timed on at most
``--pot-max-pairs`` pairs per configuration and extrapolated linearly to the batch (it is a
Python loop over independent pairs, so its time is linear in the batch size).

Usage::

    python perf/bench_sinkhorn.py --quick
    python perf/bench_sinkhorn.py --out bench.json
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import statistics
import time
import warnings
from collections.abc import Callable

import numpy as np
import ot as pot
import torch

from optical.ot import ot_cost, sinkhorn

FULL = {"batch_sizes": [1, 8, 32, 128], "lengths": [16, 64, 128, 256]}
QUICK = {"batch_sizes": [1, 32], "lengths": [16, 128]}


def median_seconds(fn: Callable[[], object], repeats: int, warmup: int = 1) -> float:
    """Median wall time of ``fn()`` over ``repeats`` calls after ``warmup`` calls."""
    for _ in range(warmup):
        fn()
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        fn()
        times.append(time.perf_counter() - start)
    return statistics.median(times)


def cosine_cost(bsz: int, length: int, dim: int = 64, dtype=torch.float32) -> torch.Tensor:
    """``1 - cos`` between random unit vectors, shape (bsz, length, length), values in [0, 2]."""
    x = torch.nn.functional.normalize(torch.randn(bsz, length, dim, dtype=dtype), dim=-1)
    y = torch.nn.functional.normalize(torch.randn(bsz, length, dim, dtype=dtype), dim=-1)
    return 1.0 - x @ y.transpose(-1, -2)


def bench_config(bsz: int, length: int, args: argparse.Namespace) -> dict[str, object]:
    torch.manual_seed(0)
    dtype = getattr(torch, args.dtype)
    cost = cosine_cost(bsz, length, dtype=dtype)
    kw = {"eps": args.eps, "max_iter": args.iters}

    def ours_forward() -> None:
        with torch.no_grad():
            sinkhorn(cost, **kw)

    grad_cost = cost.clone().requires_grad_(True)

    def ours_backward() -> None:
        ot_cost(sinkhorn(grad_cost, **kw), grad_cost).sum().backward()
        grad_cost.grad = None

    ours_s = median_seconds(ours_forward, args.repeats)
    ours_bwd_s = median_seconds(ours_backward, args.repeats) if args.backward else float("nan")

    pairs = min(bsz, args.pot_max_pairs)
    cost_np = cost[:pairs].numpy()
    a = np.full(length, 1.0 / length, dtype=cost_np.dtype)

    def pot_loop() -> None:
        for k in range(pairs):
            # stopThr=0 never triggers, so POT also runs exactly `iters` iterations.
            pot.sinkhorn(
                a, a, cost_np[k], args.eps, method="sinkhorn_log",
                numItermax=args.iters, stopThr=0.0, warn=False,
            )  # fmt: skip

    pot_s = median_seconds(pot_loop, max(1, args.repeats // 2)) * bsz / pairs
    return {
        "batch": bsz,
        "length": length,
        "ours_ms": 1e3 * ours_s,
        "ours_fwd_bwd_ms": 1e3 * ours_bwd_s,
        "pot_ms": 1e3 * pot_s,
        "pot_pairs_timed": pairs,
        "ours_problems_per_s": bsz / ours_s,
        "pot_problems_per_s": bsz / pot_s,
        "speedup": pot_s / ours_s,
    }


def markdown_table(rows: list[dict[str, object]]) -> str:
    head = (
        "| batch | length | ours ms/batch | ours fwd+bwd ms | POT loop ms/batch "
        "| ours problems/s | POT problems/s | speedup |\n"
        "|---:|---:|---:|---:|---:|---:|---:|---:|"
    )
    lines = [head]
    for r in rows:
        extrap = "" if r["pot_pairs_timed"] == r["batch"] else f" (x{r['pot_pairs_timed']})"
        lines.append(
            f"| {r['batch']} | {r['length']} | {r['ours_ms']:.2f} | {r['ours_fwd_bwd_ms']:.2f} "
            f"| {r['pot_ms']:.1f}{extrap} | {r['ours_problems_per_s']:.0f} "
            f"| {r['pot_problems_per_s']:.0f} | {r['speedup']:.1f}x |"
        )
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="2 batch sizes x 2 lengths")
    parser.add_argument("--batch-sizes", type=int, nargs="+", help="override batch sizes")
    parser.add_argument("--lengths", type=int, nargs="+", help="override lengths (n = m)")
    parser.add_argument("--iters", type=int, default=100, help="fixed Sinkhorn iterations")
    parser.add_argument("--eps", type=float, default=0.05)
    parser.add_argument("--dtype", choices=["float32", "float64"], default="float32")
    parser.add_argument("--repeats", type=int, default=5, help="timed repeats (median)")
    parser.add_argument("--pot-max-pairs", type=int, default=16, help="POT pairs timed/config")
    parser.add_argument("--no-backward", dest="backward", action="store_false")
    parser.add_argument("--threads", type=int, help="torch.set_num_threads")
    parser.add_argument("--out", help="write results as JSON to this path")
    args = parser.parse_args(argv)
    if args.threads:
        torch.set_num_threads(args.threads)
    grid = QUICK if args.quick else FULL
    batch_sizes = args.batch_sizes or grid["batch_sizes"]
    lengths = args.lengths or grid["lengths"]

    load_before = os.getloadavg()[0]
    rows = []
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        for length in lengths:
            for bsz in batch_sizes:
                rows.append(bench_config(bsz, length, args))
                print(f"done batch={bsz} length={length}", flush=True)
    meta = {
        "torch": torch.__version__,
        "pot": pot.__version__,
        "threads": torch.get_num_threads(),
        "machine": platform.processor() or platform.machine(),
        "iters": args.iters,
        "eps": args.eps,
        "dtype": args.dtype,
        "repeats": args.repeats,
        # other processes on a small machine distort timings badly; judge them with this
        "loadavg_1min_before_after": [round(load_before, 2), round(os.getloadavg()[0], 2)],
    }
    print(f"\n{meta}\n")
    print(markdown_table(rows))
    print("\n(xK): POT timed on K pairs and extrapolated linearly to the batch.")
    if args.out:
        with open(args.out, "w") as fh:
            json.dump({"meta": meta, "rows": rows}, fh, indent=2)


if __name__ == "__main__":
    main()
