"""The results row: one evaluation of a system on a dataset split, the one schema every
writer makes (:func:`make_row`) and every reader gets back (:meth:`ResultRow.from_dict`).

A row is stored as one flat JSON object per line (the layout the store has always had, so
stores written by earlier versions read unchanged). Three tasks write rows:

* ``retrieval`` (``optical bench``, sweeps): settings ``mode``, ``k``; the key also covers
  the measures asked for;
* ``embedding`` (RQ2, :mod:`optical.analysis.embedding_space`): settings ``side``,
  ``margin``; the key also covers the number of pairs;
* ``threshold`` (RQ3, :mod:`optical.analysis.domain_shift`): settings ``k``,
  ``relevance_level``.

:func:`row_key` is the one key of an evaluation: the system's identity
(:meth:`optical.systems.System.identity`: a retrained run is a new system), the dataset, the
split, the task's settings and the sweep context. A stored row already carrying the key of
a planned evaluation is not evaluated again.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Mapping
from dataclasses import dataclass, field, fields
from typing import TYPE_CHECKING, Any

from optical.assets.languages import resource_level
from optical.dataset_spec import DatasetSpec

if TYPE_CHECKING:
    from optical.systems import System

__all__ = ["CONTEXT_FIELDS", "SETTING_FIELDS", "TASKS", "ResultRow", "make_row", "row_key", "row_problem",
           "training_stamp"]

TASKS = ("retrieval", "embedding", "threshold")
SETTING_FIELDS = ("mode", "k", "side", "margin", "relevance_level")
"""Task settings, stored as top-level fields of a row."""
CONTEXT_FIELDS = ("group", "seed", "variant", "overrides", "model")
"""Where a row comes from in a sweep: its group (research question), seed, variant,
the variant's setting overrides, and a model label (RQ5)."""


@dataclass(frozen=True)
class ResultRow:
    """One evaluation: what was evaluated, on what, how, and what it scored.

    Attributes
    ----------
    key
        :func:`row_key` of the evaluation.
    system, kind, query_model, doc_model, run_dir, translator
        The system (:class:`optical.systems.System`) by name and by its two encoders;
        ``run_dir`` for a trained system, ``translator`` for a translate-test one.
    dataset, language, resource, split
        The dataset spec (:class:`optical.dataset_spec.DatasetSpec`), its query language
        and that language's resource level, the query split.
    task, settings
        ``retrieval`` / ``embedding`` / ``threshold`` and its settings (see the module
        docstring).
    metrics, per_query
        Aggregate value per measure; per-query values per measure (``{measure: {qid:
        value}}``), what significance tests pair.
    n_queries, timings, config
        Queries (or pairs) evaluated, seconds spent, the training config of a trained
        system.
    training
        A trained system's training stamp (:func:`training_stamp`): rows of one run with
        two stamps come from two trainings of it (a retrained run is a new system).
    group, seed, variant, overrides, model
        The sweep context (:data:`CONTEXT_FIELDS`).
    created, versions
        When the store received the row and the package versions that made it.
    extra
        Fields of a stored row this schema does not name (kept as they are).
    """

    key: str
    system: str
    dataset: str
    language: str
    split: str
    metrics: Mapping[str, float]
    task: str = "retrieval"
    kind: str = ""
    query_model: str | None = None
    doc_model: str | None = None
    run_dir: str | None = None
    translator: str | None = None
    resource: str = "unknown"
    settings: Mapping[str, Any] = field(default_factory=dict)
    per_query: Mapping[str, Mapping[str, float]] = field(default_factory=dict)
    n_queries: int | None = None
    timings: Mapping[str, float] | None = None
    config: Mapping[str, Any] | None = None
    training: str | None = None
    group: str = ""
    seed: int | None = None
    variant: str | None = None
    overrides: Mapping[str, Any] | None = None
    model: str | None = None
    created: str | None = None
    versions: Mapping[str, str] | None = None
    extra: Mapping[str, Any] = field(default_factory=dict)

    # ------------------------------------------------------------------ derived
    @property
    def spec(self) -> DatasetSpec:
        return DatasetSpec.parse(self.dataset, check=False)

    @property
    def family(self) -> str:
        """:attr:`DatasetSpec.family`: ``bible``, ``cldr``, ``bitext`` or ``collection``."""
        return self.spec.family

    @property
    def benchmark(self) -> str:
        """:attr:`DatasetSpec.benchmark`: the family, or a collection's folder name."""
        return self.spec.benchmark

    @property
    def mode(self) -> str | None:
        """A retrieval row's scoring mode (``pooled``, ``maxsim``, ``ot``; rows stored before
        modes were recorded are ``pooled``); None for the other tasks."""
        return str(self.settings.get("mode") or "pooled") if self.task == "retrieval" else None

    @property
    def trained(self) -> bool:
        return bool(self.config)

    # ------------------------------------------------------------------ storage
    def to_dict(self) -> dict[str, Any]:
        """The flat JSON object the store writes (settings and extras at the top level)."""
        out: dict[str, Any] = {}
        for f in fields(self):
            if f.name in {"settings", "extra"}:
                continue
            value = getattr(self, f.name)
            if f.name in {"created", "versions", "training"} and value is None:
                continue
            out[f.name] = value
        out.update(self.settings)
        out.update(self.extra)
        return out

    @classmethod
    def from_dict(cls, data: object) -> ResultRow:
        """A row from its stored object; a :class:`ValueError` says what does not fit."""
        problem = row_problem(data)
        if problem:
            raise ValueError(problem)
        assert isinstance(data, dict)
        names = {f.name for f in fields(cls)} - {"settings", "extra"}
        known = {k: v for k, v in data.items() if k in names}
        settings = {k: data[k] for k in SETTING_FIELDS if k in data}
        extra = {k: v for k, v in data.items() if k not in names and k not in settings}
        known["task"] = known.get("task") or "retrieval"
        known["resource"] = known.get("resource") or resource_level(known["language"])
        known["group"] = known.get("group") or ""
        known["kind"] = known.get("kind") or ""
        known["per_query"] = known.get("per_query") or {}
        return cls(**known, settings=settings, extra=extra)


_TEXT_FIELDS = ("key", "system", "dataset", "language", "split")
_OPTIONAL_TEXT = ("task", "kind", "query_model", "doc_model", "run_dir", "translator", "resource", "group",
                  "variant", "model", "created", "training")
_OPTIONAL_MAPS = ("timings", "config", "overrides", "versions")


def _is_number(value: object) -> bool:
    return isinstance(value, int | float)  # bools too: mining rows store per-pair hits


def row_problem(row: object) -> str | None:
    """What makes ``row`` not a results row, or None when it fits the schema."""
    if not isinstance(row, dict):
        return f"not a JSON object ({type(row).__name__})"
    missing = [f for f in (*_TEXT_FIELDS, "metrics") if f not in row]
    if missing:
        return f"missing {', '.join(missing)}"
    wrong = [f for f in _TEXT_FIELDS if not isinstance(row[f], str)]
    wrong += [f for f in _OPTIONAL_TEXT if row.get(f) is not None and not isinstance(row[f], str)]
    if wrong:
        return f"{', '.join(wrong)} must be text"
    wrong = [f for f in _OPTIONAL_MAPS if row.get(f) is not None and not isinstance(row[f], dict)]
    if wrong:
        return f"{', '.join(wrong)} must be JSON objects"
    if row.get("task") not in (None, *TASKS):
        return f"task must be one of {', '.join(TASKS)}, got {row['task']!r}"
    for name in ("seed", "n_queries"):
        value = row.get(name)
        if value is not None and (isinstance(value, bool) or not isinstance(value, int)):
            return f"{name} must be an integer"
    metrics = row["metrics"]
    if not isinstance(metrics, dict) or not all(_is_number(v) for v in metrics.values()):
        return "metrics must map measure names to numbers"
    per_query = row.get("per_query", {})
    if per_query is not None and (not isinstance(per_query, dict) or not all(
        isinstance(v, dict) and all(_is_number(x) for x in v.values()) for v in per_query.values()
    )):
        return "per_query must map measure names to {query id: number}"
    return None


def row_key(
    system: System,
    dataset: str,
    split: str,
    task: str = "retrieval",
    settings: Mapping[str, Any] | None = None,
    context: Mapping[str, Any] | None = None,
) -> str:
    """The stable id of an evaluation (16 hex digits).

    ``settings`` are what the key covers of the task's settings (for retrieval: ``k``,
    ``mode`` and ``measures``); ``context`` is the sweep context. The ``task`` of a
    retrieval row is left out of the hash, so keys of stores written before other tasks
    existed still match.
    """
    return _key_of(system.identity(), dataset, split, task, settings, context)


def _digest(payload: Any, digits: int) -> str:
    return hashlib.sha256(json.dumps(payload, sort_keys=True, default=str).encode()).hexdigest()[:digits]


def _key_of(
    identity: Mapping[str, Any],
    dataset: str,
    split: str,
    task: str,
    settings: Mapping[str, Any] | None,
    context: Mapping[str, Any] | None,
) -> str:
    """:func:`row_key` of a system's :meth:`~optical.systems.System.identity`."""
    if task not in TASKS:
        raise ValueError(f"unknown task {task!r}; use one of {', '.join(TASKS)}")
    payload: dict[str, Any] = {"system": identity, "dataset": str(dataset), "split": split}
    if task != "retrieval":
        payload["task"] = task
    payload |= dict(settings or {}) | dict(context or {})
    return _digest(payload, 16)


def training_stamp(system: System) -> str | None:
    """A trained system's training stamp: 12 hex digits of its identity (which covers its
    run's training time), None for a system that was not trained (or whose run has not
    finished)."""
    return _stamp_of(system.identity()) if system.run_dir else None


def _stamp_of(identity: Mapping[str, Any]) -> str | None:
    return _digest(identity, 12) if identity.get("summary") is not None else None


def make_row(
    system: System,
    dataset: str,
    split: str,
    metrics: Mapping[str, float],
    *,
    task: str = "retrieval",
    settings: Mapping[str, Any] | None = None,
    key_settings: Mapping[str, Any] | None = None,
    per_query: Mapping[str, Mapping[str, float]] | None = None,
    n_queries: int | None = None,
    timings: Mapping[str, float] | None = None,
    context: Mapping[str, Any] | None = None,
    language: str | None = None,
) -> ResultRow:
    """The row of one evaluation of ``system`` on ``dataset`` (``split``).

    ``settings`` are stored on the row (:data:`SETTING_FIELDS`) and covered by its key,
    with ``key_settings`` (covered by the key only, e.g. the measures asked for);
    ``context`` is the sweep context (:data:`CONTEXT_FIELDS`, plus any field a caller
    adds). ``language`` defaults to the dataset spec's.
    """
    from optical.run_folder import read_config

    settings = dict(settings or {})
    unknown = set(settings) - set(SETTING_FIELDS)
    if unknown:
        raise ValueError(f"unknown row settings {sorted(unknown)}; a row stores {', '.join(SETTING_FIELDS)}")
    context = dict(context or {})
    language = language if language is not None else DatasetSpec.parse(dataset, check=False).language
    known = {k: context.pop(k) for k in CONTEXT_FIELDS if k in context}
    identity = system.identity()  # reads a trained run's summary: once per row
    return ResultRow(
        key=_key_of(identity, dataset, split, task, settings | dict(key_settings or {}), known | context),
        system=system.name,
        dataset=str(dataset),
        language=language,
        split=split,
        metrics={m: float(v) for m, v in metrics.items()},
        task=task,
        kind=system.kind,
        query_model=system.query_model,
        doc_model=system.doc_model,
        run_dir=system.run_dir,
        translator=system.translator,
        resource=resource_level(language),
        settings=settings,
        per_query={m: dict(v) for m, v in (per_query or {}).items()},
        n_queries=n_queries,
        timings=dict(timings) if timings is not None else None,
        config=read_config(system.run_dir),
        training=_stamp_of(identity) if system.run_dir else None,
        group=known.get("group", ""),
        seed=known.get("seed"),
        variant=known.get("variant"),
        overrides=known.get("overrides"),
        model=known.get("model"),
        extra=context,
    )
