"""Declarative sweeps: a spec expands to runs; each run trains (unless it is zero-shot),
is evaluated per language, and lands in the results store. Finished work is skipped,
an interrupted run resumes from its checkpoint, so re-running a sweep is cheap.

A spec (TOML)::

    [sweep]
    name = "bible-main"                 # results rows carry it as `group`
    runs_dir = "runs/bible-main"
    eval = ["bible:sw", "bible:tl", "bible:de"]
    eval_split = "test"
    zero_shot = ["zero-shot"]           # systems evaluated without training

    [base]                              # distillation settings shared by every run
    "data.max_pairs" = 2000

    [grid]                              # every combination becomes a run
    "data.train" = ["bible:sw", "bible:tl"]
    "run.seed" = [0, 1, 2]

    [[variants]]                        # each variant is crossed with the grid
    name = "optical"
    "objective.name" = "optical"
    [[variants]]
    name = "ce-100"
    "objective.name" = "cross_entropy"
    "data.max_pairs" = 100

A run's system name is ``<variant>-<train language>`` (seeds share it, so tables
average over seeds); its folder is ``<runs_dir>/<variant>-<lang>-s<seed>[-<hash>]``.
"""

from __future__ import annotations

import fnmatch
import hashlib
import itertools
import json
import time
import tomllib
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from optical.results import ResultsStore
from optical.train.config import DistillConfig, apply_overrides

__all__ = ["SweepSpec", "PlannedRun", "load_spec", "plan", "select", "run_sweep"]

Progress = Callable[[str], None]


@dataclass
class SweepSpec:
    name: str
    runs_dir: str
    eval: list[str]
    eval_split: str = "test"
    zero_shot: list[str] = field(default_factory=list)
    base: dict[str, Any] = field(default_factory=dict)
    grid: dict[str, list[Any]] = field(default_factory=dict)
    variants: list[dict[str, Any]] = field(default_factory=list)
    mode: str = "pooled"
    store: str | None = None


@dataclass
class PlannedRun:
    system: str  # name in tables (seeds share it)
    run_dir: Path
    overrides: dict[str, Any]
    seed: int
    variant: str
    config: DistillConfig


def load_spec(path: str | Path, overrides: dict[str, Any] | None = None) -> SweepSpec:
    """Read a sweep spec; ``overrides`` replace ``[sweep]`` keys or ``base`` settings (dotted keys)."""
    p = Path(path)
    if not p.is_file():
        raise FileNotFoundError(f"sweep spec not found: {p}")
    try:
        data = tomllib.loads(p.read_text(encoding="utf-8"))
    except tomllib.TOMLDecodeError as err:
        raise ValueError(f"{p}: not valid TOML ({err})") from err
    sweep = data.get("sweep", {})
    if "eval" not in sweep or "runs_dir" not in sweep:
        raise ValueError(f"{p}: [sweep] needs `eval` (dataset specs) and `runs_dir`")
    spec = SweepSpec(
        name=sweep.get("name", p.stem), runs_dir=sweep["runs_dir"], eval=list(sweep["eval"]),
        eval_split=sweep.get("eval_split", "test"), zero_shot=list(sweep.get("zero_shot", [])),
        base=dict(data.get("base", {})), grid={k: list(v) for k, v in data.get("grid", {}).items()},
        variants=list(data.get("variants", [])), mode=sweep.get("mode", "pooled"), store=sweep.get("store"),
    )
    for key, value in (overrides or {}).items():
        if hasattr(spec, key) and "." not in key:
            setattr(spec, key, value)
        else:
            spec.base[key] = value
    return spec


def _fmt(value: Any) -> str:
    return "none" if value is None else ",".join(map(str, value)) if isinstance(value, list) else str(value)


def plan(spec: SweepSpec) -> list[PlannedRun]:
    """Expand the spec into runs (validated configs; errors name the offending run)."""
    keys = list(spec.grid)
    combos = [dict(zip(keys, values, strict=True)) for values in itertools.product(*spec.grid.values())] or [{}]
    variants = spec.variants or [{"name": None}]
    runs: list[PlannedRun] = []
    seen: set[Path] = set()
    for variant in variants:
        v = dict(variant)
        vname = v.pop("name", None)
        for combo in combos:
            overrides = spec.base | combo | v
            try:
                cfg = apply_overrides(DistillConfig(), [f"{k}={_fmt(x)}" for k, x in overrides.items()])
            except ValueError as err:
                raise ValueError(f"sweep {spec.name}, variant {vname or '-'}, {combo}: {err}") from err
            lang = cfg.data.train.split(":", 1)[-1] if ":" in cfg.data.train else Path(cfg.data.train).stem
            label = vname or cfg.objective.name
            system = f"{label}-{lang}"
            folder = f"{system}-s{cfg.run.seed}"
            varying = {k: combo[k] for k in keys if k not in {"data.train", "run.seed"}}
            if varying:  # other grid axes make the folder and the system name unique
                tag = "-".join(f"{k.split('.')[-1]}{_fmt(x)}" for k, x in varying.items())
                system += f"-{tag}"
                folder = f"{system}-s{cfg.run.seed}"
            run_dir = Path(spec.runs_dir) / folder
            if run_dir in seen:
                run_dir = run_dir.with_name(folder + "-" + hashlib.sha1(json.dumps(overrides, sort_keys=True,
                                                                                     default=str).encode()).hexdigest()[:6])
            seen.add(run_dir)
            cfg = apply_overrides(cfg, [f"run.out_dir={run_dir}", f"run.name={system}"])
            runs.append(PlannedRun(system, run_dir, overrides, cfg.run.seed, label, cfg))
    # seed-major order: a sweep stopped half-way still has every system for the first seeds
    runs.sort(key=lambda r: r.seed)
    return runs


def _matches(run: PlannedRun, pattern: str) -> bool:
    return any(fnmatch.fnmatchcase(name, pattern) for name in (run.system, run.run_dir.name))


def select(runs: list[PlannedRun], only: list[str]) -> list[PlannedRun]:
    """Keep the runs whose system name or folder name matches one of the ``only`` patterns
    (shell-style, e.g. ``optical-sw``, ``*-sw-s0``); a pattern matching nothing is an error."""
    kept = [r for r in runs if any(_matches(r, p) for p in only)]
    for pattern in only:
        if not any(_matches(r, pattern) for r in runs):
            names = sorted({r.run_dir.name for r in runs})
            raise ValueError(f"--only {pattern!r} matches no run of this sweep; runs: {', '.join(names)}")
    return kept


def run_sweep(spec: SweepSpec, store: ResultsStore | None = None, progress: Progress | None = print,
              dry_run: bool = False, train_only: bool = False, only: list[str] | None = None,
              skip_zero_shot: bool = False) -> dict[str, Any]:
    """Train and evaluate every planned run that is not done yet; return counts and timings.

    ``only`` restricts the training runs to those matching the patterns (see :func:`select`);
    ``skip_zero_shot`` leaves out the zero-shot systems.
    """
    from optical.bench import bench
    from optical.systems import parse_system, release_encoders
    from optical.train.checkpoint import find_checkpoint
    from optical.train.loop import distill

    store = store or ResultsStore(spec.store)
    runs = plan(spec)
    if only:
        runs = select(runs, only)
    zero_shot = [] if skip_zero_shot else spec.zero_shot
    say = progress or (lambda *_: None)
    say(f"sweep {spec.name}: {len(runs)} training runs + {len(zero_shot)} zero-shot systems "
        f"x {len(spec.eval)} datasets -> {store.path}")
    if dry_run:
        for r in runs:
            say(f"  {r.run_dir}  system={r.system}  seed={r.seed}")
        return {"planned": len(runs)}
    stats = {"trained": 0, "resumed": 0, "skipped": 0, "evaluated": 0, "seconds": 0.0}
    start = time.time()
    extra = {"group": spec.name}
    if not train_only:
        for name in zero_shot:
            rows = bench([parse_system(name)], spec.eval, spec.eval_split, store, mode=spec.mode,
                         progress=progress, extra=extra | {"seed": None, "variant": "zero-shot"})
            stats["evaluated"] += len(rows)
    for i, run in enumerate(runs, 1):
        say(f"[{i}/{len(runs)}] {run.system} seed {run.seed} ({run.run_dir})")
        if (run.run_dir / "summary.json").is_file():
            stats["skipped"] += 1
        else:
            resume = find_checkpoint(run.run_dir) is not None
            stats["resumed" if resume else "trained"] += 1
            distill(run.config, resume=resume)
        if not train_only:
            system = parse_system(str(run.run_dir), name=run.system)
            rows = bench([system], spec.eval, spec.eval_split, store, mode=spec.mode, progress=progress,
                         extra=extra | {"seed": run.seed, "variant": run.variant, "overrides": run.overrides})
            stats["evaluated"] += len(rows)
            release_encoders(system.query_model)  # keep memory flat over long sweeps
    stats["seconds"] = time.time() - start
    say(f"sweep {spec.name} done: {json.dumps(stats)}")
    return stats
