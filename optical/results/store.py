"""The results store: one JSON line per (system, dataset, split) evaluation.

Every row carries the system, its training config (if any), the dataset and language,
aggregate metrics, per-query scores (for significance tests), timings and versions.
The app's results view, the notebooks and ``optical report`` all read this file.
Default location: ``$OPTICAL_RESULTS`` or ``runs/results.jsonl`` under the current folder.
"""

from __future__ import annotations

import hashlib
import json
import os
import platform
import threading
import time
import warnings
from collections.abc import Iterable
from pathlib import Path
from typing import Any

import pandas as pd

__all__ = ["ResultsStore", "ResultsStoreWarning", "default_store_path", "result_key", "row_problem", "versions"]

_LOCK = threading.Lock()


def default_store_path() -> Path:
    return Path(os.environ.get("OPTICAL_RESULTS") or Path("runs") / "results.jsonl")


def result_key(payload: dict[str, Any]) -> str:
    """Stable id of an evaluation: what was evaluated, on what, how."""
    return hashlib.sha256(json.dumps(payload, sort_keys=True, default=str).encode()).hexdigest()[:16]


def versions() -> dict[str, str]:
    import torch
    import transformers

    import optical

    return {"optical": optical.__version__, "torch": torch.__version__, "transformers": transformers.__version__,
            "python": platform.python_version()}


class ResultsStoreWarning(UserWarning):
    """A malformed row in the results store (skipped)."""


_TEXT_FIELDS = ("key", "system", "dataset", "language", "split")


def _is_number(value: object) -> bool:
    return isinstance(value, int | float)  # bools too: mining rows store per-pair hits


def row_problem(row: object) -> str | None:
    """What makes ``row`` unusable as a results-store row, or None when it is fine."""
    if not isinstance(row, dict):
        return f"not a JSON object ({type(row).__name__})"
    missing = [f for f in (*_TEXT_FIELDS, "metrics") if f not in row]
    if missing:
        return f"missing {', '.join(missing)}"
    wrong = [f for f in _TEXT_FIELDS if not isinstance(row[f], str)]
    if wrong:
        return f"{', '.join(wrong)} must be text"
    metrics = row["metrics"]
    if not isinstance(metrics, dict) or not all(_is_number(v) for v in metrics.values()):
        return "metrics must map measure names to numbers"
    per_query = row.get("per_query", {})
    if not isinstance(per_query, dict) or not all(
        isinstance(v, dict) and all(_is_number(x) for x in v.values()) for v in per_query.values()
    ):
        return "per_query must map measure names to {query id: number}"
    return None


class ResultsStore:
    """Append-only JSONL results; rows with a key already present are skipped."""

    def __init__(self, path: str | Path | None = None) -> None:
        self.path = Path(path) if path is not None else default_store_path()
        if self.path.is_dir():  # refused when named, before any run starts
            raise ValueError(f"{self.path}: a folder; the results store is a .jsonl file")

    def rows(self) -> list[dict[str, Any]]:
        """The stored rows; a row without the fields readers need is skipped with a
        :class:`ResultsStoreWarning` naming its line (it never reaches the tables)."""
        if self.path.is_dir():
            raise ValueError(f"{self.path}: a folder; the results store is a .jsonl file")
        if not self.path.is_file():
            return []
        try:
            lines = self.path.read_text(encoding="utf-8").splitlines()
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
            problem = row_problem(row)
            if problem:
                warnings.warn(f"{self.path}, line {n}: {problem}; row skipped", ResultsStoreWarning,
                              stacklevel=2)
                continue
            out.append(row)
        return out

    def keys(self) -> set[str]:
        return {r["key"] for r in self.rows()}

    def append(self, row: dict[str, Any]) -> None:
        row = {"created": time.strftime("%Y-%m-%dT%H:%M:%S"), "versions": versions()} | row
        line = json.dumps(row, ensure_ascii=False, default=str) + "\n"
        with _LOCK:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            self._drop_partial_last_line()
            with open(self.path, "a", encoding="utf-8") as fh:
                fh.write(line)
                fh.flush()
                os.fsync(fh.fileno())

    def _drop_partial_last_line(self) -> None:
        """A crash mid-append leaves a line without its newline: remove it before appending."""
        if not self.path.is_file() or self.path.stat().st_size == 0:
            return
        data = self.path.read_bytes()
        if data.endswith(b"\n"):
            return
        cut = data.rfind(b"\n") + 1
        with open(self.path, "r+b") as fh:
            fh.truncate(cut)

    def extend(self, rows: Iterable[dict[str, Any]]) -> None:
        for row in rows:
            self.append(row)

    # ---------------------------------------------------------------- frames
    def summary_frame(self, rows: list[dict[str, Any]] | None = None) -> pd.DataFrame:
        """One row per (system, dataset, split, measure) with the aggregate value (of
        ``rows`` when given, e.g. already read with :meth:`rows`)."""
        records = []
        for r in self.rows() if rows is None else rows:
            for measure, value in r["metrics"].items():
                records.append({"system": r["system"], "dataset": r["dataset"], "language": r["language"],
                                "split": r["split"], "measure": measure, "value": value,
                                "resource": r.get("resource", "unknown"), "group": r.get("group", ""),
                                "kind": r.get("kind", ""), "seed": r.get("seed"), "key": r["key"]})
        return pd.DataFrame.from_records(records, columns=["system", "dataset", "language", "split", "measure",
                                                           "value", "resource", "group", "kind", "seed", "key"])

    def per_query_frame(self, rows: list[dict[str, Any]] | None = None) -> pd.DataFrame:
        """Long per-query frame (system, language, qid, measure, value) for significance tables."""
        records = []
        for r in self.rows() if rows is None else rows:
            for measure, scores in r.get("per_query", {}).items():
                for qid, value in scores.items():
                    records.append((r["system"], r["language"], r["dataset"], r["split"], qid, measure, value,
                                    r.get("group", ""), r.get("seed")))
        return pd.DataFrame.from_records(records, columns=["system", "language", "dataset", "split", "qid",
                                                           "measure", "value", "group", "seed"])
