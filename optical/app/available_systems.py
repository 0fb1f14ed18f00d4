"""The systems the app offers: the zero-shot model plus every finished run found on disk.

A *finished run* is a folder holding ``summary.json`` (written by ``optical distill`` at
the end); folders with only ``config.json`` / ``metrics.jsonl`` are runs in progress:
listed for their learning curves, not offered as systems.
"""

from __future__ import annotations

import json
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path

from optical.app.settings import AppSettings
from optical.systems import System, parse_system

__all__ = ["AppSystem", "RunFolder", "available_systems", "find_runs", "zero_shot"]

_SKIP = {"best", "last", "checkpoint", "__pycache__"}


@dataclass(frozen=True)
class RunFolder:
    """A training run folder: ``finished`` when it has ``summary.json``."""

    path: Path
    finished: bool

    @property
    def name(self) -> str:
        return self.path.name


@dataclass(frozen=True)
class AppSystem:
    """A system as the app shows it.

    ``student`` reads the foreign side and ``teacher`` the English side in the
    alignment explorer (both the zero-shot model for ``zero-shot``); ``problem`` says
    why it cannot be used (e.g. a deleted checkpoint), else None.
    """

    label: str
    system: System
    student: str
    teacher: str
    run_dir: str | None = None
    info: dict = field(default_factory=dict, compare=False, hash=False)
    problem: str | None = None

    @property
    def trained(self) -> bool:
        return self.run_dir is not None


def zero_shot(settings: AppSettings) -> AppSystem:
    """The zero-shot system: the settings' model on both sides."""
    model = settings.zero_shot_model
    system = System("zero-shot", model, model, "zero-shot")
    return AppSystem("zero-shot", system, model, model, info={"model": model})


def find_runs(roots: Iterable[Path], max_depth: int = 4) -> list[RunFolder]:
    """Run folders (``summary.json`` or ``metrics.jsonl``) under ``roots``, sorted by path."""
    found: dict[Path, RunFolder] = {}

    def walk(folder: Path, depth: int) -> None:
        if (folder / "summary.json").is_file():
            found[folder.resolve()] = RunFolder(folder, True)
            return
        if (folder / "metrics.jsonl").is_file() and (folder / "config.json").is_file():
            found[folder.resolve()] = RunFolder(folder, False)
            return
        if depth >= max_depth:
            return
        try:
            children = sorted(p for p in folder.iterdir() if p.is_dir() and p.name not in _SKIP)
        except OSError:
            return
        for child in children:
            walk(child, depth + 1)

    for root in roots:
        if Path(root).is_dir():
            walk(Path(root), 0)
    return sorted(found.values(), key=lambda r: str(r.path))


def _trained(run: Path) -> AppSystem:
    """An :class:`AppSystem` for a finished run (with ``problem`` set when it is unusable)."""
    try:
        info = json.loads((run / "summary.json").read_text(encoding="utf-8"))
        system = parse_system(str(run))
    except (OSError, ValueError, KeyError) as err:
        dummy = System(run.name, "", "", "trained", str(run))
        return AppSystem(
            run.name, dummy, "", "", str(run), {}, f"{run}: unreadable run summary ({err})"
        )
    side = info.get("student_side", "query")
    student, teacher = (
        (system.query_model, system.doc_model)
        if side == "query"
        else (system.doc_model, system.query_model)
    )
    cfg = info.get("config") or {}
    brief = {
        "run": str(run),
        "objective": (cfg.get("objective") or {}).get("name"),
        "train": (cfg.get("data") or {}).get("train"),
        "pairs": info.get("pairs"),
        "steps": info.get("steps"),
        "best_dev_rr10": info.get("best_dev_rr10"),
        "student_side": side,
    }
    problem = None
    if not (Path(student) / "config.json").is_file():
        problem = f"{system.name}: the student checkpoint {student} is missing (deleted or moved)"
    return AppSystem(system.name, system, student, teacher, str(run), brief, problem)


def _finished_at(run: Path) -> float:
    try:
        return (run / "summary.json").stat().st_mtime
    except OSError:
        return 0.0


def _best_dev(run: Path) -> float:
    """The run's best dev MRR@10 (from ``summary.json``); -1 when it has none."""
    try:
        value = json.loads((run / "summary.json").read_text()).get("best_dev_rr10")
    except (OSError, ValueError):
        return -1.0
    return float(value) if isinstance(value, (int, float)) else -1.0


def available_systems(settings: AppSettings) -> list[AppSystem]:
    """``zero-shot`` first, then every finished run under ``settings.runs``, best dev score
    first, then newest (the first is the default student; a collapsed run never leads);
    labels unique: a repeated system name gets its folder."""
    systems = [zero_shot(settings)]
    seen = {"zero-shot"}
    finished = [run for run in find_runs(settings.runs) if run.finished]
    finished.sort(key=lambda run: (-_best_dev(run.path), -_finished_at(run.path)))
    for run in finished:
        item = _trained(run.path)
        label = item.label
        if label in seen:  # two runs with one system name: tell them apart by folder
            label = f"{item.label} ({run.path})"
        seen.add(label)
        systems.append(
            AppSystem(
                label,
                item.system,
                item.student,
                item.teacher,
                item.run_dir,
                item.info,
                item.problem,
            )
        )
    return systems
