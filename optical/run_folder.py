"""A distillation run folder, read in one place.

``optical distill`` writes into its run folder ``config.json`` at the start, one JSON line
per logged step in ``metrics.jsonl`` while it trains, and ``summary.json`` when it has
finished (:func:`optical.train.loop.distill`). Every reader of a run (systems, the results
rows, sweeps, the demo, the app) asks this module instead of opening those files.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

__all__ = ["CONFIG", "METRICS", "SUMMARY", "RunFolder", "RunSummary", "read_config", "read_summary"]

SUMMARY = "summary.json"
CONFIG = "config.json"
METRICS = "metrics.jsonl"


@dataclass(frozen=True)
class RunSummary:
    """What ``summary.json`` says of a finished run.

    ``student`` is where the student is now: the path the summary names, or the folder of
    that name inside the run when the run folder was moved.
    """

    system: str
    student: str
    teacher: str
    student_side: str = "query"
    steps: int | None = None
    pairs: int | None = None
    best_dev_rr10: float | None = None
    train_seconds: float | None = None
    config: dict[str, Any] = field(default_factory=dict, compare=False)


@dataclass(frozen=True)
class RunFolder:
    """A training run folder: ``finished`` when it has ``summary.json``."""

    path: Path

    @property
    def name(self) -> str:
        return self.path.name

    @property
    def finished(self) -> bool:
        return (self.path / SUMMARY).is_file()

    @property
    def started(self) -> bool:
        """Has a config and a metrics log (training began), finished or not."""
        return (self.path / METRICS).is_file() and (self.path / CONFIG).is_file()

    @property
    def metrics_path(self) -> Path:
        return self.path / METRICS

    def summary(self) -> RunSummary:
        return read_summary(self.path)

    def config(self) -> dict[str, Any] | None:
        return read_config(self.path)

    def finished_at(self) -> float:
        """When ``summary.json`` was written (0 when it cannot be read)."""
        try:
            return (self.path / SUMMARY).stat().st_mtime
        except OSError:
            return 0.0


def _read_json(path: Path) -> Any:
    try:
        return json.loads(path.read_text(encoding="utf-8"))
    except (json.JSONDecodeError, UnicodeDecodeError) as err:
        raise ValueError(f"{path}: not valid JSON ({err}); is the run folder damaged?") from None


def _number(info: dict[str, Any], name: str) -> Any:
    value = info.get(name)
    return value if isinstance(value, int | float) and not isinstance(value, bool) else None


def read_summary(run_dir: str | Path) -> RunSummary:
    """The summary of a finished run, checked for what a system needs (student, teacher).

    Raises
    ------
    FileNotFoundError
        No ``summary.json`` (not a run folder, or a run still training).
    ValueError
        The summary is not JSON, or names no student / teacher model.
    """
    run_dir = Path(run_dir)
    path = run_dir / SUMMARY
    if not path.is_file():
        raise FileNotFoundError(f"{run_dir}: no {SUMMARY} (not a finished run)")
    info = _read_json(path)
    missing = [k for k in ("student", "teacher") if not isinstance(info, dict) or not isinstance(info.get(k), str)]
    if missing:
        raise ValueError(f"{path}: a run summary needs {' and '.join(missing)} (model paths)")
    student = Path(info["student"])
    if not student.is_dir():  # the run folder was moved: the student is inside it
        student = run_dir / student.name
    config = info.get("config")
    return RunSummary(
        system=str(info.get("system") or run_dir.name),
        student=str(student),
        teacher=info["teacher"],
        student_side=str(info.get("student_side") or "query"),
        steps=_number(info, "steps"),
        pairs=_number(info, "pairs"),
        best_dev_rr10=_number(info, "best_dev_rr10"),
        train_seconds=_number(info, "train_seconds"),
        config=config if isinstance(config, dict) else {},
    )


def read_config(run_dir: str | Path | None) -> dict[str, Any] | None:
    """A run's ``config.json`` as stored (None when there is no run or no config)."""
    if not run_dir:
        return None
    path = Path(run_dir) / CONFIG
    if not path.is_file():
        return None
    config = _read_json(path)
    if not isinstance(config, dict):
        raise ValueError(f"{path}: not a JSON object")
    return config
