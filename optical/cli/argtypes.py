"""Argument types for the ``optical`` commands: bad numbers are refused while parsing.

Each function takes the option's text and returns the value, or raises
``argparse.ArgumentTypeError`` (argparse prints ``optical <cmd>: error: argument --x: ...``
and exits 2) before any file is read or model loaded.
"""

from __future__ import annotations

import argparse
import math

__all__ = ["device", "measure_list", "positive_int", "probability", "non_negative_int"]


def _int(text: str) -> int:
    try:
        return int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected an integer, got {text!r}") from None


def positive_int(text: str) -> int:
    """An integer >= 1 (k, cutoffs, batch sizes, resamples, relevance levels)."""
    value = _int(text)
    if value < 1:
        raise argparse.ArgumentTypeError(f"expected an integer >= 1, got {value}")
    return value


def non_negative_int(text: str) -> int:
    """An integer >= 0 (seeds)."""
    value = _int(text)
    if value < 0:
        raise argparse.ArgumentTypeError(f"expected an integer >= 0, got {value}")
    return value


def probability(text: str) -> float:
    """A number strictly between 0 and 1 (a significance level)."""
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a number, got {text!r}") from None
    if not math.isfinite(value) or not 0 < value < 1:
        raise argparse.ArgumentTypeError(f"expected a number strictly between 0 and 1, got {text}")
    return value


def measure_list(text: str) -> list[str]:
    """Comma-separated measure names, each parsed (and its cutoff / rel checked)."""
    from optical.evaluation import parse_measures

    names = [m.strip() for m in text.split(",") if m.strip()]
    if not names:
        raise argparse.ArgumentTypeError("no measures given")
    try:
        parse_measures(names)
    except (ValueError, TypeError) as err:
        raise argparse.ArgumentTypeError(str(err)) from None
    return names


def device(text: str) -> str:
    """A torch device this machine has (auto, cpu, cuda, cuda:N, mps)."""
    from optical.encoders import resolve_device

    try:
        resolve_device(text)
    except ValueError as err:
        raise argparse.ArgumentTypeError(str(err)) from None
    return text
