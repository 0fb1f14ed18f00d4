"""Where a distillation step's time goes: student forward, Sinkhorn (OT), loss/backward,
optimizer; and the teacher forward that the teacher cache saves.

    python perf/bench_train_step.py [--batch 32] [--max-length 64] [--repeats 5] [--threads 2]

Uses the bundled e5-small (student initialised from the teacher, embeddings frozen) on
Swahili->English Bible pairs; prints a markdown table (median over repeats, after a
warm-up step) and the OT share of a step.
"""

from __future__ import annotations

import argparse
import json
import statistics
import time

import torch


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--batch", type=int, default=32)
    ap.add_argument("--max-length", type=int, default=64)
    ap.add_argument("--repeats", type=int, default=5)
    ap.add_argument("--threads", type=int, default=None)
    ap.add_argument("--eps", type=float, default=0.05)
    ap.add_argument("--max-iter", type=int, default=100)
    ap.add_argument("--out", default=None)
    args = ap.parse_args()
    if args.threads:
        torch.set_num_threads(args.threads)

    from optical.dataset_loading import load_bitext
    from optical.encoders import Encoder
    from optical.losses import TokenGeometry, cosine_cost, token_marginals
    from optical.ot import sinkhorn
    from optical.train.student import build_student
    from optical.train.teacher_cache import teacher_outputs

    torch.manual_seed(0)
    pairs = load_bitext("bible:sw", "train")[: args.batch * (args.repeats + 1)]
    teacher = Encoder("bundled:multilingual-e5-small").eval()
    teacher.requires_grad_(False)
    student = build_student("bundled:multilingual-e5-small", teacher.hidden_size)
    student.train()
    opt = torch.optim.AdamW([p for p in student.parameters() if p.requires_grad], lr=2e-5)

    t0 = time.perf_counter()
    targets = teacher_outputs(teacher, pairs.tgt, True, max_length=args.max_length, progress=False, cache=False)
    teacher_s_per_batch = (time.perf_counter() - t0) / (args.repeats + 1)
    geometry = TokenGeometry.fit(targets.sample_tokens(), "center")

    phases: dict[str, list[float]] = {"student forward": [], "sinkhorn (OT)": [], "loss + backward": [],
                                      "optimizer step": [], "total step": []}
    for r in range(args.repeats + 1):
        idx = list(range(r * args.batch, (r + 1) * args.batch))
        t_start = time.perf_counter()
        batch = student.tokenize([pairs.src[i] for i in idx], True, max_length=args.max_length)
        out = student(batch)
        t_fwd = time.perf_counter()
        t_tok, t_mask = targets.token_batch(idx, "cpu")
        cost = cosine_cost(out.hidden, t_tok, geometry)
        a = token_marginals(out.hidden, out.content_mask)
        b = token_marginals(t_tok, t_mask)
        t_ot0 = time.perf_counter()
        plan = sinkhorn(cost.detach(), a, b, mask_a=out.content_mask, mask_b=t_mask, eps=args.eps,
                        max_iter=args.max_iter)
        t_ot = time.perf_counter()
        loss = (plan * cost).sum((-1, -2)).mean()
        loss.backward()
        t_bwd = time.perf_counter()
        opt.step()
        opt.zero_grad(set_to_none=True)
        t_end = time.perf_counter()
        if r == 0:
            continue  # warm-up
        phases["student forward"].append(t_fwd - t_start + (t_ot0 - t_fwd))
        phases["sinkhorn (OT)"].append(t_ot - t_ot0)
        phases["loss + backward"].append(t_bwd - t_ot)
        phases["optimizer step"].append(t_end - t_bwd)
        phases["total step"].append(t_end - t_start)
    med = {k: statistics.median(v) for k, v in phases.items()}
    print(f"batch {args.batch}, max_length {args.max_length}, eps {args.eps}, {args.max_iter} Sinkhorn iterations, "
          f"{torch.get_num_threads()} threads, median of {args.repeats}")
    print("| phase | seconds | share of step |\n|---|---:|---:|")
    for k, v in med.items():
        print(f"| {k} | {v:.3f} | {100 * v / med['total step']:.1f}% |")
    print(f"| teacher forward (saved by the cache) | {teacher_s_per_batch:.3f} | - |")
    if args.out:
        with open(args.out, "w") as fh:
            json.dump({"median_s": med, "teacher_s_per_batch": teacher_s_per_batch, "args": vars(args)}, fh, indent=2)


if __name__ == "__main__":
    main()
