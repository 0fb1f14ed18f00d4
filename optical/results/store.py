"""The results store: one JSON line per (system, dataset, split) evaluation.

Every row carries the system, its training config (if any), the dataset and language,
aggregate metrics, per-query scores (for significance tests), timings and versions.
The app's results view, the notebooks and ``optical report`` all read this file.
Default location: ``$OPTICAL_RESULTS`` or ``runs/results.jsonl`` under the current folder.

A store whose name ends in ``.gz`` is the same JSONL, each appended row one gzip member
(a valid gzip file at every moment; ``zcat`` reads it): the form a sweep's store is
committed in, since per-query scores make rows large (about 60 kB, 20 kB compressed).
"""

from __future__ import annotations

import gzip
import json
import os
import platform
import threading
import time
import zlib
from collections.abc import Iterable
from pathlib import Path
from typing import Any

from optical.results.row import ResultRow, row_problem

__all__ = ["ResultsStore", "default_store_path", "versions"]

_LOCK = threading.Lock()


def default_store_path() -> Path:
    return Path(os.environ.get("OPTICAL_RESULTS") or Path("runs") / "results.jsonl")


def versions() -> dict[str, str]:
    import torch
    import transformers

    import optical

    return {"optical": optical.__version__, "torch": torch.__version__, "transformers": transformers.__version__,
            "python": platform.python_version()}


class ResultsStore:
    """Append-only JSONL results; rows with a key already present are skipped."""

    def __init__(self, path: str | Path | None = None) -> None:
        self.path = Path(path) if path is not None else default_store_path()
        if self.path.is_dir():  # refused when named, before any run starts
            raise ValueError(f"{self.path}: a folder; the results store is a .jsonl file")

    def rows(self) -> list[ResultRow]:
        """The stored rows, each checked against the row schema (:mod:`optical.results.row`).

        Raises
        ------
        ValueError
            A line that is not a results row (named by its number), or a store that is not
            a UTF-8 JSONL file. Only a last line cut short (a crash while appending) is
            ignored: the next append removes it.
        """
        if self.path.is_dir():
            raise ValueError(f"{self.path}: a folder; the results store is a .jsonl file")
        if not self.path.is_file():
            return []
        try:
            lines = self._text().splitlines()
        except UnicodeDecodeError:
            raise ValueError(f"{self.path}: not a UTF-8 text file (expected a JSONL results store)") from None
        out = []
        for n, line in enumerate(lines, 1):
            if not line.strip():
                continue
            try:
                row = json.loads(line)
            except json.JSONDecodeError:
                # only the last line may be cut short (a crash while appending): it is redone
                if n != len(lines):
                    raise ValueError(f"{self.path}, line {n}: not a JSON object") from None
                continue
            try:
                out.append(ResultRow.from_dict(row))  # checked once, by the schema
            except ValueError as err:
                raise ValueError(f"{self.path}, line {n}: {err} (not a results row: fix or remove that line)") from None
        return out

    def keys(self) -> set[str]:
        return {r.key for r in self.rows()}

    def append(self, row: ResultRow | dict[str, Any]) -> None:
        """Append one row (a :class:`ResultRow`, or its stored object, checked first)."""
        if isinstance(row, ResultRow):
            row = row.to_dict()
        problem = row_problem(row)
        if problem:
            raise ValueError(f"not a results row: {problem}")
        row = {"created": time.strftime("%Y-%m-%dT%H:%M:%S"), "versions": versions()} | row
        line = (json.dumps(row, ensure_ascii=False, default=str) + "\n").encode("utf-8")
        with _LOCK:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            self._drop_partial_last_line()
            with open(self.path, "ab") as fh:
                fh.write(_gzip_member(line) if self.compressed else line)
                fh.flush()
                os.fsync(fh.fileno())

    @property
    def compressed(self) -> bool:
        return self.path.suffix == ".gz"

    def _text(self) -> str:
        data = self.path.read_bytes()
        if not self.compressed:
            return data.decode("utf-8")
        return _gzip_members(data, self.path)[0].decode("utf-8")

    def _drop_partial_last_line(self) -> None:
        """A crash mid-append leaves a line without its newline (a gzip store: a member cut
        short): remove it before appending."""
        if not self.path.is_file() or self.path.stat().st_size == 0:
            return
        data = self.path.read_bytes()
        if self.compressed:
            cut = _gzip_members(data, self.path)[1]
        elif data.endswith(b"\n"):
            return
        else:
            cut = data.rfind(b"\n") + 1
        if cut < len(data):
            with open(self.path, "r+b") as fh:
                fh.truncate(cut)

    def extend(self, rows: Iterable[ResultRow | dict[str, Any]]) -> None:
        for row in rows:
            self.append(row)


def _gzip_member(data: bytes) -> bytes:
    return gzip.compress(data, compresslevel=6, mtime=0)


def _gzip_members(data: bytes, path: Path) -> tuple[bytes, int]:
    """The decompressed text of a gzip store and the length of its complete members (a last
    member cut short by a crash is left out).

    Raises
    ------
    ValueError
        Bytes that are not gzip before the last member.
    """
    try:
        return gzip.decompress(data), len(data)  # the usual case, one C call for every member
    except EOFError:
        pass  # the last member was cut short: walk the members to find where
    except (OSError, zlib.error):
        raise ValueError(f"{path}: not a gzip results store") from None
    members, offset, view = [], 0, memoryview(data)
    while offset < len(data):
        unpack = zlib.decompressobj(31)
        try:
            out = unpack.decompress(view[offset:])
        except zlib.error:
            raise ValueError(f"{path}: not a gzip results store (bad data at byte {offset})") from None
        if not unpack.eof:  # cut short: only ever the last member
            break
        members.append(out)
        offset = len(data) - len(unpack.unused_data)
    return b"".join(members), offset
