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
from optical.benchmarks import is_embedded, load_collection, parse_spec
from optical.results import ResultsStore, result_key
from optical.systems import System, corpus_name, load_encoder_cached, parse_system

__all__ = ["BENCH_MEASURES", "TABLE_MEASURES", "evaluate_system", "bench", "bench_table", "dataset_language"]

# R@k and MRR count the aligned verse (grade 2: the translation and identical-text
# duplicates), as the zero-shot reference does; MAP and nDCG use every graded judgement
# (cross-references are grade 1).
BENCH_MEASURES = ("R(rel=2)@1", "RR(rel=2)@10", "AP", "nDCG@10", "R(rel=2)@10", "R@100")
TABLE_MEASURES = ("R(rel=2)@1", "RR(rel=2)@10", "AP", "nDCG@10")
LABELS = {"R(rel=2)@1": "R@1", "RR(rel=2)@10": "MRR@10", "R(rel=2)@10": "R@10", "AP": "MAP", "nDCG@10": "nDCG@10",
          "R@100": "R@100 (rel>=1)"}
MEASURE_NOTE = ("R@1 and MRR@10 count the aligned English verse (grade 2, incl. identical-text duplicates); "
                "MAP and nDCG@10 use all graded judgements (cross-references = grade 1).")
Progress = Callable[[str], None]


def dataset_language(spec: str) -> str:
    return parse_spec(spec)[1] if is_embedded(spec) else Path(spec).name


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
    measures: Sequence[str] = BENCH_MEASURES,
    device: str | None = None,
    progress: bool = True,
    extra: dict[str, Any] | None = None,
) -> dict[str, Any]:
    """Search one dataset split with one system and score it; return a results-store row."""
    from optical.evaluation import evaluate, per_query
    from optical.retrieval import Retriever, corpus_index

    collection = load_collection(dataset, split)
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
    parsed = [s if isinstance(s, System) else parse_system(s) for s in systems]
    for system in parsed:
        for dataset in datasets:
            row_extra = dict(extra or {})
            payload = {"system": _system_identity(system), "dataset": dataset, "split": split, "k": k, "mode": mode,
                       "measures": list(BENCH_MEASURES)} | row_extra
            if result_key(payload) in done:
                if progress:
                    progress(f"{system.name} on {dataset} ({split}): already in {store.path}")
                continue
            if progress:
                progress(f"evaluating {system.name} on {dataset} ({split}, {mode})")
            row = evaluate_system(system, dataset, split, k, mode, device=device, progress=progress is not None,
                                  extra=row_extra)
            store.append(row)
            rows.append(row)
            if progress:
                m = row["metrics"]
                shown = "  ".join(f"{LABELS[k]} {m[k]:.3f}" for k in TABLE_MEASURES)
                progress(f"  {shown}  ({row['timings']['queries_per_s']:.0f} q/s)")
    return rows


def bench_table(
    store: ResultsStore,
    systems: Sequence[str] | None = None,
    languages: Sequence[str] | None = None,
    measures: Sequence[str] = TABLE_MEASURES,
    baseline: str | None = "zero-shot",
    split: str = "test",
    dataset_family: str | None = "bible",
    group: str | None = None,
) -> str:
    """Paper-style markdown: systems x languages x measures, with significance marks vs ``baseline``."""
    from optical.evaluation.tables import to_markdown

    frame = store.per_query_frame()
    if frame.empty:
        raise ValueError(f"the results store {store.path} is empty: run `optical bench` first")
    if group is not None:
        frame = frame[frame["group"] == group]
    frame = frame[frame["split"] == split]
    if dataset_family:
        frame = frame[frame["dataset"].str.startswith(dataset_family + ":")]
    frame = frame[frame["measure"].isin(measures)]
    if systems is not None:
        frame = frame[frame["system"].isin(systems)]
    if languages is not None:
        frame = frame[frame["language"].isin(languages)]
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
        blocks.append(f"**{LABELS.get(measure, measure)}**\n\n{table}")
    return "\n\n".join(blocks) + "\n\n" + MEASURE_NOTE


def _single_system_table(frame: pd.DataFrame, system: str, languages: Sequence[str],
                         measures: Sequence[str]) -> str:
    from optical.assets.languages import resource_level

    sub = frame[frame["system"] == system]
    means = sub.groupby(["language", "measure"])["value"].mean()
    counts = sub[sub["measure"] == measures[0]].groupby("language")["qid"].nunique()
    head = "| language | resource | queries | " + " | ".join(LABELS.get(m, m) for m in measures) + " |"
    lines = [f"**{system}**", "", head, "|:---|:---|---:|" + "---:|" * len(measures)]
    for lang in languages:
        cells = [f"{means.get((lang, m), float('nan')):.3f}" for m in measures]
        lines.append(f"| {lang} | {resource_level(lang)} | {counts.get(lang, 0)} | " + " | ".join(cells) + " |")
    avg = [f"{sub[sub['measure'] == m].groupby('language')['value'].mean().mean():.3f}" for m in measures]
    lines.append("| *macro avg* | | | " + " | ".join(avg) + " |")
    return "\n".join(lines) + "\n\n" + MEASURE_NOTE


def summary_frame(store: ResultsStore) -> pd.DataFrame:
    return store.summary_frame()
