"""JSON Lines: one JSON object per non-blank line.

:func:`json_objects` is the one parser of that format: the BEIR/MIRACL loaders read files
with it (errors name the file and line) and the app's corpus upload reads uploaded text
with it (errors worded for the user); each caller says how its errors read.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterable, Iterator
from typing import Any

__all__ = ["json_objects"]


def json_objects(
    lines: Iterable[tuple[int, str]],
    invalid: Callable[[int, str, json.JSONDecodeError], Exception],
    not_object: Callable[[int, str], Exception],
) -> Iterator[tuple[int, str, dict[str, Any]]]:
    """Yield ``(line number, text, object)`` for each non-blank line of ``lines``.

    ``lines`` are ``(line number, text)`` pairs. A line that is not valid JSON raises
    ``invalid(line number, text, error)`` (from None); one that holds another JSON value
    than an object raises ``not_object(line number, text)``.
    """
    for lineno, text in lines:
        if not text.strip():
            continue
        try:
            obj = json.loads(text)
        except json.JSONDecodeError as exc:
            raise invalid(lineno, text, exc) from None
        if not isinstance(obj, dict):
            raise not_object(lineno, text)
        yield lineno, text, obj
