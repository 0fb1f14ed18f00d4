"""Loaders for standard IR, bitext and QA formats, returning plain containers.

Readers raise :class:`DataFormatError` (file, line, what was expected) on
malformed input and :class:`FileNotFoundError` naming what was expected at a
missing path. Writers are atomic (temporary file + ``os.replace``).
"""

from __future__ import annotations

from optical.data.beir import load_beir, read_jsonl_corpus, write_beir
from optical.data.bitext import read_bitext_tsv, read_moses, write_bitext_tsv
from optical.data.captions import (
    caption_retrieval_collection,
    load_parallel_captions,
    read_caption_lines,
    read_flickr_tokens,
)
from optical.data.errors import DataFormatError
from optical.data.irds import (
    DatasetUnavailableError,
    IrDatasetsNotInstalledError,
    load_ir_datasets,
)
from optical.data.miracl import load_miracl
from optical.data.squad import load_squad_clir, load_squad_parallel, read_squad
from optical.data.trec import rank_for_trec, read_qrels, read_run, read_topics, write_run
from optical.data.types import Bitext, Document, Qrels, RetrievalCollection, Run

__all__ = [
    "Bitext",
    "DataFormatError",
    "DatasetUnavailableError",
    "Document",
    "IrDatasetsNotInstalledError",
    "Qrels",
    "RetrievalCollection",
    "Run",
    "caption_retrieval_collection",
    "load_beir",
    "load_ir_datasets",
    "load_miracl",
    "load_parallel_captions",
    "load_squad_clir",
    "load_squad_parallel",
    "rank_for_trec",
    "read_bitext_tsv",
    "read_caption_lines",
    "read_flickr_tokens",
    "read_jsonl_corpus",
    "read_moses",
    "read_qrels",
    "read_run",
    "read_squad",
    "read_topics",
    "write_beir",
    "write_bitext_tsv",
    "write_run",
]
