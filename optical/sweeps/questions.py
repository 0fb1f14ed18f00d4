"""Research-question sweeps: a spec file adapted by notebook parameters, models as labels,
zero-shot systems for every model, and one call that runs it all into the results store.

A *model* is a label with distillation overrides, e.g. ``{"e5-small-L6":
{"model.truncate_layers": 6}}`` or ``{"xlmr": {"model.student": "xlm-roberta-base"}}``; a
*method* is a label with objective overrides, e.g. ``{"ce": {"objective.name":
"cross_entropy"}}``. :func:`cross_variants` makes one sweep variant ``<method>@<model>`` per
pair, so systems read ``optical@e5-small-L6-sw-...`` and
:func:`optical.results.frames.run_info` recovers both labels.

:func:`own_teacher_models` turns each model into a system of its own: the (truncated)
model is written to a folder once and becomes the frozen teacher (document side) and the
student's initialisation. Without it, ``model.truncate_layers`` truncates the *student*
only, which must then map into the full teacher's space. A model's zero-shot system
(:func:`zero_shot_system`) is the untrained model on *both* sides: the default teacher is
``zero-shot`` (the baseline of every significance mark), others ``zero-shot@<label>``.
"""

from __future__ import annotations

import copy
import json
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

from optical.results import ResultsStore
from optical.run_folder import RunFolder
from optical.sweeps.runner import Progress, SweepSpec, load_spec, run_sweep
from optical.systems import ZERO_SHOT, System, parse_system

__all__ = [
    "experiment_spec",
    "cross_variants",
    "short_name",
    "truncated_model",
    "own_teacher_models",
    "zero_shot_system",
    "run_experiment",
    "experiment_systems",
]


def experiment_spec(
    path: str | Path,
    *,
    name: str | None = None,
    runs_dir: str | Path | None = None,
    eval: Sequence[str] | None = None,
    eval_split: str | None = None,
    base: Mapping[str, Any] | None = None,
    grid: Mapping[str, Sequence[Any]] | None = None,
    variants: Sequence[Mapping[str, Any]] | None = None,
    zero_shot: Sequence[str] | None = None,
    store: str | None = None,
) -> SweepSpec:
    """Load a sweep spec and change it: ``base`` and ``grid`` update single keys (a grid
    axis given as ``None`` is removed), the other arguments replace the spec's value."""
    spec = load_spec(path)
    for key, value in {
        "name": name,
        "runs_dir": None if runs_dir is None else str(runs_dir),
        "eval": eval,
        "eval_split": eval_split,
        "zero_shot": zero_shot,
        "store": store,
    }.items():
        if value is not None:
            setattr(spec, key, list(value) if isinstance(value, (list, tuple)) else value)
    spec.base = spec.base | dict(base or {})
    for key, values in (grid or {}).items():
        if values is None:
            spec.grid.pop(key, None)
        else:
            spec.grid[key] = list(values)
    if variants is not None:
        spec.variants = [dict(v) for v in variants]
    return spec


def cross_variants(
    methods: Mapping[str, Mapping[str, Any]], models: Mapping[str, Mapping[str, Any]]
) -> list[dict[str, Any]]:
    """One sweep variant ``<method>@<model>`` per (method, model), method-major order.

    >>> cross_variants({"optical": {"objective.name": "optical"}}, {"L6": {"model.truncate_layers": 6}})
    [{'name': 'optical@L6', 'objective.name': 'optical', 'model.truncate_layers': 6}]
    """
    out = []
    for method, m_over in methods.items():
        for model, model_over in models.items():
            if "@" in method or "@" in model:
                raise ValueError(f"labels cannot contain '@': {method!r}, {model!r}")
            clash = set(m_over) & set(model_over)
            if clash:
                raise ValueError(f"method {method!r} and model {model!r} both set {sorted(clash)}")
            out.append({"name": f"{method}@{model}", **dict(m_over), **dict(model_over)})
    return out


def short_name(model: str) -> str:
    """``bundled:multilingual-e5-small`` / ``intfloat/multilingual-e5-small`` / a folder -> its last part."""
    return str(model).rstrip("/").split(":")[-1].split("/")[-1] or str(model)


def truncated_model(base: str, layers: int, root: str | Path = "runs/models") -> Path:
    """A Hugging Face folder holding the bottom ``layers`` layers of ``base`` (built once).

    Written under ``root`` (default ``runs/models``, beside the runs that use it) as
    ``<short name>-L<layers>``; a folder made from another base is rebuilt.
    """
    from optical.encoders import Encoder
    from optical.train.student import save_student, truncate_layers

    out = Path(root) / f"{short_name(base)}-L{int(layers)}"
    manifest = out / "optical_asset.json"
    if manifest.is_file() and (out / "config.json").is_file():
        made = json.loads(manifest.read_text()).get("student_of", {})
        if made.get("truncated_from") == str(base) and made.get("layers") == int(layers):
            return out
    encoder = Encoder(str(base))
    truncate_layers(encoder.model, int(layers))
    save_student(encoder, out, {"truncated_from": str(base), "layers": int(layers)})
    return out


def own_teacher_models(
    models: Mapping[str, Mapping[str, Any]],
    teacher: str = ZERO_SHOT,
    models_dir: str | Path = "runs/models",
) -> dict[str, dict[str, Any]]:
    """Each model as its own frozen teacher and the student's initialisation.

    ``{"L6": {"model.truncate_layers": 6}}`` becomes ``{"L6": {"model.teacher":
    "runs/models/<teacher>-L6"}}`` (the folder is built), ``{"x": {"model.student": "id"}}``
    becomes ``{"x": {"model.teacher": "id"}}``; other overrides are kept.
    """
    out = {}
    for label, over in models.items():
        over = dict(over)
        student, own = over.pop("model.student", None), over.pop("model.teacher", None)
        model = student or own or teacher
        layers = over.pop("model.truncate_layers", None)
        if layers is not None:
            model = str(truncated_model(model, int(layers), models_dir))
        out[label] = ({"model.teacher": model} if model != teacher else {}) | over
    return out


def zero_shot_system(
    label: str,
    overrides: Mapping[str, Any],
    teacher: str = ZERO_SHOT,
    models_dir: str | Path = "runs/models",
) -> System:
    """The untrained system of a model label: its student model (``model.student``, else
    ``model.teacher``, else ``teacher``), truncated to ``model.truncate_layers`` when set,
    on both the query and the document side. The teacher itself is ``zero-shot`` (the
    baseline of the significance marks); any other model is ``zero-shot@<label>``."""
    model = overrides.get("model.student") or overrides.get("model.teacher") or teacher
    layers = overrides.get("model.truncate_layers")
    name = "zero-shot" if model == teacher and layers is None else f"zero-shot@{label}"
    if layers is not None:
        model = str(truncated_model(model, int(layers), models_dir))
    return parse_system(model, name=name)


def run_experiment(
    spec: SweepSpec,
    store: ResultsStore | None = None,
    zero_shot: Sequence[System | str] = (),
    models: Mapping[str, str] | None = None,
    progress: Progress | None = print,
    dry_run: bool = False,
    prune_checkpoints: bool = True,
) -> dict[str, Any]:
    """Evaluate the zero-shot systems, then train and evaluate every run of ``spec``.

    Zero-shot rows carry the sweep group, ``seed = None``, ``variant = "zero-shot"`` and, when
    ``models`` maps a system name to its model label, ``model``. Finished work is skipped.
    With ``prune_checkpoints``, a run's resume checkpoint (optimizer state and trainable
    weights, about a third of its folder) is deleted once the run has finished: a finished
    run is never resumed, and its student stays in the folder.
    """
    from optical.results.collect import bench
    from optical.sweeps.runner import plan

    store = store or ResultsStore(spec.store)
    systems: list[System] = []
    for s in [*spec.zero_shot, *zero_shot]:  # the spec's own zero-shot systems too, once each
        system = s if isinstance(s, System) else parse_system(s)
        if system.name not in {x.name for x in systems}:
            systems.append(system)
    spec = copy.copy(spec)
    spec.zero_shot = []
    if dry_run:
        for s in systems:
            (progress or (lambda *_: None))(
                f"  zero-shot {s.name}: {s.query_model} | {s.doc_model}"
            )
        return run_sweep(spec, store, progress=progress, dry_run=True)
    evaluated = 0
    for system in systems:
        extra = {"group": spec.name, "seed": None, "variant": "zero-shot"}
        if models and system.name in models:
            extra["model"] = models[system.name]
        for mode in spec.scoring:
            evaluated += len(
                bench([system], spec.eval, spec.eval_split, store, mode=mode, progress=progress, extra=extra)
            )
    folders = [r.run_dir for r in plan(spec)] if prune_checkpoints else []
    hook = progress
    if progress is not None and folders:

        def hook(message: str) -> None:  # called between runs too: prune the finished ones
            for folder in folders:
                _prune(folder)
            progress(message)

    stats = run_sweep(spec, store, progress=hook)
    for folder in folders:
        _prune(folder)
    stats["evaluated"] = stats.get("evaluated", 0) + evaluated
    return stats


def _prune(run_dir: Path) -> None:
    import shutil

    from optical.train.checkpoint import CHECKPOINT

    if RunFolder(run_dir).finished:
        for folder in [run_dir / CHECKPOINT, *run_dir.glob(f".{CHECKPOINT}.old.*")]:
            if folder.is_dir():
                shutil.rmtree(folder, ignore_errors=True)


def experiment_systems(
    spec: SweepSpec, zero_shot: Sequence[System | str] = (), models: Mapping[str, str] | None = None
) -> list[tuple[System, dict[str, Any]]]:
    """Every system of an experiment with the row fields :func:`run_experiment` gives it
    (group, seed, variant, ...): the zero-shot systems, then each *finished* planned run."""
    from optical.sweeps.runner import plan

    out: list[tuple[System, dict[str, Any]]] = []
    for s in [*spec.zero_shot, *zero_shot]:
        system = s if isinstance(s, System) else parse_system(s)
        if system.name in {x.name for x, _ in out}:
            continue
        extra: dict[str, Any] = {"group": spec.name, "seed": None, "variant": "zero-shot"}
        if models and system.name in models:
            extra["model"] = models[system.name]
        out.append((system, extra))
    for run in plan(spec):
        if RunFolder(run.run_dir).finished:
            out.append(
                (
                    parse_system(str(run.run_dir), name=run.system),
                    {
                        "group": spec.name,
                        "seed": run.seed,
                        "variant": run.variant,
                        "overrides": run.overrides,
                    },
                )
            )
    return out
