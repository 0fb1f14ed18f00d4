"""``optical bench``: evaluate systems per language into the results store, print the table."""

from __future__ import annotations

import argparse

from optical.assets.languages import BIBLE_LANGUAGES, parse_languages
from optical.cli.argtypes import device, positive_int

FORMATS = ("markdown", "latex")  # optical.report.paper_table.FORMATS (imported lazily)

EPILOG = """\
Systems: zero-shot | a model (bundled:..., HF id, folder) | a distillation run folder |
query=<model>,doc=<model>. Datasets: bible:<lang>, bible-xref:<lang>, cldr:<lang>, or a BEIR folder.

  optical bench --systems zero-shot                       # README zero-shot table
  optical bench --systems zero-shot runs/optical-sw runs/mse-sw --languages sw,tl,de
  optical bench --table-only                              # just print the stored table
  optical bench --table-only --format latex > table.tex   # the same as booktabs LaTeX tables
  optical bench --table-only --group bible-main --systems zero-shot optical-sw mse-sw   # one sweep's rows
  optical bench --table-only --datasets bible-xref:sw bible-xref:en bible-xref:en-web --systems zero-shot optical-sw
                                                          # cross-reference task, with the gap to the teacher ceiling

Every table's heading (caption) names the task and the scoring mode (--mode). Tables of the
cross-reference task (bible-xref) add the primary measure's gap to the teacher ceiling:
zero-shot with the WEB verse itself as the query (en-web), in the same mode; the note states
it and the KJV (en) value, or says that those rows are missing.

Rows already in the store (same system, dataset, split, settings) are not recomputed.
"""


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("bench", help="evaluate systems per language (results store + markdown table)",
                       description=__doc__, epilog=EPILOG, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--systems", nargs="+", default=["zero-shot"], help="system specs (default: zero-shot)")
    p.add_argument("--languages", default=None,
                   help="Bible query languages (comma-separated, 'all'; default sw,tl,bn,hi,de,fr,en)")
    p.add_argument("--datasets", nargs="*", default=None, help="explicit dataset specs (instead of --languages)")
    p.add_argument("--split", default="test", choices=["test", "dev"], help="query split (default test)")
    p.add_argument("--mode", default="pooled", choices=["pooled", "maxsim", "ot"], help="search mode")
    p.add_argument("--k", type=positive_int, default=100, help="documents retrieved per query (default 100)")
    p.add_argument("--store", default=None, help="results store (default $OPTICAL_RESULTS or runs/results.jsonl)")
    p.add_argument("--baseline", default="zero-shot", help="system the significance marks compare against")
    p.add_argument("--table-only", action="store_true", help="do not evaluate; print the table from the store")
    p.add_argument("--format", default="markdown", choices=FORMATS,
                   help="table format: markdown pipe tables (default) or booktabs LaTeX (captions name the "
                        "significance test, correction and alpha)")
    p.add_argument("--group", default=None,
                   help="experiment group: labels the new rows and restricts the table to it (a sweep's name, "
                        "e.g. bible-main; default: rows of every group, averaged per system name)")
    p.add_argument("--device", type=device, default=None, help="cpu, cuda, ... (default: cuda when available)")
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from optical.dataset_spec import DatasetSpec
    from optical.report.paper_table import bench_table
    from optical.results import ResultsStore
    from optical.results.collect import bench
    from optical.results.frames import per_query_frame
    from optical.systems import parse_system

    store = ResultsStore(args.store)
    datasets = args.datasets or [f"bible:{c}" for c in parse_languages(args.languages, BIBLE_LANGUAGES)]
    systems = [parse_system(s) for s in args.systems]
    if not args.table_only:
        bench(systems, datasets, split=args.split, store=store, k=args.k, mode=args.mode, device=args.device,
              extra={"group": args.group} if args.group else None)
    per_query = per_query_frame(store)
    if per_query.empty:
        raise ValueError(f"the results store {store.path} is empty: run `optical bench` first")
    tasks: dict[str | None, list[str]] = {}  # one table per embedded task (bible, bible-xref, ...)
    for spec in (DatasetSpec.parse(d) for d in datasets):
        tasks.setdefault(spec.family if spec.is_embedded else None, []).append(spec.language)
    for family, languages in tasks.items():
        print()
        print(bench_table(per_query, systems=[s.name for s in systems], languages=languages,
                          baseline=args.baseline, split=args.split, dataset_family=family, group=args.group,
                          fmt=args.format, mode=args.mode))
    return 0
