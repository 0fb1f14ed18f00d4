"""``optical sweep``: run a declarative experiment spec (resumable)."""

from __future__ import annotations

import argparse


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("sweep", help="train + evaluate a grid of runs from a TOML spec (resumable)",
                       description=__doc__ + "\n\n" + _doc(), formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--spec", required=True, help="sweep spec (TOML), e.g. configs/sweeps/bible_main.toml")
    p.add_argument("--store", default=None, help="results store (default: the spec's, else runs/results.jsonl)")
    p.add_argument("--dry-run", action="store_true", help="list the planned runs and exit")
    p.add_argument("--train-only", action="store_true", help="train, do not evaluate")
    p.add_argument("--only", default=None, metavar="PATTERNS",
                   help="comma-separated system or run-folder names (shell patterns) to run, "
                        "e.g. 'optical-sw-s0,*-tl-s0'; the rest of the spec is left for later")
    p.add_argument("--no-zero-shot", action="store_true", help="do not (re-)evaluate the zero-shot systems")
    p.add_argument("set", nargs="*", metavar="key=value",
                   help="override a [sweep] key (e.g. runs_dir=...) or a base setting (e.g. optim.max_steps=5)")
    p.set_defaults(func=run)


def _doc() -> str:
    from optical.sweeps import runner

    return runner.__doc__ or ""


def run(args: argparse.Namespace) -> int:
    from optical.results import ResultsStore
    from optical.sweeps.runner import load_spec, run_sweep
    from optical.train.config_values import parse_assignments

    # key=value text is parsed against the key's type, as `optical distill` does
    spec = load_spec(args.spec, parse_assignments(args.set))
    store = ResultsStore(args.store or spec.store)
    only = [p.strip() for p in args.only.split(",") if p.strip()] if args.only else None
    run_sweep(spec, store, dry_run=args.dry_run, train_only=args.train_only, only=only,
              skip_zero_shot=args.no_zero_shot)
    return 0
