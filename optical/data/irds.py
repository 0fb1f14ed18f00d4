"""Collections from the optional ``ir_datasets`` package (e.g. ``wikiclir/sw``).

``ir_datasets`` is not a dependency of optical: without it,
:func:`load_ir_datasets` raises :class:`IrDatasetsNotInstalledError` (an
``ImportError``). ``ir_datasets`` downloads data on first use; when that fails
(no network), :class:`DatasetUnavailableError` says how to use a local copy.
"""

from __future__ import annotations

import importlib
from typing import Any

from optical.data.types import Document, Qrels, RetrievalCollection

__all__ = ["load_ir_datasets", "IrDatasetsNotInstalledError", "DatasetUnavailableError"]


class IrDatasetsNotInstalledError(ImportError):
    """The optional ``ir_datasets`` package is not installed."""


class DatasetUnavailableError(RuntimeError):
    """``ir_datasets`` could not fetch the data (typically: no network)."""


def _local_copy_hint(dataset_id: str) -> str:
    return (
        f"The data for {dataset_id!r} is not available offline. Either copy an existing "
        "ir_datasets cache to this machine and point $IR_DATASETS_HOME at it (default "
        "~/.ir_datasets), or convert the collection to a standard format and load it "
        "directly: optical.data.load_beir(dir) for a BEIR directory, "
        "optical.data.load_miracl(dir) for topics/qrels/docs-*.jsonl, or "
        "read_topics/read_qrels for TREC files."
    )


def _text(record: Any, *names: str) -> str:
    for name in names:
        value = getattr(record, name, None)
        if isinstance(value, str):
            return value
    default_text = getattr(record, "default_text", None)
    return default_text() if callable(default_text) else ""


def _is_download_failure(exc: BaseException) -> bool:
    return isinstance(exc, OSError) or "download" in type(exc).__name__.lower()


def load_ir_datasets(
    dataset_id: str, language: str | None = None, max_docs: int | None = None
) -> RetrievalCollection:
    """Load ``dataset_id`` through ``ir_datasets`` into a :class:`RetrievalCollection`.

    Parameters
    ----------
    dataset_id : str
        An ir_datasets id, e.g. ``"wikiclir/sw"``.
    language : str, optional
        Recorded on the collection; by default the dataset's ``docs_lang()`` if any.
    max_docs : int, optional
        Stop after this many documents (for a quick look; qrels then name
        documents that are missing from the corpus).

    Raises
    ------
    IrDatasetsNotInstalledError
        ``ir_datasets`` cannot be imported (message: ``pip install ir_datasets``).
    ValueError
        ``ir_datasets`` does not know ``dataset_id``.
    DatasetUnavailableError
        Fetching the data failed (e.g. offline); the message says how to point
        optical at a local copy.
    """
    try:
        irds = importlib.import_module("ir_datasets")
    except ImportError as exc:
        raise IrDatasetsNotInstalledError(
            f"loading {dataset_id!r} needs the optional package ir_datasets, which is not "
            "installed: pip install ir_datasets (or load a local copy with "
            "optical.data.load_beir / load_miracl)",
            name="ir_datasets",
        ) from exc
    try:
        dataset = irds.load(dataset_id)
    except KeyError as exc:
        raise ValueError(f"ir_datasets has no dataset {dataset_id!r}") from exc
    try:
        corpus: dict[str, Document] = {}
        if dataset.has_docs():
            for doc in dataset.docs_iter():
                if max_docs is not None and len(corpus) >= max_docs:
                    break
                corpus[doc.doc_id] = Document(
                    doc_id=doc.doc_id,
                    text=_text(doc, "text", "body"),
                    title=getattr(doc, "title", "") or "",
                )
        queries: dict[str, str] = {}
        if dataset.has_queries():
            queries = {q.query_id: _text(q, "text", "title") for q in dataset.queries_iter()}
        qrels: Qrels = {}
        if dataset.has_qrels():
            for qrel in dataset.qrels_iter():
                qrels.setdefault(qrel.query_id, {})[qrel.doc_id] = int(qrel.relevance)
    except Exception as exc:
        if _is_download_failure(exc):
            raise DatasetUnavailableError(
                f"ir_datasets could not fetch {dataset_id!r} ({type(exc).__name__}: {exc}). "
                + _local_copy_hint(dataset_id)
            ) from exc
        raise
    if language is None:
        docs_lang = getattr(dataset, "docs_lang", None)
        language = docs_lang() if callable(docs_lang) else None
    return RetrievalCollection(
        corpus=corpus, queries=queries, qrels=qrels, name=dataset_id, language=language
    )
