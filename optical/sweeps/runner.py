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
    modes = ["pooled", "maxsim"]        # scoring modes every system is evaluated in
                                        # (default: mode = "pooled"; one row per mode)

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

Settings are spelled as in ``optical distill`` (``"objective.eps" = 0.02``, or a nested
``[base.objective]`` table) and typed as there (:func:`optical.train.config_values.coerce`): a TOML
value goes straight to the setting, with no round trip through text. The whole spec is
checked before any run starts (:func:`check_spec`, also done by :func:`plan`): unknown
sections and keys are refused with the closest known names; ``eval``, ``zero_shot`` and
every grid axis must be lists (a string is refused, not split into characters); an empty
grid axis is an error (it would make 0 runs); variant names are unique; ``run.out_dir``
and ``run.name`` are the sweep's to set; every planned run's config is validated.
"""

from __future__ import annotations

import difflib
import fnmatch
import hashlib
import itertools
import json
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from optical.results import ResultsStore
from optical.run_folder import RunFolder
from optical.train.config import (
    SETTINGS,
    DistillConfig,
    apply_overrides,
    check_dataset_spec,
    migrate_settings,
)
from optical.train.config_values import coerce, flatten_settings, read_toml, unknown_setting

__all__ = ["SweepSpec", "PlannedRun", "load_spec", "check_spec", "plan", "select", "run_sweep"]

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
    modes: list[str] = field(default_factory=list)

    @property
    def scoring(self) -> list[str]:
        """The scoring modes every system is evaluated in: ``modes``, else ``[mode]``."""
        return list(self.modes) or [self.mode]


@dataclass
class PlannedRun:
    system: str  # name in tables (seeds share it)
    run_dir: Path
    overrides: dict[str, Any]
    seed: int
    variant: str
    config: DistillConfig


SECTIONS = ("sweep", "base", "grid", "variants")
SPLITS = ("test", "dev", "train")
MODES = ("pooled", "maxsim", "ot")  # = optical.retrieval.MODES (no torch import here)
#: ``[sweep]`` keys and their types
SWEEP_KEYS: dict[str, Any] = {"name": str, "runs_dir": str, "eval": list[str], "eval_split": str,
                              "zero_shot": list[str], "mode": str, "store": str | None, "modes": list[str]}
_SWEEP_OWNED = ("run.out_dir", "run.name")  # set per run from runs_dir and the variant


def load_spec(path: str | Path, overrides: dict[str, Any] | None = None) -> SweepSpec:
    """Read and check a sweep spec; ``overrides`` replace ``[sweep]`` keys (``runs_dir``)
    or set ``base`` settings (dotted keys); :class:`~optical.train.config_values.Text` values are
    parsed as on the command line, others must have the key's type."""
    p = Path(path)
    data = read_toml(p, "sweep spec")
    try:
        spec = _spec_from_toml(data, p.stem)
        for key, value in (overrides or {}).items():
            if key in SWEEP_KEYS:
                setattr(spec, key, value)
            elif key in SETTINGS:
                spec.base[key] = value
            else:
                raise unknown_setting(key, [*SWEEP_KEYS, *SETTINGS])
        return check_spec(spec)
    except ValueError as err:
        raise ValueError(f"{p}: {err}") from err


def _table(data: dict[str, Any], name: str) -> dict[str, Any]:
    value = data.get(name, {})
    if not isinstance(value, dict):
        raise ValueError(f"[{name}] must be a table, got {value!r}")
    return value


def _spec_from_toml(data: dict[str, Any], default_name: str) -> SweepSpec:
    for section in data:
        if section not in SECTIONS:
            close = difflib.get_close_matches(section, SECTIONS, n=1, cutoff=0.6)
            raise ValueError(f"unknown section [{section}]" + (f"; did you mean [{close[0]}]?" if close else
                             "; a spec has [sweep], [base], [grid] and [[variants]]"))
    sweep = _table(data, "sweep")
    for key in sweep:
        if key not in SWEEP_KEYS:
            close = difflib.get_close_matches(key, list(SWEEP_KEYS), n=1, cutoff=0.6)
            raise ValueError(f"[sweep] unknown key {key!r}; " + (f"did you mean {close[0]}?" if close else
                             f"[sweep] has {', '.join(SWEEP_KEYS)}"))
    for key in ("eval", "runs_dir"):
        if key not in sweep:
            raise ValueError(f"[sweep] needs `{key}` (eval: a list of dataset specs; runs_dir: a folder)")
    variants = data.get("variants", [])
    if not isinstance(variants, list) or not all(isinstance(v, dict) for v in variants):
        raise ValueError("variants must be an array of tables ([[variants]] blocks)")
    return SweepSpec(
        name=sweep.get("name", default_name), runs_dir=sweep["runs_dir"], eval=sweep["eval"],
        eval_split=sweep.get("eval_split", "test"), zero_shot=sweep.get("zero_shot", []),
        base=_table(data, "base"), grid=_table(data, "grid"), variants=variants,
        mode=sweep.get("mode", "pooled"), store=sweep.get("store"), modes=sweep.get("modes", []),
    )


def _settings(where: str, values: dict[str, Any]) -> dict[str, Any]:
    out = {}
    for key, value in migrate_settings(flatten_settings(values)).items():
        if key not in SETTINGS:
            raise ValueError(f"{where}: {unknown_setting(key, SETTINGS)}")
        if key in _SWEEP_OWNED:
            raise ValueError(f"{where}: {key} is set by the sweep (from runs_dir and the variant name)")
        out[key] = coerce(f"{where} {key}", value, SETTINGS[key])
    return out


def check_spec(spec: SweepSpec) -> SweepSpec:
    """Check every key and value of ``spec`` (types, choices, structure) and normalise them
    in place (command-line text parsed, nested settings flattened); return it."""
    for key, hint in SWEEP_KEYS.items():
        setattr(spec, key, coerce(f"[sweep] {key}", getattr(spec, key), hint))
    if not spec.eval:
        raise ValueError("[sweep] eval is empty: give at least one dataset spec, e.g. [\"bible:sw\"]")
    for dataset in spec.eval:
        check_dataset_spec("[sweep] eval", dataset)
    if not spec.runs_dir.strip():
        raise ValueError("[sweep] runs_dir is empty")
    if spec.eval_split not in SPLITS:
        raise ValueError(f"[sweep] eval_split must be one of {', '.join(SPLITS)}, got {spec.eval_split!r}")
    for mode in [spec.mode, *spec.modes]:
        if mode not in MODES:
            raise ValueError(f"[sweep] mode must be one of {', '.join(MODES)}, got {mode!r}")
    if len(set(spec.modes)) != len(spec.modes):
        raise ValueError(f"[sweep] modes lists a mode twice: {spec.modes}")
    if spec.modes and spec.mode != "pooled" and spec.mode not in spec.modes:
        raise ValueError(f"[sweep] mode = {spec.mode!r} and modes = {spec.modes}: give one of them")
    spec.base = _settings("[base]", spec.base)
    grid: dict[str, list[Any]] = {}
    for key, values in flatten_settings(spec.grid).items():
        if not isinstance(values, (list, tuple)):
            raise ValueError(f"[grid] {key!r} must be a list of values, e.g. [0, 1], got {values!r}")
        if not values:
            raise ValueError(f"[grid] {key!r} is empty: it would give 0 runs; give it values or remove it")
        grid[key] = [_settings("[grid]", {key: v})[key] for v in values]
    spec.grid = grid
    variants, names = [], set()
    for i, variant in enumerate(spec.variants, 1):
        v = dict(variant)
        name = v.pop("name", None)
        if name is not None and (not isinstance(name, str) or not name.strip()):
            raise ValueError(f"variant {i}: name must be a non-empty string, got {name!r}")
        label = name or f"{i}"
        if name is not None and name in names:
            raise ValueError(f"variant name {name!r} is used twice: systems would mix in tables")
        names.add(name)
        settings = _settings(f"variant {label}", v)
        both = sorted(set(settings) & set(grid))
        if both:
            raise ValueError(f"variant {label} sets {', '.join(both)}, which is also a grid axis")
        variants.append({"name": name, **settings} if name is not None else settings)
    spec.variants = variants
    return spec


def _fmt(value: Any) -> str:
    return "none" if value is None else ",".join(map(str, value)) if isinstance(value, list) else str(value)


def plan(spec: SweepSpec) -> list[PlannedRun]:
    """Expand the (checked) spec into runs (validated configs; errors name the offending run)."""
    check_spec(spec)
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
                cfg = apply_overrides(DistillConfig(), overrides)
            except ValueError as err:
                raise ValueError(f"sweep {spec.name}, variant {vname or '-'}, {combo}: {err}") from err
            lang = cfg.train_tag()
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
            cfg = apply_overrides(cfg, {"run.out_dir": str(run_dir), "run.name": system})
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


def _evaluated(store: ResultsStore, spec: SweepSpec) -> set[tuple]:
    """(system, seed, variant, overrides, dataset, mode) of every row of this sweep in the store."""
    return {(r.system, r.seed, r.variant, json.dumps(r.overrides, sort_keys=True, default=str), r.dataset, r.mode)
            for r in store.rows() if r.group == spec.name}


def _done_in_store(stored: set[tuple], run: PlannedRun, spec: SweepSpec) -> bool:
    """Every evaluation the spec asks of ``run`` is stored (a sweep resumed on another machine,
    where the run folders — model weights, never committed — are gone but the store is not)."""
    ident = (run.system, run.seed, run.variant, json.dumps(run.overrides, sort_keys=True, default=str))
    return all((*ident, dataset, mode) in stored for dataset in spec.eval for mode in spec.scoring)


def run_sweep(spec: SweepSpec, store: ResultsStore | None = None, progress: Progress | None = print,
              dry_run: bool = False, train_only: bool = False, only: list[str] | None = None,
              skip_zero_shot: bool = False) -> dict[str, Any]:
    """Train and evaluate every planned run that is not done yet; return counts and timings.

    ``only`` restricts the training runs to those matching the patterns (see :func:`select`);
    ``skip_zero_shot`` leaves out the zero-shot systems.
    """
    from optical.results.collect import bench
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
    stats: dict[str, Any] = {"trained": 0, "resumed": 0, "skipped": 0, "evaluated": 0, "not_scored": [],
                             "seconds": 0.0}
    start = time.time()
    extra = {"group": spec.name}
    # token modes first: their index (with a token store) serves the pooled mode too, built once
    scoring = sorted(spec.scoring, key=lambda m: m == "pooled")
    if not train_only:
        for name in zero_shot:
            system = parse_system(name)
            for mode in scoring if system.kind != "bm25" else ["pooled"]:  # BM25 has no token vectors
                def refused(system: Any, dataset: str, err: Exception, mode: str = mode) -> None:
                    say(f"  not scored: {err}")  # one dataset a baseline cannot score does not stop the sweep
                    stats["not_scored"].append(f"{system.name} on {dataset} ({mode})")

                rows = bench([system], spec.eval, spec.eval_split, store, mode=mode, progress=progress,
                             extra=extra | {"seed": None, "variant": "zero-shot"}, not_scorable=refused)
                stats["evaluated"] += len(rows)
    stored = None if train_only else _evaluated(store, spec)
    for i, run in enumerate(runs, 1):
        say(f"[{i}/{len(runs)}] {run.system} seed {run.seed} ({run.run_dir})")
        if not run.run_dir.exists() and stored is not None and _done_in_store(stored, run, spec):
            say(f"  every evaluation of this run is in {store.path} (its folder is gone): not retrained")
            stats["skipped"] += 1
            continue
        if RunFolder(run.run_dir).finished:
            stats["skipped"] += 1
        else:
            resume = find_checkpoint(run.run_dir) is not None
            stats["resumed" if resume else "trained"] += 1
            distill(run.config, resume=resume)
        if not train_only:
            system = parse_system(str(run.run_dir), name=run.system)
            for mode in scoring:
                rows = bench([system], spec.eval, spec.eval_split, store, mode=mode, progress=progress,
                             extra=extra | {"seed": run.seed, "variant": run.variant, "overrides": run.overrides})
                stats["evaluated"] += len(rows)
            release_encoders(system.query_model)  # keep memory flat over long sweeps
    stats["seconds"] = time.time() - start
    say(f"sweep {spec.name} done: {json.dumps(stats)}")
    return stats
