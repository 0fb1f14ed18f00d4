"""RQ3 — robustness under domain shift: train on the Bible, test on another domain.

Retrieval measures come from the sweep (results store). On top, relevance *decisions*:
one global cosine threshold over every retrieved (query, document) pair gives a
precision–recall curve and its best F1 (:mod:`optical.evaluation.curves`), per system and
dataset. The domain of a dataset is its family (``bible``, ``cldr``, or a BEIR folder's
name); the in-domain vs shifted comparison pairs the same language across domains.

A pair counts as relevant at grade >= ``relevance_level``: 2 on the Bible (the aligned
verse, as R@1 counts it), 1 elsewhere (CLDR names and other collections).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np
import pandas as pd

from optical.dataset_spec import DatasetSpec
from optical.results.frames import dataset_family
from optical.results.row import ResultRow, make_row
from optical.results.store import ResultsStore
from optical.systems import System, corpus_name, load_encoder_cached

__all__ = [
    "relevance_level",
    "domain_of",
    "threshold_curves",
    "f1_rows",
    "store_f1",
    "shift_table",
    "thin_curve",
]

RELEVANCE_LEVELS = {"bible": 2}


def relevance_level(dataset: str, levels: Mapping[str, int] | None = None) -> int:
    """Grade that counts as relevant for a dataset's decisions (2 for ``bible:*``, else 1)."""
    return int((levels or RELEVANCE_LEVELS).get(dataset_family(dataset), 1))


def domain_of(dataset: str) -> str:
    """``bible:sw`` -> ``bible``; a BEIR folder ``.../medical/sw`` -> ``medical`` (its parent's name)."""
    from pathlib import Path

    family = dataset_family(dataset)
    return family if family != "collection" else Path(dataset).resolve().parent.name or "collection"


def thin_curve(
    precision: np.ndarray, recall: np.ndarray, thresholds: np.ndarray, points: int = 200
) -> pd.DataFrame:
    """At most ``points`` points of a curve, evenly spaced in rank, ends kept (for plotting)."""
    n = len(recall)
    idx = (
        np.unique(np.linspace(0, n - 1, min(points, n)).round().astype(int))
        if n
        else np.array([], int)
    )
    return pd.DataFrame(
        {"precision": precision[idx], "recall": recall[idx], "threshold": thresholds[idx]}
    )


def threshold_curves(
    systems: Sequence[System],
    datasets: Sequence[str],
    split: str = "test",
    k: int = 10,
    levels: Mapping[str, int] | None = None,
    points: int = 200,
    device: str | None = None,
    progress: Any = None,
) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Precision–recall curves and best F1 of every system on every dataset.

    Each query's top ``k`` documents are the scored pairs; relevant documents never
    retrieved count as misses (recall denominator).

    Returns
    -------
    curves : DataFrame
        ``system, dataset, domain, language, precision, recall, threshold`` (thinned to
        ``points`` per curve).
    best : DataFrame
        ``system, dataset, domain, language, relevance_level, f1, precision, recall, threshold``.
    """
    from optical.dataset_loading import load_collection
    from optical.evaluation import best_f1_from_run, precision_recall_curve_from_run
    from optical.retrieval import Retriever, corpus_index

    curves, best = [], []
    for dataset in datasets:
        collection = load_collection(dataset, split)
        level = relevance_level(dataset, levels)
        info = {
            "dataset": dataset,
            "domain": domain_of(dataset),
            "language": DatasetSpec.parse(dataset).language,
        }
        for system in systems:
            if progress:
                progress(f"PR curve: {system.name} on {dataset} ({split})")
            q_enc = load_encoder_cached(system.query_model, device)
            d_enc = load_encoder_cached(system.doc_model, device)
            index = corpus_index(
                d_enc, collection.corpus, name=corpus_name(dataset), progress=False
            )
            run = Retriever(q_enc, d_enc, index).search(collection.queries, k=k)
            curve = precision_recall_curve_from_run(run, collection.qrels, level)
            top = best_f1_from_run(run, collection.qrels, level)
            part = thin_curve(curve.precision, curve.recall, curve.thresholds, points)
            curves.append(part.assign(system=system.name, **info))
            best.append(
                {
                    "system": system.name,
                    **info,
                    "relevance_level": level,
                    "f1": top.f1,
                    "precision": top.precision,
                    "recall": top.recall,
                    "threshold": top.threshold,
                }
            )
    cols = ["system", "dataset", "domain", "language"]
    curve_frame = (
        pd.concat(curves, ignore_index=True)[[*cols, "precision", "recall", "threshold"]]
        if curves
        else pd.DataFrame(columns=[*cols, "precision", "recall", "threshold"])
    )
    return curve_frame, pd.DataFrame(
        best, columns=[*cols, "relevance_level", "f1", "precision", "recall", "threshold"]
    )


def f1_rows(
    best: pd.DataFrame,
    systems: Sequence[tuple[System, dict[str, Any]]],
    split: str = "test",
    k: int = 10,
) -> list[ResultRow]:
    """Results-store rows (``task = "threshold"``: measures ``F1``, ``F1_precision``,
    ``F1_recall``, ``F1_threshold``) from :func:`threshold_curves`' ``best`` frame."""
    extras = {s.name: (s, extra) for s, extra in systems}
    rows = []
    for rec in best.itertuples(index=False):
        system, extra = extras[rec.system]
        metrics = {"F1": rec.f1, "F1_precision": rec.precision, "F1_recall": rec.recall,
                   "F1_threshold": rec.threshold}
        rows.append(
            make_row(
                system, rec.dataset, split, metrics, task="threshold",
                settings={"k": k, "relevance_level": int(rec.relevance_level)},
                context=extra, language=rec.language,
            )
        )
    return rows


def store_f1(
    best: pd.DataFrame,
    systems: Sequence[tuple[System, dict[str, Any]]],
    store: ResultsStore,
    split: str = "test",
    k: int = 10,
) -> int:
    """Append the F1 rows not yet in ``store``; return how many were added."""
    have = store.keys()
    rows = [r for r in f1_rows(best, systems, split, k) if r.key not in have]
    store.extend(rows)
    return len(rows)


def shift_table(
    frame: pd.DataFrame, measure: str, in_domain: str = "bible", value: str = "value"
) -> pd.DataFrame:
    """In-domain vs shifted score per system and language.

    Parameters
    ----------
    frame : DataFrame
        With ``system, domain, language`` and ``value`` columns for ``measure`` (e.g. a
        :func:`optical.results.frames.results_frame` with a ``domain`` column added, or
        :func:`threshold_curves`' ``best`` renamed); several rows per cell (seeds) are averaged.
    measure : str
        Selects rows of a ``measure`` column when there is one.

    Returns
    -------
    DataFrame
        ``system, language, domain, in_domain, shifted, drop, retained`` with
        ``drop = in_domain - shifted`` and ``retained = shifted / in_domain``, one row per
        shifted domain.
    """
    part = frame[frame["measure"] == measure] if "measure" in frame.columns else frame
    means = part.groupby(["system", "domain", "language"], sort=False)[value].mean().reset_index()
    home = (
        means[means["domain"] == in_domain]
        .rename(columns={value: "in_domain"})
        .drop(columns="domain")
    )
    away = means[means["domain"] != in_domain].rename(columns={value: "shifted"})
    out = away.merge(home, on=["system", "language"], how="inner")
    out["drop"] = out["in_domain"] - out["shifted"]
    out["retained"] = out["shifted"] / out["in_domain"].replace(0, np.nan)
    return out[
        ["system", "language", "domain", "in_domain", "shifted", "drop", "retained"]
    ].reset_index(drop=True)
