"""The ``optical`` command line: one subcommand module per job."""

from __future__ import annotations

import argparse
import os
import sys
from collections.abc import Sequence

from optical import __version__
from optical.assets.packages import AssetError
from optical.cli import (
    assets_cmd,
    bench_cmd,
    demo_cmd,
    evaluation_cmd,
    report_cmd,
    retrieval_cmd,
    sweep_cmd,
    train_cmd,
)

__all__ = ["main", "build_parser"]

# Each module exposes ``register(subparsers)``; its parser sets ``func``.
COMMANDS = [
    assets_cmd,
    train_cmd,
    retrieval_cmd,
    evaluation_cmd,
    bench_cmd,
    sweep_cmd,
    demo_cmd,
    report_cmd,
]


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="optical",
        description="Cross-lingual IR for low-resource languages through optimal-transport distillation.",
    )
    parser.add_argument("--version", action="version", version=f"optical {__version__}")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    for module in COMMANDS:
        module.register(sub)
    return parser


DEBUG_ENV = "OPTICAL_DEBUG"


def _debug() -> bool:
    return os.environ.get(DEBUG_ENV, "").strip().lower() not in {"", "0", "false", "no", "off"}


def _os_message(err: OSError) -> str:
    """``<path>: <reason>`` for an OSError that names a file, else its text."""
    reason = err.strerror or str(err)
    names = [n for n in (err.filename, err.filename2) if n is not None]
    return f"{' -> '.join(map(str, names))}: {reason}" if names else reason


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    if not getattr(args, "func", None):
        parser.print_help()
        return 2
    try:
        return int(args.func(args) or 0)
    except KeyboardInterrupt:
        print("interrupted", file=sys.stderr)
        return 130
    except (ValueError, FileNotFoundError, AssetError) as err:
        # Expected failures (bad input, missing assets) get one clear line, no traceback.
        if _debug():
            raise
        message = _os_message(err) if isinstance(err, FileNotFoundError) and err.strerror else err
        print(f"optical {args.command}: error: {message}", file=sys.stderr)
        return 1
    except OSError as err:  # permission denied, disk full, a folder where a file belongs, ...
        if _debug():
            raise
        print(f"optical {args.command}: error: {_os_message(err)}", file=sys.stderr)
        return 1
    except Exception as err:  # the safety net: no traceback reaches a user
        if _debug():
            raise
        print(f"optical {args.command}: internal error: {type(err).__name__}: {err}", file=sys.stderr)
        print(f"optical {args.command}: run with {DEBUG_ENV}=1 to see the traceback", file=sys.stderr)
        return 1
