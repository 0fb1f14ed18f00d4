"""``optical distill``: train a student (OPTICAL or a baseline objective)."""

from __future__ import annotations

import argparse
import json

from optical.train.config import OBJECTIVES, load_config

EPILOG = """\
Settings come from the defaults, then --config (TOML with [model] [data] [objective]
[optim] [run] sections), then key=value overrides, e.g.

  optical distill --config configs/optical_sw.toml objective.eps=0.02 run.seed=1
  optical distill objective.name=mse data.train=bible:tl run.out_dir=runs/mse-tl
  torchrun --nproc_per_node=2 -m optical distill --config configs/optical_sw.toml

The run folder (run.out_dir) receives config.json, metrics.jsonl (loss, lr,
throughput, dev MRR@10), checkpoint/ (resumable with --resume), best/ and last/
(Hugging Face folders loadable by from_pretrained) and summary.json.
Objectives: """ + ", ".join(OBJECTIVES)


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("distill", help="distil a student encoder from a frozen teacher on bitext",
                       description=__doc__, epilog=EPILOG, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--config", help="TOML config file")
    p.add_argument("--resume", action="store_true", help="continue from the run folder's last checkpoint")
    p.add_argument("--print-config", action="store_true", help="print the resolved config and exit")
    p.add_argument("overrides", nargs="*", metavar="section.key=value", help="settings that override the file")
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    cfg = load_config(args.config, args.overrides)
    if args.print_config:
        print(cfg.dumps())
        return 0
    from optical.train.loop import distill

    summary = distill(cfg, resume=args.resume)
    if summary:
        print(json.dumps({k: v for k, v in summary.items() if k != "config"}, indent=2))
    return 0
