"""Parallel text: tab-separated files and Moses-style line-aligned file pairs.

TSV format (read and written by this module)
--------------------------------------------
One pair per line, ``source<TAB>target`` or ``id<TAB>source<TAB>target``; every
line of a file has the same number of fields. An optional first line that is a
header (``src<TAB>tgt``, ``id<TAB>src<TAB>tgt``, or ``source``/``target`` in
place of ``src``/``tgt``) is skipped. Lines end in ``\\n`` or ``\\r\\n``; the text
is otherwise kept exactly as written (no stripping).

There is **no escaping**: :func:`write_bitext_tsv` *rejects* a sentence or id
that holds a tab, ``\\n`` or ``\\r`` (it would change the column count or split
the line) rather than inventing an escape that other tools reading the file would
not undo. Normalise whitespace first, e.g. ``" ".join(s.split())``. Everything
else — including U+2028/U+2029, other control characters and emoji — round-trips
exactly.
"""

from __future__ import annotations

import os
import re
from pathlib import Path
from typing import Literal

from optical.data.errors import DataFormatError, claim_line, iter_lines, shorten
from optical.data.types import Bitext
from optical.paths import atomic_path

__all__ = ["read_bitext_tsv", "read_moses", "write_bitext_tsv"]

OnEmpty = Literal["error", "skip"]

_SRC_NAMES = {"src", "source"}
_TGT_NAMES = {"tgt", "target"}
_TSV_EXPECTED = "a bitext TSV file (source<TAB>target or id<TAB>source<TAB>target per line)"
_LANG_SUFFIX = re.compile(r"^[a-z]{2,3}([_-][A-Za-z]{2,4})?$")
_NOT_LANGS = {"txt", "tsv", "csv", "xml", "json", "gz", "tok", "raw"}


def _check_on_empty(on_empty: str) -> None:
    if on_empty not in ("error", "skip"):
        raise ValueError(f"on_empty must be 'error' or 'skip', got {on_empty!r}")


def _is_header(fields: list[str]) -> bool:
    names = [f.strip().lower() for f in fields]
    if len(names) == 3:
        return names[0] == "id" and names[1] in _SRC_NAMES and names[2] in _TGT_NAMES
    if len(names) == 2:
        return names[0] in _SRC_NAMES and names[1] in _TGT_NAMES
    return False


def read_bitext_tsv(
    path: str | os.PathLike[str],
    on_empty: OnEmpty = "error",
    src_lang: str | None = None,
    tgt_lang: str | None = None,
) -> Bitext:
    """Read a bitext TSV file (see the module docstring for the format).

    Parameters
    ----------
    path : str or PathLike
        The file (``.gz`` is decompressed).
    on_empty : {"error", "skip"}
        What to do with a pair whose source or target is empty after ``strip()``
        (a blank line counts as such a pair): raise, or skip it and count it in
        :attr:`Bitext.skipped`.
    src_lang, tgt_lang : str, optional
        Language codes to record on the result.

    Returns
    -------
    Bitext
        ``ids`` is set when the file has an id column.

    Raises
    ------
    FileNotFoundError
        No such file.
    DataFormatError
        Wrong number of fields, an empty side (with ``on_empty="error"``), an
        empty or duplicate id, text that is not UTF-8, or no pair at all.
    """
    _check_on_empty(on_empty)
    n_fields: int | None = None
    first_data_line = 0
    src: list[str] = []
    tgt: list[str] = []
    ids: list[str] = []
    id_line: dict[str, int] = {}
    skipped = 0
    for lineno, text in iter_lines(path, _TSV_EXPECTED):
        fields = text.split("\t")
        if lineno == 1 and _is_header(fields):
            n_fields = len(fields)
            continue
        if not text.strip():
            skipped += _skip_empty(on_empty, path, lineno, "a sentence pair",
                                   "expected a sentence pair; got an empty line "
                                   "(pass on_empty='skip' to skip empty pairs)")  # fmt: skip
            continue
        if n_fields is None:
            if len(fields) not in (2, 3):
                raise DataFormatError(
                    path,
                    lineno,
                    "2 tab-separated fields (source, target) or 3 (id, source, target), "
                    f"found {len(fields)}",
                    text,
                )
            n_fields, first_data_line = len(fields), lineno
        elif len(fields) != n_fields:
            columns = "id, source, target" if n_fields == 3 else "source, target"
            origin = f"line {first_data_line}" if first_data_line else "the header"
            raise DataFormatError(
                path,
                lineno,
                f"{n_fields} tab-separated fields ({columns}) as on {origin}, found {len(fields)}",
                text,
            )
        *pid, s, t = fields
        empty = [side for side, value in (("source", s), ("target", t)) if not value.strip()]
        if empty:
            skipped += _skip_empty(on_empty, path, lineno, "a non-empty source and target",
                                   f"empty {' and '.join(empty)} sentence (expected a non-empty "
                                   "source and target; pass on_empty='skip' to skip such pairs); "
                                   f"got: {shorten(text)!r}", text)  # fmt: skip
            continue
        if pid:
            key = pid[0]
            if not key.strip():
                raise DataFormatError(path, lineno, "a non-empty id in the first field", text)
            claim_line(id_line, key, path, lineno, "unique ids",
                       "duplicate id {0!r} (first on line {first}); expected unique ids", key)  # fmt: skip
            ids.append(key)
        src.append(s)
        tgt.append(t)
    return _read_pairs(path, src, tgt, ids if n_fields == 3 else None, src_lang, tgt_lang, skipped)


def _skip_empty(
    on_empty: str, path: Path | str, line: int, expected: str, message: str, got: str | None = None
) -> int:
    """1 (one pair skipped) with ``on_empty="skip"``; else raise the error of that empty pair."""
    if on_empty == "skip":
        return 1
    raise DataFormatError(path, line, expected, got, message=message)


def _read_pairs(
    path: Path | str,
    src: list[str],
    tgt: list[str],
    ids: list[str] | None,
    src_lang: str | None,
    tgt_lang: str | None,
    skipped: int,
) -> Bitext:
    """The :class:`Bitext` read from ``path``; an empty bitext cannot be trained or evaluated
    on, so it is refused where it is read."""
    if not src:
        left = f" ({skipped} empty pairs skipped)" if skipped else ""
        raise DataFormatError(path, None, "at least one sentence pair",
                              message=f"no sentence pairs{left}; expected at least one")
    return Bitext(src=src, tgt=tgt, ids=ids, src_lang=src_lang, tgt_lang=tgt_lang, skipped=skipped)


def _lang_from_suffix(path: Path) -> str | None:
    name = path.name[:-3] if path.name.endswith(".gz") else path.name
    suffix = Path(name).suffix.lstrip(".")
    if suffix and suffix not in _NOT_LANGS and _LANG_SUFFIX.match(suffix):
        return suffix
    return None


def read_moses(
    src_path: str | os.PathLike[str],
    tgt_path: str | os.PathLike[str],
    on_empty: OnEmpty = "error",
    src_lang: str | None = None,
    tgt_lang: str | None = None,
) -> Bitext:
    """Read two line-aligned files (``corpus.sw`` + ``corpus.en``): line i ↔ line i.

    Parameters
    ----------
    src_path, tgt_path : str or PathLike
        The two files (``.gz`` is decompressed). Tabs inside lines are allowed.
    on_empty : {"error", "skip"}
        As in :func:`read_bitext_tsv`.
    src_lang, tgt_lang : str, optional
        Language codes; by default taken from the file suffix when it looks like
        one (``corpus.sw`` → ``"sw"``, ``train.pt_br.gz`` → ``"pt_br"``).

    Raises
    ------
    FileNotFoundError
        Either file is missing.
    DataFormatError
        The files have different line counts (both counts are given), a side is
        empty (with ``on_empty="error"``), text that is not UTF-8, or no pair at all.
    """
    _check_on_empty(on_empty)
    src_path, tgt_path = Path(src_path), Path(tgt_path)
    expected = "one sentence per line, line-aligned with {}"
    src_lines = [t for _, t in iter_lines(src_path, expected.format(tgt_path))]
    tgt_lines = [t for _, t in iter_lines(tgt_path, expected.format(src_path))]
    if len(src_lines) != len(tgt_lines):
        raise DataFormatError(
            src_path,
            None,
            f"as many lines as {tgt_path}",
            message=f"has {len(src_lines)} lines but {tgt_path} has {len(tgt_lines)}; "
            "Moses-style files must be line-aligned (same number of lines)",
        )
    src: list[str] = []
    tgt: list[str] = []
    skipped = 0
    for i, (s, t) in enumerate(zip(src_lines, tgt_lines, strict=True), start=1):
        empty = [p for p, v in ((src_path, s), (tgt_path, t)) if not v.strip()]
        if empty:
            skipped += _skip_empty(on_empty, empty[0], i, "a non-empty sentence",
                                   "empty line (expected a non-empty sentence aligned with line "
                                   f"{i} of {tgt_path if empty[0] == src_path else src_path}; "
                                   "pass on_empty='skip' to skip empty pairs)")  # fmt: skip
            continue
        src.append(s)
        tgt.append(t)
    src_lang, tgt_lang = src_lang or _lang_from_suffix(src_path), tgt_lang or _lang_from_suffix(tgt_path)
    return _read_pairs(src_path, src, tgt, None, src_lang, tgt_lang, skipped)


_FORBIDDEN = re.compile(r"[\t\n\r]")


def _check_field(value: str, what: str, index: int) -> None:
    bad = _FORBIDDEN.search(value)
    if bad:
        raise ValueError(
            f"pair {index}: the {what} contains {bad.group()!r} at position {bad.start()}, which "
            "the TSV format cannot hold (no escaping is done); normalise whitespace first, "
            "e.g. ' '.join(text.split())"
        )
    if not value.strip():
        raise ValueError(
            f"pair {index}: the {what} is empty; read_bitext_tsv would reject it — drop the pair"
        )


def write_bitext_tsv(bitext: Bitext, path: str | os.PathLike[str]) -> None:
    """Write ``bitext`` as ``id<TAB>src<TAB>tgt`` with that header, atomically.

    Pairs without ids get their 0-based position as id (``"0"``, ``"1"``, …).
    The file is written to a temporary file beside ``path`` and renamed over it,
    so a failure never leaves a partial file.

    Raises
    ------
    ValueError
        An id or sentence contains a tab, ``\\n`` or ``\\r`` (not escaped: see the
        module docstring), or is empty after ``strip()``. Nothing is written.
    """
    bitext.validate()
    ids = bitext.ids if bitext.ids is not None else [str(i) for i in range(len(bitext))]
    lines = ["id\tsrc\ttgt\n"]
    for i, (pid, s, t) in enumerate(zip(ids, bitext.src, bitext.tgt, strict=True)):
        _check_field(pid, "id", i)
        _check_field(s, "source", i)
        _check_field(t, "target", i)
        lines.append(f"{pid}\t{s}\t{t}\n")
    with atomic_path(path) as tmp, open(tmp, "w", encoding="utf-8", newline="") as fh:
        fh.writelines(lines)
