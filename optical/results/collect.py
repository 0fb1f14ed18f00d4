"""Evaluate systems on datasets, per language, into the results store (one row each).

Rendering is the report's (:func:`optical.report.bench_table`); the rows' schema is
:mod:`optical.results.row`.

``optical bench --systems zero-shot runs/optical-sw ...`` is the one command behind the
README's per-language tables.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence
from typing import Any

from optical.data.types import RetrievalCollection
from optical.dataset_loading import load_collection
from optical.dataset_spec import DatasetSpec
from optical.evaluation.measure_sets import measure_label, measure_set
from optical.results.row import ResultRow, make_row, row_key
from optical.results.store import ResultsStore
from optical.systems import System, corpus_name, load_encoder_cached, parse_system

__all__ = ["SEARCH_MODES", "NotScorable", "bench", "evaluate_system", "load_collection_checked", "system_run"]

Progress = Callable[[str], None]
SEARCH_MODES = ("pooled", "maxsim", "ot")


class NotScorable(ValueError):
    """A system that cannot score a dataset at all (e.g. BM25 when no query shares a word
    with the corpus): refused, never stored as a row of zeros. A sweep reports it and goes on."""


def _check_search(k: object, mode: str) -> None:
    if isinstance(k, bool) or not isinstance(k, int) or k < 1:
        raise ValueError(f"k (documents per query) must be an integer >= 1, got {k!r}")
    if mode not in SEARCH_MODES:
        raise ValueError(f"unknown search mode {mode!r}; use one of {', '.join(SEARCH_MODES)}")


def _check_mode_fits(systems: Sequence[System], mode: str) -> None:
    """A BM25 system ranks words: it has no token vectors to score in another mode."""
    for s in systems:
        if s.kind == "bm25" and mode != "pooled":
            raise ValueError(f"{s.name}: a BM25 system has no token vectors to score in mode {mode!r}; "
                             "evaluate it with mode pooled")


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
) -> ResultRow:
    """Search one dataset split with one system and score it: one results row.

    ``measures`` default to the collection's :func:`measure_set`; ``collection`` is the
    dataset split when already loaded; ``extra`` is the sweep context of the row
    (:data:`optical.results.row.CONTEXT_FIELDS`).
    """
    from optical.evaluation import per_query
    from optical.evaluation.exclusions import drop_excluded, search_depth

    _check_search(k, mode)
    _check_mode_fits([system], mode)
    collection = collection if collection is not None else load_collection_checked(dataset, split)
    measures = list(measures) if measures is not None else list(measure_set(collection.qrels, DatasetSpec.parse(dataset).measures).measures)
    run, timings = system_run(system, dataset, collection, search_depth(k, collection.excluded), mode, device,
                              progress)
    if collection.excluded:  # e.g. the query's own translation on bible-xref: not allowed to count
        run = drop_excluded(run, collection.excluded, k)
    frame = per_query(run, collection.qrels, measures)
    means = frame.groupby("measure", sort=False)["value"].mean()  # what evaluate() averages
    per_q = {m: dict(zip(g["qid"], g["value"].astype(float), strict=True)) for m, g in frame.groupby("measure")}
    n = len(collection.queries)
    return make_row(
        system, dataset, split, {m: float(v) for m, v in means.items()},
        settings={"mode": mode, "k": k}, key_settings={"measures": measures}, per_query=per_q, n_queries=n,
        timings=timings | {"queries_per_s": n / max(timings["search_s"], 1e-9)},
        context=extra,
    )


def system_run(
    system: System,
    dataset: str,
    collection: RetrievalCollection,
    k: int,
    mode: str,
    device: str | None = None,
    progress: bool = False,
) -> tuple[dict[str, dict[str, float]], dict[str, float]]:
    """The ranking of ``system`` for every query of ``collection`` (qid -> {doc: score}) and
    the seconds spent (``index_s``, ``search_s``, ``translate_s`` when it translates; a
    lexicon's facts too, :func:`optical.lexicon.lexicon_queries`).

    Dense systems search a cached index of the corpus (in ``mode``); ``bm25`` ones a BM25
    index; ``translate`` ones translate the queries first; ``rrf`` ones fuse their parts'
    top ``k`` (BM25 parts always rank lexically, the others in ``mode``).
    """
    from optical.retrieval import Retriever, corpus_index

    if system.parts is not None:
        from optical.retrieval.fusion import reciprocal_rank_fusion

        runs, timings = [], {}
        for part in system.parts:
            part_run, part_times = system_run(part, dataset, collection, k, "pooled" if part.kind == "bm25" else mode,
                                              device, progress)
            runs.append(part_run)
            timings = {key: timings.get(key, 0.0) + v for key, v in part_times.items()}
        return reciprocal_rank_fusion(runs, k), timings
    queries, timings, weighted = collection.queries, {}, None
    if system.translator is not None:  # translate-test: the queries first, then the retriever
        from optical.lexicon import is_lexicon_translator, lexicon_queries
        from optical.translation import load_translator, translate_queries

        t0 = time.time()
        if is_lexicon_translator(system.translator):  # a word table learned from the training bitext
            read = lexicon_queries(system.translator, dataset, collection.queries, device, progress)
            queries, weighted, timings = read.texts, read.weights if read.psq else None, dict(read.facts)
        else:
            queries = translate_queries(load_translator(system.translator, device), collection.queries)
        timings["translate_s"] = time.time() - t0
    if system.kind == "bm25":
        from optical.retrieval.lexical import bm25_index

        t0 = time.time()
        lexical = bm25_index(collection.corpus, corpus_name(dataset))
        t1 = time.time()
        found = lexical.search(queries, k) if weighted is None else lexical.search_weighted(weighted, k)
        run = {q: docs for q, docs in found.items() if docs}  # no shared word: nothing
        if not run:
            raise NotScorable(f"{system.name}: no query of {dataset} shares a word with its corpus")
    else:
        q_enc = load_encoder_cached(system.query_model, device)
        d_enc = load_encoder_cached(system.doc_model, device)
        t0 = time.time()
        index = corpus_index(d_enc, collection.corpus, name=corpus_name(dataset), with_tokens=mode != "pooled",
                             progress=progress)
        t1 = time.time()
        run = Retriever(q_enc, d_enc, index).search(queries, k=k, mode=mode, progress=progress)
    return run, timings | {"index_s": t1 - t0, "search_s": time.time() - t1}


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
    not_scorable: Callable[[System, str, NotScorable], None] | None = None,
) -> list[ResultRow]:
    """Evaluate every system on every dataset; rows already in the store are skipped.

    A dataset a system cannot score raises :class:`NotScorable`; with ``not_scorable``
    given, it is called instead (system, dataset, error) and the next dataset follows.
    """
    store = store or ResultsStore()
    done = store.keys()
    rows = []
    _check_search(k, mode)
    parsed = [s if isinstance(s, System) else parse_system(s) for s in systems]
    _check_mode_fits(parsed, mode)  # refused before any dataset or model is read
    # every dataset is read (and checked) before any model loads; its qrels pick its measures
    collections = {dataset: load_collection_checked(dataset, split) for dataset in dict.fromkeys(datasets)}
    for system in parsed:
        for dataset in datasets:
            kind = measure_set(collections[dataset].qrels, DatasetSpec.parse(dataset).measures)
            key = row_key(system, dataset, split, settings={"mode": mode, "k": k, "measures": list(kind.measures)},
                          context=extra)
            if key in done:
                if progress:
                    progress(f"{system.name} on {dataset} ({split}): already in {store.path}")
                continue
            if progress:
                progress(f"evaluating {system.name} on {dataset} ({split}, {mode})")
            try:
                row = evaluate_system(system, dataset, split, k, mode, kind.measures, device=device,
                                      progress=progress is not None, extra=extra, collection=collections[dataset])
            except NotScorable as err:
                if not_scorable is None:
                    raise
                not_scorable(system, dataset, err)
                continue
            store.append(row)
            rows.append(row)
            if progress:
                shown = "  ".join(f"{measure_label(name)} {row.metrics[name]:.3f}" for name in kind.table)
                progress(f"  {shown}  ({row.timings['queries_per_s']:.0f} q/s)")
    return rows
