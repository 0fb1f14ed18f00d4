"""What an index folder holds on disk, and the checks that it is intact and of the right corpus.

Folder layout (written atomically: a crash never leaves a half-built index that
looks valid)::

    index.json      model name, fingerprint, encoder settings, corpus checksum and
                    fingerprint, counts, FAISS kind and parameters, created-at, and
                    the size and SHA-256 of every other file (written last)
    vectors.faiss   pooled vectors (IndexFlatIP, IndexIVFFlat or IndexHNSWFlat)
    docs.jsonl      {"id", "text"} per document, in FAISS row order
    tokens.npy, offsets.npy   optional token store (see :mod:`.tokens`)

:func:`read_index_folder` re-hashes every file against ``index.json`` (about 0.2 s for the
Bible corpus with its token store). :func:`check_corpus_match` refuses an index built from
other documents than the corpus being searched (:func:`corpus_fingerprint`: ids and texts,
in any order); :func:`corpus_checksum` (ids and texts, in order) keys the cache.
"""

from __future__ import annotations

import datetime as _dt
import hashlib
import json
from collections.abc import Iterable, Mapping, Sequence
from pathlib import Path
from typing import Any

from optical.data.types import Document, RetrievalCollection
from optical.paths import atomic_write_json, check_files, record_files
from optical.retrieval.faiss_backends import import_faiss
from optical.retrieval.fingerprint import model_fingerprint
from optical.retrieval.tokens import TokenStore

__all__ = [
    "DOCS_FILE",
    "FAISS_FILE",
    "FORMAT_VERSION",
    "META_FILE",
    "CorpusLike",
    "built_index_meta",
    "check_corpus_match",
    "corpus_checksum",
    "corpus_fingerprint",
    "corpus_items",
    "items_checksum",
    "items_fingerprint",
    "read_index_folder",
    "write_index_folder",
]

FORMAT_VERSION = 2  # 2: checksums of the files and the corpus fingerprint in index.json
META_FILE = "index.json"
FAISS_FILE = "vectors.faiss"
DOCS_FILE = "docs.jsonl"

CorpusLike = RetrievalCollection | Mapping[str, Document | str] | Sequence[Document]


# --------------------------------------------------------------------------- corpus


def corpus_items(corpus: CorpusLike) -> tuple[list[str], list[str]]:
    """Document ids and the texts that get encoded (``Document.full_text()``), in order."""
    if isinstance(corpus, RetrievalCollection):
        corpus = corpus.corpus
    ids: list[str] = []
    texts: list[str] = []
    items: Iterable = (
        corpus.items() if isinstance(corpus, Mapping) else ((d.doc_id, d) for d in corpus)
    )
    for key, doc in items:
        if isinstance(doc, Document):
            text = doc.full_text()
        elif isinstance(doc, str):
            text = doc
        else:
            raise TypeError(f"document {key!r} is {type(doc).__name__}, expected Document or str")
        ids.append(str(key))
        texts.append(text)
    if len(set(ids)) != len(ids):
        raise ValueError("corpus has duplicate document ids")
    return ids, texts


def items_checksum(ids: Sequence[str], texts: Sequence[str]) -> str:
    """SHA-256 over the (id, text) pairs in the order given."""
    h = hashlib.sha256(b"optical-corpus-v1\n")
    for doc_id, text in zip(ids, texts, strict=True):
        h.update(json.dumps([doc_id, text], ensure_ascii=False).encode())
        h.update(b"\n")
    return h.hexdigest()


def corpus_checksum(corpus: CorpusLike) -> str:
    """SHA-256 over the (id, encoded text) pairs in corpus order."""
    return items_checksum(*corpus_items(corpus))


def items_fingerprint(ids: Sequence[str], texts: Sequence[str]) -> str:
    """:func:`items_checksum` of the (id, text) pairs sorted by id."""
    order = sorted(range(len(ids)), key=lambda i: ids[i])
    return items_checksum([ids[i] for i in order], [texts[i] for i in order])


def corpus_fingerprint(corpus: CorpusLike) -> str:
    """SHA-256 over the (id, encoded text) pairs sorted by id: the same documents in any order
    give the same fingerprint."""
    return items_fingerprint(*corpus_items(corpus))


def check_corpus_match(
    doc_ids: Sequence[str],
    texts: Sequence[str] | None,
    recorded: str | None,
    path: Path | None,
    corpus: CorpusLike,
    label: str | None = None,
) -> None:
    """Raise ``ValueError`` unless an index of ``doc_ids`` / ``texts`` (corpus fingerprint
    ``recorded``, saved at ``path``) holds exactly the documents of ``corpus``.

    Backs :meth:`DenseIndex.check_corpus <optical.retrieval.index.DenseIndex.check_corpus>`;
    the message counts the ids only on one side and the texts that differ.
    """
    ids, corpus_texts = corpus_items(corpus)
    if recorded is not None and recorded == items_fingerprint(ids, corpus_texts):
        return
    if recorded is None and texts is None and sorted(ids) == sorted(doc_ids):
        return  # an in-memory index without texts: the ids are all there is to compare
    mine = dict(zip(doc_ids, texts or [None] * len(doc_ids), strict=True))
    theirs = dict(zip(ids, corpus_texts, strict=True))
    only_index = sum(1 for d in mine if d not in theirs)
    only_corpus = sum(1 for d in theirs if d not in mine)
    changed = sum(1 for d, t in theirs.items() if d in mine and mine[d] != t)
    where = f" at {path}" if path else ""
    what = label or "the corpus being searched"
    raise ValueError(
        f"index{where} was built from another corpus than {what}: {only_index} of its "
        f"{len(mine)} documents are not in {what}, {only_corpus} of the {len(theirs)} "
        f"documents of {what} are not in the index, {changed} texts differ; rebuild the "
        "index from this corpus (`optical encode`) or search without --index"
    )


# --------------------------------------------------------------------------- files


def built_index_meta(
    encoder,
    ids: Sequence[str],
    texts: Sequence[str],
    kind: str,
    params: dict[str, Any],
    with_tokens: bool,
    n_tokens: int,
) -> dict[str, Any]:
    """What ``index.json`` records of an index encoded by ``encoder`` (all but ``files``)."""
    return {
        "format_version": FORMAT_VERSION,
        "model": encoder.name_or_path,
        "fingerprint": model_fingerprint(encoder),
        "encoder": encoder.settings(),
        "corpus_checksum": items_checksum(ids, texts),
        "corpus_fingerprint": items_fingerprint(ids, texts),
        "n_docs": len(ids),
        "dim": encoder.hidden_size,
        "kind": kind,
        "params": params,
        "with_tokens": with_tokens,
        "n_tokens": n_tokens,
        "token_dtype": "float16" if with_tokens else None,
        "created_at": _dt.datetime.now(_dt.UTC).isoformat(timespec="seconds"),
        "faiss_version": import_faiss().__version__,
    }


def write_index_folder(
    folder: Path,
    faiss_index,
    doc_ids: Sequence[str],
    texts: Sequence[str] | None,
    tokens: TokenStore | None,
    meta: dict[str, Any],
) -> None:
    """Write the files of an index into ``folder``, ``index.json`` last.

    ``meta["files"]`` is set (in place) to the size and SHA-256 of every other file.
    """
    faiss = import_faiss()
    faiss.write_index(faiss_index, str(folder / FAISS_FILE))
    with open(folder / DOCS_FILE, "w", encoding="utf-8", newline="\n") as fh:
        texts = texts if texts is not None else [""] * len(doc_ids)
        for doc_id, text in zip(doc_ids, texts, strict=True):
            fh.write(json.dumps({"id": doc_id, "text": text}, ensure_ascii=False) + "\n")
    if tokens is not None:
        tokens.save(folder)
    meta["files"] = record_files(folder, exclude=(META_FILE,))
    atomic_write_json(folder / META_FILE, meta)  # last: marks the folder complete


def read_index_folder(
    path: Path, mmap_tokens: bool = True
) -> tuple[Any, list[str], list[str], dict[str, Any], TokenStore | None]:
    """The parts of a saved index, after checking every file against its recorded checksum.

    Returns
    -------
    faiss_index, doc_ids, texts, meta, tokens
        ``tokens`` is ``None`` for an index saved without a token store.

    Raises
    ------
    FileNotFoundError
        Not an index folder (no ``index.json``) or a file is missing.
    ValueError
        Corrupt or inconsistent files (a checksum differs) or an unsupported format.
    """
    meta_path = path / META_FILE
    if not meta_path.is_file():
        raise FileNotFoundError(
            f"{path}: not an optical index (no {META_FILE}); build one with `optical encode`"
        )
    try:
        meta = json.loads(meta_path.read_text(encoding="utf-8"))
    except json.JSONDecodeError as exc:
        raise ValueError(f"{meta_path}: corrupt index metadata ({exc})") from None
    if meta.get("format_version") != FORMAT_VERSION:
        raise ValueError(
            f"{path}: index format {meta.get('format_version')!r} is not supported "
            f"(expected {FORMAT_VERSION}); rebuild it"
        )
    for name in (FAISS_FILE, DOCS_FILE):
        if not (path / name).is_file():
            raise FileNotFoundError(f"{path / name}: index file missing; rebuild the index")
    _verify_files(path, meta)
    ids: list[str] = []
    texts: list[str] = []
    with open(path / DOCS_FILE, encoding="utf-8") as fh:
        for line in fh:
            obj = json.loads(line)
            ids.append(obj["id"])
            texts.append(obj["text"])
    index = import_faiss().read_index(str(path / FAISS_FILE))
    tokens = TokenStore.load(path, mmap=mmap_tokens) if meta.get("with_tokens") else None
    if len(ids) != meta["n_docs"]:
        raise ValueError(f"{path}: {len(ids)} documents listed, index.json says {meta['n_docs']}")
    return index, ids, texts, meta, tokens


def _verify_files(path: Path, meta: dict[str, Any]) -> None:
    """Every file of an index folder against the sizes and SHA-256s in ``index.json``."""
    records = meta.get("files")
    if not isinstance(records, dict) or not records:
        raise ValueError(f"{path}: {META_FILE} records no file checksums; rebuild the index")
    problem = check_files(path, records, sampled=False)
    if problem:
        raise ValueError(
            f"{path}: index file {problem}; the index is corrupt: rebuild it "
            "(`optical encode`, or delete the folder)"
        )
