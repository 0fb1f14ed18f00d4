"""The systems the app offers: the zero-shot model plus every finished run found on disk.

A *finished run* is a folder holding ``summary.json`` (written by ``optical distill`` at
the end); folders with only ``config.json`` / ``metrics.jsonl`` are runs in progress:
listed for their learning curves, not offered as systems (:mod:`optical.run_folder` reads them).
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path

from optical.app.settings import AppSettings
from optical.run_folder import RunFolder, read_summary
from optical.systems import System, parse_system

__all__ = ["AppSystem", "available_systems", "find_runs", "zero_shot"]

_SKIP = {"best", "last", "checkpoint", "__pycache__"}


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
        run = RunFolder(folder)
        if run.finished or run.started:
            found[folder.resolve()] = run
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
        info = read_summary(run)
        system = parse_system(str(run))
    except (OSError, ValueError) as err:
        dummy = System(run.name, "", "", "trained", str(run))
        return AppSystem(
            run.name, dummy, "", "", str(run), {}, f"{run}: unreadable run summary ({err})"
        )
    side = info.student_side
    student, teacher = (
        (system.query_model, system.doc_model)
        if side == "query"
        else (system.doc_model, system.query_model)
    )
    cfg = info.config
    brief = {
        "run": str(run),
        "objective": (cfg.get("objective") or {}).get("name"),
        "train": (cfg.get("data") or {}).get("train"),
        "pairs": info.pairs,
        "steps": info.steps,
        "best_dev_rr10": info.best_dev_rr10,
        "student_side": side,
    }
    problem = None
    if not (Path(student) / "config.json").is_file():
        problem = f"{system.name}: the student checkpoint {student} is missing (deleted or moved)"
    return AppSystem(system.name, system, student, teacher, str(run), brief, problem)


def _best_dev(run: RunFolder) -> float:
    """The run's best dev MRR@10 (from its summary); -1 when it has none."""
    try:
        value = run.summary().best_dev_rr10
    except (OSError, ValueError):
        return -1.0
    return float(value) if value is not None else -1.0


def available_systems(settings: AppSettings) -> list[AppSystem]:
    """``zero-shot`` first, then every finished run under ``settings.runs``, best dev score
    first, then newest (the first is the default student; a collapsed run never leads);
    labels unique: a repeated system name gets its folder."""
    systems = [zero_shot(settings)]
    seen = {"zero-shot"}
    finished = [run for run in find_runs(settings.runs) if run.finished]
    finished.sort(key=lambda run: (-_best_dev(run), -run.finished_at()))
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
