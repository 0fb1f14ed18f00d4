"""Results-store rows as tidy frames, for the experiment notebooks and ``optical report``.

Every row of the results store is one evaluation (a system on a dataset split). These
helpers flatten them with what the research questions group by: the sweep ``group``,
the *method* (variant label before ``@``; ``zero-shot`` for untrained systems), the
*model* label (after ``@``), the objective, the number of training pairs, the student
depth and the seed.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping, Sequence
from typing import Any

import numpy as np
import pandas as pd

from optical.dataset_spec import DatasetSpec
from optical.results.row import ResultRow
from optical.results.store import ResultsStore

__all__ = [
    "dataset_family",
    "run_info",
    "results_frame",
    "per_query_frame",
    "seed_stats",
    "older_trainings",
    "seed_averaged",
    "grade2_judged",
    "t_interval",
]

INFO_COLUMNS = ["method", "model", "objective", "pairs", "depth", "train", "seed"]


def dataset_family(spec: str) -> str:
    """``"bible:sw"`` -> ``"bible"``, ``"bitext:bible:sw"`` -> ``"bitext"``, a path -> ``"collection"``
    (:attr:`DatasetSpec.family` of a stored row's dataset)."""
    return DatasetSpec.parse(spec, check=False).family


def run_info(row: ResultRow | Mapping[str, Any]) -> dict[str, Any]:
    """What a results row says about its system: method, model label, objective, pairs, depth, seed.

    Rows without a training config are untrained (``objective = "zero-shot"``). Variant
    names ``<method>@<model>`` (see :func:`optical.sweeps.questions.cross_variants`) give
    the method and model labels; a row's own ``model`` field overrides the label.
    """
    get = row.get if isinstance(row, Mapping) else lambda name: getattr(row, name, None)
    config = get("config") or {}
    variant = str(get("variant") or "")
    method, _, model = variant.partition("@")
    trained = bool(config)
    objective = (config.get("objective") or {}).get("name") if trained else "zero-shot"
    if not method:
        method = objective if trained else "zero-shot"
    data = config.get("data") or {}
    depth = (config.get("model") or {}).get("truncate_layers")
    return {
        "method": method if trained else "zero-shot",
        "model": get("model") or model or "",
        "objective": objective,
        "pairs": data.get("max_pairs") if trained else None,
        "depth": depth,
        "train": data.get("train") if trained else None,
        "seed": get("seed"),
    }


def _run_of(row: ResultRow) -> tuple[Any, ...]:
    """What one run of a sweep is, whichever training of it made the row."""
    overrides = json.dumps(row.overrides, sort_keys=True, default=str) if row.overrides is not None else None
    return row.group, row.system, row.seed, row.variant, overrides, row.run_dir


def older_trainings(rows: Iterable[ResultRow]) -> list[ResultRow]:
    """Rows made by an older training of a run that was trained again.

    A run retrained after its folder was lost (or its settings changed) is a new system
    whose rows sit beside the old training's in the store; tables that kept both would
    count one seed twice. Per run (group, system, seed, variant, overrides, run folder),
    the training whose rows reached the store last is kept. Only rows with a training
    stamp (:func:`optical.results.row.training_stamp`) are compared: rows stored before
    stamps existed are never left out.
    """
    stamped = [(r, _run_of(r)) for r in rows if r.training is not None]
    newest: dict[tuple[Any, ...], tuple[str, str]] = {}
    for r, run in stamped:
        when = (r.created or "", r.training)
        if run not in newest or when > newest[run]:
            newest[run] = when
    return [r for r, run in stamped if r.training != newest[run][1]]


def read_rows(rows: ResultsStore | Iterable[ResultRow | Mapping[str, Any]]) -> list[ResultRow]:
    """Rows of a store, or given rows (stored objects are checked against the schema),
    less those of an older training of a retrained run (:func:`older_trainings`)."""
    if isinstance(rows, ResultsStore):
        rows = rows.rows()
    rows = [r if isinstance(r, ResultRow) else ResultRow.from_dict(dict(r)) for r in rows]
    older = {id(r) for r in older_trainings(rows)}
    return [r for r in rows if id(r) not in older]


def _keep(row: ResultRow, group: str | None, split: str | None, family: str | None, task: str | None) -> bool:
    return (
        (group is None or row.group == group)
        and (split is None or row.split == split)
        and (family is None or row.family == family)
        and (task is None or row.task == task)
    )


RESULT_COLUMNS = ["group", "system", *INFO_COLUMNS, "dataset", "family", "language", "resource", "split", "task",
                  "measure", "value", "benchmark", "kind", "run_dir", "key", "mode"]
PER_QUERY_COLUMNS = ["group", "system", "method", "model", "pairs", "depth", "seed", "dataset", "language",
                     "resource", "split", "qid", "measure", "value", "benchmark", "mode"]


def results_frame(
    store: ResultsStore | Iterable[ResultRow | Mapping[str, Any]],
    group: str | None = None,
    split: str | None = None,
    family: str | None = None,
    task: str | None = None,
) -> pd.DataFrame:
    """Aggregate metrics, one row per (evaluation, measure), with :func:`run_info` columns.

    Columns (:data:`RESULT_COLUMNS`): ``group, system, method, model, objective, pairs,
    depth, train, seed, dataset, family, language, resource, split, task, measure, value,
    benchmark, kind, run_dir, key, mode`` (``mode``: the retrieval scoring mode, "" for
    the other tasks; rows of one system in two modes are two different results).
    """
    records = []
    for r in read_rows(store):
        if not _keep(r, group, split, family, task):
            continue
        base = {"group": r.group, "system": r.system, **run_info(r), "dataset": r.dataset, "family": r.family,
                "language": r.language, "resource": r.resource, "split": r.split, "task": r.task}
        tail = {"benchmark": r.benchmark, "kind": r.kind, "run_dir": r.run_dir, "key": r.key, "mode": r.mode or ""}
        for measure, value in r.metrics.items():
            records.append(base | {"measure": measure, "value": float(value)} | tail)
    return pd.DataFrame.from_records(records, columns=RESULT_COLUMNS)


def per_query_frame(
    store: ResultsStore | Iterable[ResultRow | Mapping[str, Any]],
    group: str | None = None,
    split: str | None = None,
    family: str | None = None,
    task: str | None = None,
) -> pd.DataFrame:
    """Per-query scores with :func:`run_info` columns (:data:`PER_QUERY_COLUMNS`)."""
    records = []
    for r in read_rows(store):
        if not _keep(r, group, split, family, task):
            continue
        info = run_info(r)
        head = (r.group, r.system, info["method"], info["model"], info["pairs"], info["depth"], info["seed"],
                r.dataset, r.language, r.resource, r.split)
        benchmark, mode = r.benchmark, r.mode or ""
        for measure, scores in r.per_query.items():
            for qid, value in scores.items():
                records.append((*head, str(qid), measure, float(value), benchmark, mode))
    return pd.DataFrame.from_records(records, columns=PER_QUERY_COLUMNS)


def t_interval(
    values: Sequence[float] | np.ndarray, confidence: float = 0.95
) -> tuple[float, float, float]:
    """Mean and Student-t confidence interval ``(mean, low, high)`` of independent values.

    One value gives ``(value, nan, nan)``: no interval without replication.
    """
    from scipy import stats

    x = np.asarray(values, dtype=np.float64)
    x = x[np.isfinite(x)]
    if x.size == 0:
        return float("nan"), float("nan"), float("nan")
    mean = float(x.mean())
    if x.size < 2:
        return mean, float("nan"), float("nan")
    half = float(stats.t.ppf(0.5 + confidence / 2, x.size - 1) * x.std(ddof=1) / np.sqrt(x.size))
    return mean, mean - half, mean + half


def seed_stats(
    frame: pd.DataFrame, by: Sequence[str], value: str = "value", confidence: float = 0.95
) -> pd.DataFrame:
    """Mean, std (ddof 1), n and t-interval of ``value`` over the rows of each ``by`` group.

    Typically the rows are seeds: group a :func:`results_frame` by system, language and
    measure to get mean ± CI over seeds.
    """
    out = []
    for keys, part in frame.groupby(list(by), sort=False, dropna=False):
        keys = keys if isinstance(keys, tuple) else (keys,)
        vals = part[value].to_numpy(dtype=np.float64)
        mean, low, high = t_interval(vals, confidence)
        out.append(
            dict(zip(by, keys, strict=True))
            | {
                "mean": mean,
                "std": float(np.std(vals, ddof=1)) if len(vals) > 1 else float("nan"),
                "n": int(len(vals)),
                "ci_low": low,
                "ci_high": high,
            }
        )
    return pd.DataFrame(out, columns=[*by, "mean", "std", "n", "ci_low", "ci_high"])


def seed_averaged(per_query: pd.DataFrame) -> pd.DataFrame:
    """Per-query values averaged over seeds (and repeats): one row per (system, language,
    qid, measure), the input :mod:`optical.evaluation.tables` expects."""
    return per_query.groupby(["system", "language", "qid", "measure"], as_index=False, sort=False)[
        "value"
    ].mean()


def grade2_judged(rows: Iterable[ResultRow | Mapping[str, Any]]) -> bool:
    """Whether retrieval rows' datasets have grade-2 judgements, which R@1 (rel=2) and
    MRR@10 (rel=2) count (rows benched before bench chose binary measures for grade-1 qrels).

    False when no query of any row found a grade-2 document in its top 10 while grade >= 1
    documents were found (e.g. CLDR names, judged with grade 1 only).
    """
    metrics = [r.metrics for r in read_rows(rows)]
    grade2 = any(m.get("R(rel=2)@10", 0) > 0 for m in metrics)
    grade1 = any(m.get("R@100", 0) > 0 or m.get("AP", 0) > 0 for m in metrics)
    return grade2 or not grade1
