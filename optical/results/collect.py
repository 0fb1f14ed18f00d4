"""Evaluate systems on datasets, per language, into the results store; render tables.

``optical bench --systems zero-shot runs/optical-sw ...`` is the one command behind the
README's per-language tables.
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import pandas as pd

from optical.assets.languages import resource_level
from optical.data.types import RetrievalCollection
from optical.dataset_loading import load_collection
from optical.dataset_spec import DatasetSpec
from optical.evaluation.measure_sets import (
    BENCH_MEASURES,
    BINARY_MEASURES,
    LABELS,
    TABLE_MEASURES,
    MeasureSet,
    measure_label,
    measure_note,
    measure_set,
    table_measures,
)
from optical.results import ResultsStore, result_key
from optical.systems import System, corpus_name, load_encoder_cached, parse_system

__all__ = [
    "BENCH_MEASURES",
    "BINARY_MEASURES",
    "LABELS",
    "TABLE_MEASURES",
    "MeasureSet",
    "bench",
    "bench_table",
    "dataset_language",
    "evaluate_system",
    "measure_label",
    "measure_note",
    "measure_set",
    "table_measures",
]

Progress = Callable[[str], None]
SEARCH_MODES = ("pooled", "maxsim", "ot")


def _check_search(k: object, mode: str) -> None:
    if isinstance(k, bool) or not isinstance(k, int) or k < 1:
        raise ValueError(f"k (documents per query) must be an integer >= 1, got {k!r}")
    if mode not in SEARCH_MODES:
        raise ValueError(f"unknown search mode {mode!r}; use one of {', '.join(SEARCH_MODES)}")


def load_collection_checked(dataset: str, split: str) -> RetrievalCollection:
    """A dataset split that can be benchmarked: it has queries, qrels, and queries judged."""
    from optical.retrieval.query_checks import check_queries

    collection = load_collection(dataset, split)
    if not collection.queries:
        raise ValueError(f"{dataset} ({split}): no queries")
    if not collection.corpus:
        raise ValueError(f"{dataset} ({split}): no documents")
    check_queries(collection.queries)  # invisible queries cannot be ranked: refuse before any index
    if not any(collection.qrels.values()):
        raise ValueError(f"{dataset} ({split}): no relevance judgements (qrels)")
    if not set(collection.qrels) & set(collection.queries):
        raise ValueError(f"{dataset} ({split}): no query of the qrels is among the queries "
                         "(check the query ids)")
    return collection


def dataset_language(spec: str) -> str:
    """A results row's ``language`` (:attr:`DatasetSpec.language`)."""
    return DatasetSpec.parse(spec).language


def _system_identity(system: System) -> dict[str, Any]:
    ident = system.to_dict()
    if system.run_dir:  # a retrained run in the same folder is a different system
        summary = Path(system.run_dir) / "summary.json"
        ident["summary"] = json.loads(summary.read_text()).get("train_seconds") if summary.is_file() else None
    return ident


def evaluate_system(
    system: System,
    dataset: str,
    split: str = "test",
    k: int = 100,
    mode: str = "pooled",
    measures: Sequence[str] | None = None,
    device: str | None = None,
    progress: bool = True,
    extra: dict[str, Any] | None = None,
    collection: RetrievalCollection | None = None,
) -> dict[str, Any]:
    """Search one dataset split with one system and score it; return a results-store row.

    ``measures`` default to the collection's :func:`measure_set`; ``collection`` is the
    dataset split when already loaded.
    """
    from optical.evaluation import evaluate, per_query
    from optical.retrieval import Retriever, corpus_index

    _check_search(k, mode)
    collection = collection if collection is not None else load_collection_checked(dataset, split)
    measures = list(measures) if measures is not None else list(measure_set(collection.qrels).measures)
    q_enc = load_encoder_cached(system.query_model, device)
    d_enc = load_encoder_cached(system.doc_model, device)
    t0 = time.time()
    index = corpus_index(d_enc, collection.corpus, name=corpus_name(dataset), with_tokens=mode != "pooled",
                         progress=progress)
    t1 = time.time()
    run = Retriever(q_enc, d_enc, index).search(collection.queries, k=k, mode=mode, progress=progress)
    t2 = time.time()
    frame = per_query(run, collection.qrels, list(measures))
    agg = evaluate(run, collection.qrels, list(measures))
    per_q = {m: dict(zip(g["qid"], g["value"].astype(float), strict=True)) for m, g in frame.groupby("measure")}
    language = dataset_language(dataset)
    payload = {"system": _system_identity(system), "dataset": dataset, "split": split, "k": k, "mode": mode,
               "measures": list(measures)} | (extra or {})
    config = None
    if system.run_dir and (Path(system.run_dir) / "config.json").is_file():
        config = json.loads((Path(system.run_dir) / "config.json").read_text())
    return {
        "key": result_key(payload), "system": system.name, "kind": system.kind, "query_model": system.query_model,
        "doc_model": system.doc_model, "run_dir": system.run_dir, "dataset": dataset, "language": language,
        "resource": resource_level(language), "split": split, "mode": mode, "k": k,
        "metrics": {m: float(v) for m, v in agg.items()}, "per_query": per_q, "n_queries": len(collection.queries),
        "timings": {"index_s": t1 - t0, "search_s": t2 - t1, "queries_per_s": len(collection.queries) / max(t2 - t1, 1e-9)},
        "config": config, **(extra or {}),
    }


def bench(
    systems: Sequence[str | System],
    datasets: Sequence[str],
    split: str = "test",
    store: ResultsStore | None = None,
    k: int = 100,
    mode: str = "pooled",
    device: str | None = None,
    progress: Progress | None = print,
    extra: dict[str, Any] | None = None,
) -> list[dict[str, Any]]:
    """Evaluate every system on every dataset; rows already in the store are skipped."""
    store = store or ResultsStore()
    done = store.keys()
    rows = []
    _check_search(k, mode)
    parsed = [s if isinstance(s, System) else parse_system(s) for s in systems]
    # every dataset is read (and checked) before any model loads; its qrels pick its measures
    collections = {dataset: load_collection_checked(dataset, split) for dataset in dict.fromkeys(datasets)}
    for system in parsed:
        for dataset in datasets:
            row_extra = dict(extra or {})
            kind = measure_set(collections[dataset].qrels)
            payload = {"system": _system_identity(system), "dataset": dataset, "split": split, "k": k, "mode": mode,
                       "measures": list(kind.measures)} | row_extra
            if result_key(payload) in done:
                if progress:
                    progress(f"{system.name} on {dataset} ({split}): already in {store.path}")
                continue
            if progress:
                progress(f"evaluating {system.name} on {dataset} ({split}, {mode})")
            row = evaluate_system(system, dataset, split, k, mode, kind.measures, device=device,
                                  progress=progress is not None, extra=row_extra, collection=collections[dataset])
            store.append(row)
            rows.append(row)
            if progress:
                m = row["metrics"]
                shown = "  ".join(f"{measure_label(name)} {m[name]:.3f}" for name in kind.table)
                progress(f"  {shown}  ({row['timings']['queries_per_s']:.0f} q/s)")
    return rows


def bench_table(
    store: ResultsStore,
    systems: Sequence[str] | None = None,
    languages: Sequence[str] | None = None,
    measures: Sequence[str] | None = None,
    baseline: str | None = "zero-shot",
    split: str = "test",
    dataset_family: str | None = "bible",
    group: str | None = None,
) -> str:
    """Paper-style markdown: systems x languages x measures, with significance marks vs ``baseline``.

    ``measures`` default to the :func:`table_measures` of the selected rows (R@1 (rel=2),
    MRR@10 (rel=2), MAP, nDCG@10 for the Bible; R@1, MRR@10, MAP, nDCG@10 for binary qrels).
    """
    from optical.evaluation.tables import to_markdown

    frame = store.per_query_frame()
    if frame.empty:
        raise ValueError(f"the results store {store.path} is empty: run `optical bench` first")
    if group is not None:
        frame = frame[frame["group"] == group]
    frame = frame[frame["split"] == split]
    if dataset_family:
        families = {d: DatasetSpec.parse(d, check=False).family for d in frame["dataset"].unique()}
        frame = frame[frame["dataset"].map(families) == dataset_family]
    if systems is not None:
        frame = frame[frame["system"].isin(systems)]
    if languages is not None:
        frame = frame[frame["language"].isin(languages)]
    measures = list(measures) if measures is not None else list(table_measures(frame["measure"].unique()))
    frame = frame[frame["measure"].isin(measures)]
    if frame.empty:
        raise ValueError("no results match the requested systems/languages/split")
    # several rows of one system and language are seeds (or repeats): average per query
    frame = frame.groupby(["system", "language", "qid", "measure"], as_index=False, sort=False)["value"].mean()
    present = list(dict.fromkeys(frame["system"]))
    if baseline not in present or len(present) < 2:
        baseline = None
    systems = [s for s in (systems or present) if s in present]
    languages = [lang for lang in (languages or list(dict.fromkeys(frame["language"])))
                 if lang in set(frame["language"])]
    if len(systems) == 1:  # one system: languages as rows, measures as columns
        return _single_system_table(frame, systems[0], languages, measures)
    blocks = []
    for measure in measures:
        part = frame[frame["measure"] == measure][["system", "language", "qid", "measure", "value"]]
        if part.empty:
            continue
        table = to_markdown(part, baseline=baseline, systems=systems, languages=languages, measures=[measure],
                            average=True)
        blocks.append(f"**{measure_label(measure)}**\n\n{table}")
    return _with_note("\n\n".join(blocks), measures)


def _single_system_table(frame: pd.DataFrame, system: str, languages: Sequence[str],
                         measures: Sequence[str]) -> str:
    from optical.assets.languages import resource_level

    sub = frame[frame["system"] == system]
    means = sub.groupby(["language", "measure"])["value"].mean()
    counts = sub.groupby("language")["qid"].nunique()
    head = "| language | resource | queries | " + " | ".join(measure_label(m) for m in measures) + " |"
    lines = [f"**{system}**", "", head, "|:---|:---|---:|" + "---:|" * len(measures)]
    for lang in languages:
        cells = [_cell(means.get((lang, m), float("nan"))) for m in measures]
        lines.append(f"| {lang} | {resource_level(lang)} | {counts.get(lang, 0)} | " + " | ".join(cells) + " |")
    avg = [_cell(sub[sub["measure"] == m].groupby("language")["value"].mean().mean()) for m in measures]
    lines.append("| *macro avg* | | | " + " | ".join(avg) + " |")
    return _with_note("\n".join(lines), measures)


def _cell(value: float) -> str:
    return "–" if pd.isna(value) else f"{value:.3f}"


def _with_note(text: str, measures: Sequence[str]) -> str:
    note = measure_note(measures)
    return f"{text}\n\n{note}" if note else text


def summary_frame(store: ResultsStore) -> pd.DataFrame:
    return store.summary_frame()
