"""Subcommand parsers whose ``--help`` shows every option's default (encode, search, evaluate,
compare), with their help texts taken from the command function's docstring."""

from __future__ import annotations

import argparse
import inspect
from collections.abc import Callable

__all__ = ["defaults_parser"]


def defaults_parser(
    sub: argparse._SubParsersAction, name: str, func: Callable[[argparse.Namespace], int]
) -> argparse.ArgumentParser:
    """The parser of subcommand ``name``, which runs ``func(args)``.

    The first paragraph of ``func``'s docstring is the one-line help of the command list,
    the rest its description (white space folded, as argparse prints it); the help of each
    option shows its default (:class:`argparse.ArgumentDefaultsHelpFormatter`).
    """
    summary, _, details = inspect.cleandoc(func.__doc__ or "").partition("\n\n")
    parser = sub.add_parser(
        name,
        help=" ".join(summary.split()),
        description=" ".join(details.split()) or None,
        formatter_class=argparse.ArgumentDefaultsHelpFormatter,
    )
    parser.set_defaults(func=func)
    return parser
