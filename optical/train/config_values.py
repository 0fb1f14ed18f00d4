"""How a setting's value is read and checked: one typed parser (:func:`coerce`) for
command-line text, config files and sweep specs, the choice and range checks, and the
error for an unknown key. Knows nothing of which settings exist
(:mod:`optical.train.config` holds those and passes them in).

:func:`coerce` takes each value against the field's type:

- typed values (TOML files, sweep specs, Python) must already have the field's type
  (an int is accepted for a float field); TOML has no null, so an optional setting is
  cleared with the string ``"none"``;
- command-line text (``key=value``, a :class:`Text`) is read as that type: numbers
  (``2e-5``, ``.5``), ``true``/``false`` (also yes/no, on/off, 1/0), ``none`` or ``null``
  for optional settings, strings as written (quotes optional), lists as a TOML array
  (``data.extra_train=["bible:de","bible:fr"]``) or comma-separated
  (``data.extra_train=bible:de,bible:fr``; an empty value is the empty list).
"""

from __future__ import annotations

import difflib
import math
import tomllib
import types
import typing
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from typing import Any

__all__ = [
    "Text",
    "Rule",
    "rule",
    "POSITIVE",
    "NON_NEGATIVE",
    "AT_LEAST_1",
    "FRACTION",
    "SEED",
    "NON_EMPTY",
    "check_choices_and_ranges",
    "coerce",
    "flatten_settings",
    "unknown_setting",
    "parse_assignments",
    "read_toml",
]


# ----------------------------------------------------------------------------- checks
#: a range check: the test a given value must pass, and how the error describes it
Rule = tuple[Callable[[Any], bool], str]


def rule(test: Callable[[Any], bool], text: str) -> Rule:
    return test, text


POSITIVE = rule(lambda v: v > 0, "> 0")
NON_NEGATIVE = rule(lambda v: v >= 0, ">= 0")
AT_LEAST_1 = rule(lambda v: v >= 1, ">= 1")
FRACTION = rule(lambda v: 0 <= v < 1, "in [0, 1)")
SEED = rule(lambda v: 0 <= v < 2**32, "an integer in [0, 2**32)")
NON_EMPTY = rule(lambda v: bool(v.strip()), "a non-empty string")


def check_choices_and_ranges(values: Mapping[str, Any], choices: Mapping[str, tuple[str, ...]],
                             ranges: Mapping[str, Rule]) -> None:
    """Raise ValueError naming the first setting in ``values`` (``section.key`` -> value)
    that is not one of its ``choices`` or fails its range rule; None (unset) always passes."""
    for key, value in values.items():
        if value is None:
            continue
        allowed = choices.get(key)
        if allowed is not None and value not in allowed:
            raise ValueError(f"{key} must be one of {', '.join(allowed)}, got {value!r}")
        check = ranges.get(key)
        if check is not None and not check[0](value):
            raise ValueError(f"{key} must be {check[1]}, got {value!r}")


# ----------------------------------------------------------------------------- parsing
class Text(str):
    """Unparsed command-line text (the value of ``key=value``): :func:`coerce` reads it
    as the field's type, where any other value must already have that type."""


_NONE_WORDS = {"none", "null"}
_TRUE_WORDS = {"true", "yes", "on", "1"}
_FALSE_WORDS = {"false", "no", "off", "0"}


def _split_optional(hint: Any) -> tuple[Any, bool]:
    """``int | None`` -> (int, True); ``int`` -> (int, False)."""
    if typing.get_origin(hint) in (typing.Union, types.UnionType):
        args = [a for a in typing.get_args(hint) if a is not type(None)]
        if len(args) == 1 and len(typing.get_args(hint)) == 2:
            return args[0], True
    return hint, False


def _describe(hint: Any) -> str:
    if hint is bool:
        return "true or false"
    if hint is int:
        return "an integer"
    if hint is float:
        return "a number"
    if hint is str:
        return "a string"
    if typing.get_origin(hint) is list:
        return 'a list of strings, e.g. ["bible:de"]'
    return str(hint)


def _bad(key: str, hint: Any, optional: bool, value: Any, text: bool = False) -> ValueError:
    what = _describe(hint) + (" or none" if optional else "")
    got = f"the string {value!r}" if isinstance(value, str) and not text else repr(value)
    return ValueError(f"{key}: expected {what}, got {got}")


def coerce(key: str, value: Any, hint: Any) -> Any:
    """``value`` as the type ``hint`` of setting ``key``, or a ValueError naming both.

    A :class:`Text` value is parsed from its text (see the module docstring); any other
    value must already have the type (ints pass for floats, ``"none"`` clears an optional).
    """
    base, optional = _split_optional(hint)
    if isinstance(value, Text):
        return _from_text(key, str(value), base, optional)
    if value is None or (optional and isinstance(value, str) and value.strip().lower() in _NONE_WORDS):
        if optional:
            return None
        raise ValueError(f"{key}: expected {_describe(base)}, got none (this setting cannot be unset)")
    return _typed(key, value, base, optional)


def _typed(key: str, value: Any, base: Any, optional: bool) -> Any:
    if base is bool:
        if isinstance(value, bool):
            return value
    elif base is int:
        if isinstance(value, int) and not isinstance(value, bool):
            return value
    elif base is float:
        if isinstance(value, (int, float)) and not isinstance(value, bool):
            if not math.isfinite(value):
                raise ValueError(f"{key}: expected a finite number, got {value!r}")
            return float(value)
    elif base is str:
        if isinstance(value, str):
            return str(value)
    elif typing.get_origin(base) is list:
        if isinstance(value, (list, tuple)) and all(isinstance(v, str) for v in value):
            return [str(v) for v in value]
    else:
        raise TypeError(f"{key}: unsupported setting type {base!r}")
    raise _bad(key, base, optional, value)


def _from_text(key: str, text: str, base: Any, optional: bool) -> Any:
    s = text.strip()
    if s.lower() in _NONE_WORDS:
        if optional:
            return None
        raise ValueError(f"{key}: expected {_describe(base)}, got {s!r} (this setting cannot be unset)")
    if base is bool:
        if s.lower() in _TRUE_WORDS:
            return True
        if s.lower() in _FALSE_WORDS:
            return False
    elif base is int:
        try:
            return int(s)
        except ValueError:
            pass
    elif base is float:
        try:
            return _typed(key, float(s), float, optional)
        except ValueError as err:
            if "finite" in str(err):
                raise
    elif base is str:
        if s[:1] in {'"', "'"}:
            return _typed(key, _toml_value(key, s), str, optional)
        return s
    elif typing.get_origin(base) is list:
        if s.startswith("["):
            return _typed(key, _toml_value(key, s), base, optional)
        return [v.strip() for v in s.split(",") if v.strip()]
    raise _bad(key, base, optional, s, text=True)


def _toml_value(key: str, text: str) -> Any:
    try:
        return tomllib.loads(f"v = {text}")["v"]
    except tomllib.TOMLDecodeError as err:
        raise ValueError(f"{key}: {text!r} is not a valid TOML value ({err})") from err


def flatten_settings(data: Mapping[str, Any], prefix: str = "") -> dict[str, Any]:
    """``{"objective": {"eps": 0.1}}`` and ``{"objective.eps": 0.1}`` -> ``{"objective.eps": 0.1}``."""
    out: dict[str, Any] = {}
    for key, value in data.items():
        name = f"{prefix}{key}"
        if isinstance(value, Mapping):
            out.update(flatten_settings(value, name + "."))
        else:
            out[name] = value
    return out


def unknown_setting(key: str, known: Sequence[str]) -> ValueError:
    """The error for an unknown ``key``, with the closest of the ``known`` names
    (:data:`optical.train.config.SETTINGS` for distillation settings)."""
    known = list(known)
    section, _, leaf = key.rpartition(".")
    in_section = [k for k in known if section and k.startswith(section + ".")]
    if in_section:  # a known section: compare the key names within it
        leaves = {k.rsplit(".", 1)[-1]: k for k in in_section}
        close = [leaves[x] for x in difflib.get_close_matches(leaf, list(leaves), n=3, cutoff=0.6)]
        if not close:
            return ValueError(f"unknown setting {key!r}; [{section}] has {', '.join(leaves)}")
    else:
        close = difflib.get_close_matches(key, known, n=3, cutoff=0.75)
        close += [k for k in known if k.rsplit(".", 1)[-1] == leaf and k not in close]
    hint = f"; did you mean {' or '.join(close[:3])}?" if close else \
        "; `optical distill --print-config` lists every setting"
    return ValueError(f"unknown setting {key!r}{hint}")


def parse_assignments(items: Sequence[str]) -> dict[str, Text]:
    """``["objective.eps=0.02", ...]`` -> ``{"objective.eps": Text("0.02")}`` (later wins)."""
    out: dict[str, Text] = {}
    for item in items:
        key, eq, value = item.partition("=")
        if not eq or not key.strip():
            raise ValueError(f"override {item!r} is not of the form section.key=value")
        out[key.strip()] = Text(value)
    return out


def read_toml(path: str | Path, what: str = "config file") -> dict[str, Any]:
    """The tables of the TOML file ``path``; ``FileNotFoundError`` or ``ValueError`` naming
    the file (``what`` says what it was meant to be: ``"config file"``, ``"sweep spec"``)."""
    p = Path(path)
    if not p.is_file():
        raise FileNotFoundError(f"{what} not found: {p}")
    try:
        return tomllib.loads(p.read_text(encoding="utf-8"))
    except (tomllib.TOMLDecodeError, UnicodeDecodeError) as err:
        raise ValueError(f"{p}: not valid TOML ({err})") from err
