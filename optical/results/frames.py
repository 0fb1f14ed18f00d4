"""Results-store rows as tidy frames, for the experiment notebooks and ``optical report``.

Every row of the results store is one evaluation (a system on a dataset split). These
helpers flatten them with what the research questions group by: the sweep ``group``,
the *method* (variant label before ``@``; ``zero-shot`` for untrained systems), the
*model* label (after ``@``), the objective, the number of training pairs, the student
depth and the seed.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Sequence
from typing import Any

import numpy as np
import pandas as pd

from optical.assets.languages import resource_level
from optical.dataset_spec import DatasetSpec
from optical.results import ResultsStore

__all__ = [
    "StoreView",
    "dataset_family",
    "run_info",
    "results_frame",
    "per_query_frame",
    "seed_stats",
    "seed_averaged",
    "grade2_judged",
    "t_interval",
]

INFO_COLUMNS = ["method", "model", "objective", "pairs", "depth", "train", "seed"]


def dataset_family(spec: str) -> str:
    """``"bible:sw"`` -> ``"bible"``, ``"bitext:bible:sw"`` -> ``"bitext"``, a path -> ``"collection"``
    (:attr:`DatasetSpec.family` of a stored row's dataset)."""
    return DatasetSpec.parse(spec, check=False).family


class StoreView(ResultsStore):
    """A read-only, filtered view of a :class:`ResultsStore` (same path, subset of rows).

    Lets store-based helpers such as :func:`optical.results.collect.bench_table` work on one
    group, dataset family or task at a time.
    """

    def __init__(
        self,
        store: ResultsStore | Iterable[dict[str, Any]],
        keep: Callable[[dict[str, Any]], bool] | None = None,
    ) -> None:
        rows = store.rows() if isinstance(store, ResultsStore) else list(store)
        super().__init__(store.path if isinstance(store, ResultsStore) else "<rows>")
        self._rows = [r for r in rows if keep is None or keep(r)]

    def rows(self) -> list[dict[str, Any]]:
        return list(self._rows)

    def append(self, row: dict[str, Any]) -> None:
        raise TypeError("a StoreView is read-only: append to the ResultsStore it was made from")


def run_info(row: dict[str, Any]) -> dict[str, Any]:
    """What a results row says about its system: method, model label, objective, pairs, depth, seed.

    Rows without a training config are untrained (``objective = "zero-shot"``). Variant
    names ``<method>@<model>`` (see :func:`optical.sweeps.questions.cross_variants`) give
    the method and model labels; a row's own ``model`` field overrides the label.
    """
    config = row.get("config") or {}
    variant = str(row.get("variant") or "")
    method, _, model = variant.partition("@")
    trained = bool(config)
    objective = (config.get("objective") or {}).get("name") if trained else "zero-shot"
    if not method:
        method = objective if trained else "zero-shot"
    data = config.get("data") or {}
    depth = (config.get("model") or {}).get("truncate_layers")
    return {
        "method": method if trained else "zero-shot",
        "model": row.get("model") or model or "",
        "objective": objective,
        "pairs": data.get("max_pairs") if trained else None,
        "depth": depth,
        "train": data.get("train") if trained else None,
        "seed": row.get("seed"),
    }


def _rows(store: ResultsStore | Iterable[dict[str, Any]]) -> list[dict[str, Any]]:
    return store.rows() if isinstance(store, ResultsStore) else list(store)


def _keep(
    row: dict[str, Any], group: str | None, split: str | None, family: str | None, task: str | None
) -> bool:
    return (
        (group is None or row.get("group", "") == group)
        and (split is None or row.get("split") == split)
        and (family is None or dataset_family(row.get("dataset", "")) == family)
        and (task is None or row.get("task", "retrieval") == task)
    )


def results_frame(
    store: ResultsStore | Iterable[dict[str, Any]],
    group: str | None = None,
    split: str | None = None,
    family: str | None = None,
    task: str | None = None,
) -> pd.DataFrame:
    """Aggregate metrics, one row per (evaluation, measure), with :func:`run_info` columns.

    Columns: ``group, system, method, model, objective, pairs, depth, train, seed, dataset,
    family, language, resource, split, task, measure, value``.
    """
    records = []
    for r in _rows(store):
        if not _keep(r, group, split, family, task):
            continue
        info = run_info(r)
        base = {
            "group": r.get("group", ""),
            "system": r["system"],
            **info,
            "dataset": r["dataset"],
            "family": dataset_family(r["dataset"]),
            "language": r["language"],
            "resource": r.get("resource") or resource_level(r["language"]),
            "split": r["split"],
            "task": r.get("task", "retrieval"),
        }
        for measure, value in r.get("metrics", {}).items():
            records.append(base | {"measure": measure, "value": float(value)})
    columns = [
        "group",
        "system",
        *INFO_COLUMNS,
        "dataset",
        "family",
        "language",
        "resource",
        "split",
        "task",
        "measure",
        "value",
    ]
    return pd.DataFrame.from_records(records, columns=columns)


def per_query_frame(
    store: ResultsStore | Iterable[dict[str, Any]],
    group: str | None = None,
    split: str | None = None,
    family: str | None = None,
    task: str | None = None,
) -> pd.DataFrame:
    """Per-query scores with :func:`run_info` columns (``qid``, ``measure``, ``value`` ...)."""
    records = []
    for r in _rows(store):
        if not _keep(r, group, split, family, task):
            continue
        info = run_info(r)
        for measure, scores in (r.get("per_query") or {}).items():
            for qid, value in scores.items():
                records.append(
                    (
                        r.get("group", ""),
                        r["system"],
                        info["method"],
                        info["model"],
                        info["pairs"],
                        info["depth"],
                        info["seed"],
                        r["dataset"],
                        r["language"],
                        r.get("resource") or resource_level(r["language"]),
                        r["split"],
                        str(qid),
                        measure,
                        float(value),
                    )
                )
    return pd.DataFrame.from_records(
        records,
        columns=[
            "group",
            "system",
            "method",
            "model",
            "pairs",
            "depth",
            "seed",
            "dataset",
            "language",
            "resource",
            "split",
            "qid",
            "measure",
            "value",
        ],
    )


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


def grade2_judged(rows: Iterable[dict[str, Any]]) -> bool:
    """Whether retrieval rows' datasets have grade-2 judgements, which R@1 (rel=2) and
    MRR@10 (rel=2) count (rows benched before bench chose binary measures for grade-1 qrels).

    False when no query of any row found a grade-2 document in its top 10 while grade >= 1
    documents were found (e.g. CLDR names, judged with grade 1 only).
    """
    rows = list(rows)
    grade2 = any(r["metrics"].get("R(rel=2)@10", 0) > 0 for r in rows)
    grade1 = any(r["metrics"].get("R@100", 0) > 0 or r["metrics"].get("AP", 0) > 0 for r in rows)
    return grade2 or not grade1
