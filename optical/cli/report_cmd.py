"""``optical report``: render the results store into docs/report.md (and an HTML page with figures,
and LaTeX tables)."""

from __future__ import annotations

import argparse
from pathlib import Path

EPILOG = """\
One section per sweep group (= research question) and dataset family: the paper-style
table (systems x languages, R@1 and MAP, † / ‡ = significantly better / worse than
zero-shot), mean ± std over seeds, the high–low gap and the spread across languages,
other measures (embedding metrics, F1), and a one-line summary of the numbers. Every
heading (LaTeX caption) names the task (aligned-verse retrieval (bible), cross-reference
retrieval (bible-xref), ...) and the scoring mode (pooled, MaxSim, OT-rerank); cross-reference
blocks add each language's MAP gap to the teacher ceiling (zero-shot with WEB queries, en-web,
in the same mode).

  optical report                                  # runs/results.jsonl -> docs/report.md + .html
  optical report --groups rq1-ot-vs-ce rq4-variance --no-html
  optical report --store runs/other.jsonl --out /tmp/report.md --plotlyjs cdn
  optical report --latex docs/report-tables.tex   # also every table as booktabs LaTeX
"""


def tex_path(text: str) -> str:
    """A ``.tex`` file to write (not a folder)."""
    if not text.endswith(".tex"):
        raise argparse.ArgumentTypeError(f"expected a .tex file name, got {text!r}")
    if Path(text).is_dir():
        raise argparse.ArgumentTypeError(f"{text!r} is a folder; expected a .tex file name")
    return text


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser(
        "report",
        help="render the results store as a markdown/HTML report",
        description=__doc__,
        epilog=EPILOG,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    p.add_argument(
        "--store",
        default=None,
        help="results store (default $OPTICAL_RESULTS or runs/results.jsonl)",
    )
    p.add_argument(
        "--out", default="docs/report.md", help="markdown output (default docs/report.md)"
    )
    p.add_argument(
        "--html", default="docs/report.html", help="HTML output (default docs/report.html)"
    )
    p.add_argument("--no-html", action="store_true", help="write the markdown only")
    p.add_argument(
        "--latex",
        type=tex_path,
        default=None,
        metavar="OUT.tex",
        help="also write every block's tables as booktabs LaTeX (\\usepackage{booktabs}) to OUT.tex",
    )
    p.add_argument(
        "--groups", nargs="*", default=None, help="only these sweep groups (default: all)"
    )
    p.add_argument("--split", default="test", help="evaluation split shown (default test)")
    p.add_argument(
        "--plotlyjs",
        default="inline",
        choices=["inline", "cdn"],
        help="embed plotly.js in the HTML (works offline; default) or load it from the CDN",
    )
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from optical.report import write_report
    from optical.results import ResultsStore

    html = None if args.no_html else args.html
    if args.latex is not None and Path(args.latex).resolve() in {
        Path(p).resolve() for p in (args.out, html) if p is not None
    }:
        raise ValueError(f"--latex {args.latex}: the same file as the markdown or HTML output")
    written = write_report(
        ResultsStore(args.store),
        args.out,
        html,
        args.groups,
        args.split,
        args.plotlyjs,
        latex_out=args.latex,
    )
    print(
        f"report: {written['blocks']} sections -> {written['markdown']}"
        + (f", {written['html']}" if "html" in written else "")
        + (f", {written['latex']}" if "latex" in written else "")
    )
    return 0
