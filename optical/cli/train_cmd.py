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

Values are read as the setting's type: numbers, true/false, none (optional
settings), strings, lists as ["bible:de","bible:fr"] or bible:de,bible:fr.
Every value is checked (types, choices, ranges, unknown keys) before any model
loads, so --print-config refuses what training would refuse. Overrides may come
before or after the options.

The run folder (run.out_dir) receives config.json, metrics.jsonl (loss, lr,
throughput, dev MRR@10), checkpoint/ (resumable with --resume), best/ and last/
(Hugging Face folders loadable by from_pretrained) and summary.json. One process
writes a run folder at a time (a second one is refused). --resume continues the
checkpoint with the same settings (only run.progress, run.device, run.bf16,
run.eval_every, run.checkpoint_every, run.name, optim.max_steps and optim.epochs
may change); with no checkpoint it says so on stderr and starts from step 0.
Set-up phases and the step-0 dev evaluation are reported on stderr.
Objectives: """ + ", ".join(OBJECTIVES)


class _IntermixedParser(argparse.ArgumentParser):
    """Overrides may sit on either side of an option (``a=1 --resume b=2``)."""

    _inner = False

    def parse_known_args(self, args=None, namespace=None):  # type: ignore[override]
        if self._inner:
            return super().parse_known_args(args, namespace)
        self._inner = True
        try:
            return self.parse_known_intermixed_args(args, namespace)
        finally:
            self._inner = False


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("distill", help="distil a student encoder from a frozen teacher on bitext",
                       description=__doc__, epilog=EPILOG, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--config", help="TOML config file")
    p.add_argument("--resume", action="store_true", help="continue from the run folder's last checkpoint")
    p.add_argument("--print-config", action="store_true", help="print the resolved config and exit")
    p.add_argument("overrides", nargs="*", metavar="section.key=value", help="settings that override the file")
    p.__class__ = _IntermixedParser  # the subparser was made by the top-level parser's class
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
