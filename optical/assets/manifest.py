"""The state of one built benchmark folder, read from its ``manifest.json``.

A build writes every file of a language's folder, then the manifest last: the build
settings and a size + SHA-256 record of each file (:func:`optical.paths.record_files`).
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterable
from dataclasses import asdict
from pathlib import Path
from typing import Any

from optical.paths import check_files

__all__ = ["MANIFEST_NAME", "entry_state", "first_problem", "language_state"]

MANIFEST_NAME = "manifest.json"


def entry_state(folder: Path, settings: dict[str, Any], full: bool = False) -> tuple[str, str]:
    """``(state, why)`` of a built folder.

    ``state`` is ``"ok"``, ``"missing"`` (not built), ``"stale"`` (built with other settings,
    or by an older optical without checksums: rebuild) or ``"corrupt"`` (unreadable manifest,
    or a file that differs from its record in size or checksum).
    """
    manifest_path = folder / MANIFEST_NAME
    if not manifest_path.is_file():
        return "missing", "not built"
    try:
        manifest = json.loads(manifest_path.read_text(encoding="utf-8"))
        files = manifest.get("files")  # absent: an older optical's manifest (stale)
        built_with = manifest.get("settings")
    except (ValueError, AttributeError, OSError):
        return "corrupt", f"corrupt: unreadable {MANIFEST_NAME}"
    if built_with != settings:
        return "stale", "built with other settings"
    if not isinstance(files, dict) or not files or not all(
        isinstance(r, dict) and "sha256" in r for r in files.values()
    ):
        return "stale", "unverified: built by an older optical without checksums"
    problem = check_files(folder, files, full=full)
    if problem:
        return "corrupt", f"corrupt: {problem}"
    return "ok", "ok"


def language_state(
    code: str,
    settings: Any,
    root: str | Path | None,
    default_root: Callable[[], Path],
    full: bool = False,
) -> tuple[str, str]:
    """:func:`entry_state` of language ``code``'s folder under ``root`` (``default_root()``
    when None), built with the dataclass ``settings``."""
    folder = (Path(root) if root is not None else default_root()) / code
    return entry_state(folder, asdict(settings), full=full)


def first_problem(codes: Iterable[str], check: Callable[[str], tuple[str, str]]) -> tuple[bool, str]:
    """``(True, "ok")`` when ``check(code)`` is ``"ok"`` for every code, else ``False`` and
    ``"<code>: <why>"`` for the first code that is not."""
    for code in codes:
        state, why = check(code)
        if state != "ok":
            return False, f"{code}: {why}"
    return True, "ok"
