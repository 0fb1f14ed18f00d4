"""Errors raised by the loaders, and the UTF-8-checking readers they share.

Every loader in :mod:`optical.data` reports malformed input with a
:class:`DataFormatError` that names the file, the line (1-based, when there is
one) and what was expected there, e.g.::

    corpus.jsonl, line 17: expected a JSON object with "_id" and "text"; got: '{"id": 3'

A missing file or directory raises :class:`FileNotFoundError` naming the path
and what should have been there (``[Errno 2] No such file (expected ...): 'path'``).
"""

from __future__ import annotations

import errno
import gzip
import os
import zlib
from collections.abc import Hashable, Iterator
from pathlib import Path
from typing import TypeVar

__all__ = [
    "DataFormatError",
    "claim_line",
    "shorten",
    "not_found",
    "require_file",
    "require_dir",
    "iter_lines",
    "read_text",
]

PathLike = str | os.PathLike[str]
K = TypeVar("K", bound=Hashable)

_BOM = b"\xef\xbb\xbf"
_GOT_LIMIT = 60


def shorten(text: str, limit: int = _GOT_LIMIT) -> str:
    """Return ``text`` cut to ``limit`` characters (marked with ``…`` when cut)."""
    return text if len(text) <= limit else text[:limit] + "…"


class DataFormatError(ValueError):
    """Malformed input: which file, which line, what was expected, what was found.

    Parameters
    ----------
    path : str or PathLike
        The offending file.
    line : int or None
        1-based line number, or None when the problem is not tied to a line.
    expected : str
        What the loader expected, phrased to follow "expected ...".
    got : str, optional
        The offending text; shown truncated.
    location : str, optional
        A position other than a line (e.g. ``data[3].paragraphs[0]`` in a JSON file).
    message : str, optional
        Replaces the default ``expected ...; got: ...`` wording.
    """

    def __init__(
        self,
        path: PathLike,
        line: int | None,
        expected: str,
        got: str | None = None,
        *,
        location: str | None = None,
        message: str | None = None,
    ) -> None:
        self.path = str(path)
        self.line = line
        self.expected = expected
        self.got = got
        self.location = location
        where = self.path
        if line is not None:
            where += f", line {line}"
        if location:
            where += f", {location}"
        if message is None:
            message = f"expected {expected}"
            if got is not None:
                message += f"; got: {shorten(got)!r}"
        self.detail = message
        super().__init__(f"{where}: {message}")

    def __reduce__(self):  # keeps the exception picklable (multiprocessing)
        kwargs = {"location": self.location, "message": self.detail}
        return (_rebuild, (self.path, self.line, self.expected, self.got, kwargs))


def _rebuild(path, line, expected, got, kwargs):  # pragma: no cover - pickle helper
    return DataFormatError(path, line, expected, got, **kwargs)


def not_found(path: PathLike, message: str) -> FileNotFoundError:
    """A FileNotFoundError for ``path`` (``errno``/``filename`` set) with ``message``.

    ``str()`` of it reads ``[Errno 2] <message>: '<path>'``.
    """
    return FileNotFoundError(errno.ENOENT, message, str(path))


# what a path must be: (test, test for the wrong kind, its error, errno, the error's words)
_KINDS = {
    "file": (Path.is_file, Path.is_dir, IsADirectoryError, errno.EISDIR, "Is a directory"),
    "directory": (Path.is_dir, Path.exists, NotADirectoryError, errno.ENOTDIR, "Not a directory"),
}


def _require(path: PathLike, kind: str, expected: str) -> Path:
    wanted, wrong, error, code, words = _KINDS[kind]
    p = Path(path)
    if wanted(p):
        return p
    if wrong(p):
        raise error(code, f"{words} (expected {expected})", str(p))
    raise not_found(p, f"No such {kind} (expected {expected})")


def require_file(path: PathLike, expected: str) -> Path:
    """Return ``path`` as a Path if it is a file; else raise naming what was expected:
    :class:`FileNotFoundError` when it does not exist (or is neither file nor directory),
    :class:`IsADirectoryError` when it is a directory."""
    return _require(path, "file", expected)


def require_dir(path: PathLike, expected: str) -> Path:
    """Return ``path`` as a Path if it is a directory; else raise naming what was expected:
    :class:`FileNotFoundError` when it does not exist, :class:`NotADirectoryError` when it
    exists but is not a directory."""
    return _require(path, "directory", expected)


def claim_line(
    first: dict[K, int],
    key: K,
    path: PathLike,
    line: int,
    expected: str,
    duplicate: str,
    *values: object,
) -> None:
    """Record that ``key`` appears on ``line`` of ``path``; refuse a key seen before.

    ``first`` maps each key to the line where it first appeared. A repeated key raises
    :class:`DataFormatError` with ``expected`` and the message ``duplicate``: a
    :meth:`str.format` template of ``values`` (the ids, e.g. ``{0!r}``), ``{first}`` (the
    earlier line) and ``{line}``, so that both places are named.
    """
    if key in first:
        message = duplicate.format(*values, first=first[key], line=line)
        raise DataFormatError(path, line, expected, message=message)
    first[key] = line


def _encoding_error(path: Path, line: int, byte: int, offset: int) -> DataFormatError:
    return DataFormatError(
        path,
        line,
        "UTF-8 text",
        message=(
            f"not UTF-8 (byte 0x{byte:02x} at offset {offset}); re-save the file as UTF-8 "
            "(it may be Latin-1 or cp1252, e.g. `iconv -f latin1 -t utf-8`)"
        ),
    )


def _open_binary(path: Path):
    return gzip.open(path, "rb") if path.suffix == ".gz" else open(path, "rb")


def _gzip_error(path: Path, exc: Exception) -> DataFormatError:
    return DataFormatError(
        path, None, "a valid gzip file", message=f"not a valid gzip file ({exc})"
    )


def iter_lines(path: PathLike, expected: str) -> Iterator[tuple[int, str]]:
    """Yield ``(line_number, text)`` for each line of a UTF-8 text file.

    Lines are split on ``\\n`` only (so U+2028 and other Unicode separators stay
    inside a line); the ``\\n`` or ``\\r\\n`` terminator is removed, and a UTF-8
    byte-order mark at the start is dropped. ``.gz`` files are decompressed.

    Parameters
    ----------
    path : str or PathLike
        The file.
    expected : str
        What the file should hold; used in the error if it is missing.

    Raises
    ------
    FileNotFoundError
        No such file.
    DataFormatError
        A line is not valid UTF-8 (the error gives the byte and its offset).
    """
    p = require_file(path, expected)
    offset = 0
    try:
        with _open_binary(p) as fh:
            for lineno, raw in enumerate(fh, start=1):
                size = len(raw)
                skip = 3 if lineno == 1 and raw.startswith(_BOM) else 0
                try:
                    text = raw[skip:].decode("utf-8")
                except UnicodeDecodeError as exc:
                    bad = raw[skip + exc.start]
                    raise _encoding_error(p, lineno, bad, offset + skip + exc.start) from None
                offset += size
                if text.endswith("\n"):
                    text = text[:-1]
                    if text.endswith("\r"):
                        text = text[:-1]
                yield lineno, text
    except (gzip.BadGzipFile, EOFError, zlib.error) as exc:
        raise _gzip_error(p, exc) from None


def read_text(path: PathLike, expected: str) -> str:
    """Return the whole of a UTF-8 text file (``.gz`` decompressed, BOM dropped).

    Raises
    ------
    FileNotFoundError
        No such file.
    DataFormatError
        The file is not valid UTF-8 (the error names the line, byte and offset).
    """
    p = require_file(path, expected)
    try:
        with _open_binary(p) as fh:
            data = fh.read()
    except (gzip.BadGzipFile, EOFError, zlib.error) as exc:
        raise _gzip_error(p, exc) from None
    start = 3 if data.startswith(_BOM) else 0
    try:
        return data[start:].decode("utf-8")
    except UnicodeDecodeError as exc:
        pos = start + exc.start
        line = data.count(b"\n", 0, pos) + 1
        raise _encoding_error(p, line, data[pos], pos) from None
