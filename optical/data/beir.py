"""BEIR-format directories: ``corpus.jsonl``, ``queries.jsonl``, ``qrels/<split>.tsv``.

Format
------
- ``corpus.jsonl`` (or ``corpus.jsonl.gz``): one JSON object per line with
  ``"_id"``, ``"text"`` and optionally ``"title"``; other keys are ignored.
- ``queries.jsonl`` (or ``.gz``): one object per line with ``"_id"`` and ``"text"``.
- ``qrels/<split>.tsv``: ``query-id<TAB>corpus-id<TAB>score`` with that header
  line (the header is optional on reading); ``score`` is an integer.
- ``excluded/<split>.tsv`` (optional, optical's own): ``query-id<TAB>corpus-id``
  with that header: documents removed from the query's ranking before it is scored
  (:attr:`~optical.data.types.RetrievalCollection.excluded`).

Ids may be JSON strings or integers (stored as strings). Blank lines are
ignored. Decisions: a duplicate ``_id`` in the corpus or the queries, and a
duplicate (query-id, corpus-id) pair in the qrels, are errors naming both lines
(BEIR's own loader silently keeps the last one). As in BEIR, only the queries
that appear in the split's qrels are kept.
"""

from __future__ import annotations

import json
import numbers
import os
import warnings
from collections.abc import Iterable, Iterator
from pathlib import Path
from typing import Any

from optical.data.errors import (
    DataFormatError,
    claim_line,
    iter_lines,
    not_found,
    require_dir,
    shorten,
)
from optical.data.jsonl import json_objects
from optical.data.trec import DUPLICATE_JUDGEMENT
from optical.data.types import Document, Qrels, RetrievalCollection
from optical.paths import atomic_path

__all__ = ["load_beir", "write_beir", "write_excluded", "read_jsonl_corpus", "read_beir_qrels",
           "read_beir_excluded"]

_QRELS_HEADER = ["query-id", "corpus-id", "score"]
_EXCLUDED_HEADER = ["query-id", "corpus-id"]
_DIR_EXPECTED = "a BEIR directory (corpus.jsonl, queries.jsonl, qrels/<split>.tsv)"


def _iter_json_objects(path: Path, expected: str) -> Iterator[tuple[int, str, dict[str, Any]]]:
    """Yield ``(line, raw text, object)`` for each non-blank line of a JSONL file."""

    def invalid(lineno: int, text: str, exc: json.JSONDecodeError) -> DataFormatError:
        message = (
            f"invalid JSON ({exc.msg} at column {exc.colno}); expected {expected}; "
            f"got: {shorten(text)!r}"
        )
        return DataFormatError(path, lineno, expected, message=message)

    def not_object(lineno: int, text: str) -> DataFormatError:
        return DataFormatError(path, lineno, expected, text)

    return json_objects(iter_lines(path, expected), invalid, not_object)


def _get_id(
    obj: dict[str, Any], key: str, path: Path, lineno: int, expected: str, text: str
) -> str:
    value = obj.get(key)
    if isinstance(value, bool) or not isinstance(value, (str, int)) or str(value).strip() == "":
        raise DataFormatError(path, lineno, expected, text)
    return str(value)


def _get_str(
    obj: dict[str, Any], key: str, path: Path, lineno: int, expected: str, text: str, default=None
) -> str:
    value = obj.get(key, default)
    if value is None and default is not None:
        value = default
    if not isinstance(value, str):
        raise DataFormatError(path, lineno, expected, text)
    return value


def read_jsonl_corpus(
    path: str | os.PathLike[str],
    id_key: str = "_id",
    corpus: dict[str, Document] | None = None,
    origins: dict[str, tuple[str, int]] | None = None,
) -> dict[str, Document]:
    """Read a JSONL corpus (``{id_key, "title", "text"}`` per line) into ``corpus``.

    Parameters
    ----------
    path : str or PathLike
        The JSONL file (``.gz`` is decompressed).
    id_key : str, default "_id"
        The id field (``"_id"`` for BEIR, ``"docid"`` for MIRACL).
    corpus : dict, optional
        Add to this dict (to read a corpus sharded over several files).
    origins : dict, optional
        Doc id → (file, line) of earlier shards, used to report duplicates across files.

    Raises
    ------
    DataFormatError
        Bad JSON, a missing/ill-typed key, or a duplicate id (both places named).
    """
    path = Path(path)
    corpus = {} if corpus is None else corpus
    origins = {} if origins is None else origins
    expected = f'a JSON object with "{id_key}" and "text" (and optionally "title")'
    for lineno, text, obj in _iter_json_objects(path, expected):
        doc_id = _get_id(obj, id_key, path, lineno, expected, text)
        body = _get_str(obj, "text", path, lineno, expected, text)
        title = _get_str(obj, "title", path, lineno, expected, text, default="")
        if doc_id in corpus:
            first_file, first_line = origins.get(doc_id, (str(path), 0))
            where = (
                f"line {first_line}"
                if first_file == str(path)
                else f"{first_file}, line {first_line}"
            )
            raise DataFormatError(
                path,
                lineno,
                "unique document ids",
                message=f"duplicate document id {doc_id!r} (first at {where}); expected unique ids",
            )
        corpus[doc_id] = Document(doc_id=doc_id, text=body, title=title)
        origins[doc_id] = (str(path), lineno)
    return corpus


def _read_queries(path: Path) -> dict[str, str]:
    expected = 'a JSON object with "_id" and "text"'
    queries: dict[str, str] = {}
    first: dict[str, int] = {}
    for lineno, text, obj in _iter_json_objects(path, expected):
        qid = _get_id(obj, "_id", path, lineno, expected, text)
        query = _get_str(obj, "text", path, lineno, expected, text)
        claim_line(first, qid, path, lineno, "unique query ids",
                   "duplicate query id {0!r} (first on line {first}); expected unique ids",
                   qid)  # fmt: skip
        queries[qid] = query
    return queries


def read_beir_qrels(path: Path) -> Qrels:
    expected = "query-id<TAB>corpus-id<TAB>integer score"
    qrels: Qrels = {}
    first: dict[tuple[str, str], int] = {}
    for lineno, text in iter_lines(path, f"BEIR qrels ({expected}, with a header line)"):
        if not text.strip():
            continue
        fields = text.split("\t")
        if lineno == 1 and [f.strip() for f in fields] == _QRELS_HEADER:
            continue
        if len(fields) != 3:
            raise DataFormatError(
                path, lineno, f"3 tab-separated fields: {expected}, found {len(fields)}", text
            )
        qid, did, score = (f.strip() for f in fields)
        if not qid or not did:
            raise DataFormatError(path, lineno, f"non-empty ids: {expected}", text)
        try:
            rel = int(score)
        except ValueError:
            what = "the header 'query-id<TAB>corpus-id<TAB>score' or " if lineno == 1 else ""
            raise DataFormatError(
                path, lineno, f"{what}an integer score in the third field", text
            ) from None
        claim_line(first, (qid, did), path, lineno, "one judgement per (query-id, corpus-id)",
                   DUPLICATE_JUDGEMENT, qid, did)  # fmt: skip
        qrels.setdefault(qid, {})[did] = rel
    return qrels


def read_beir_excluded(path: Path) -> dict[str, set[str]]:
    """``excluded/<split>.tsv``: query id -> documents removed from its ranking."""
    expected = "query-id<TAB>corpus-id"
    excluded: dict[str, set[str]] = {}
    for lineno, text in iter_lines(path, f"excluded documents ({expected}, with a header line)"):
        if not text.strip():
            continue
        fields = [f.strip() for f in text.split("\t")]
        if lineno == 1 and fields == _EXCLUDED_HEADER:
            continue
        if len(fields) != 2 or not all(fields):
            raise DataFormatError(path, lineno, f"2 tab-separated non-empty fields: {expected}", text)
        excluded.setdefault(fields[0], set()).add(fields[1])
    return excluded


def write_excluded(excluded: dict[str, Iterable[str]], path: str | os.PathLike[str], split: str) -> None:
    """Write ``excluded/<split>.tsv`` under the BEIR folder ``path`` (atomically)."""
    lines = ["\t".join(_EXCLUDED_HEADER) + "\n"]
    for qid, docs in excluded.items():
        _check_tsv_id(qid, "query id")
        for did in sorted(docs):
            _check_tsv_id(did, "document id")
            lines.append(f"{qid}\t{did}\n")
    with atomic_path(Path(path) / "excluded" / f"{split}.tsv") as tmp, open(tmp, "w", encoding="utf-8",
                                                                           newline="") as fh:
        fh.writelines(lines)


def _find(root: Path, stem: str) -> Path:
    for name in (stem, stem + ".gz"):
        if (root / name).is_file():
            return root / name
    return root / stem  # missing: iter_lines raises FileNotFoundError naming it


def _check_consistency(collection: RetrievalCollection, strict: bool) -> None:
    issues = collection.validate(strict=strict)
    if issues:
        warnings.warn(
            f"{collection.name}: {len(issues)} qrels issues, e.g. {issues[0]} "
            "(see RetrievalCollection.validate())",
            stacklevel=3,
        )


def load_beir(
    path: str | os.PathLike[str],
    split: str = "test",
    language: str | None = None,
    strict: bool = False,
) -> RetrievalCollection:
    """Load a BEIR-format directory (see the module docstring for the format).

    Parameters
    ----------
    path : str or PathLike
        The dataset directory.
    split : str, default "test"
        Which ``qrels/<split>.tsv`` to use; only its queries are kept.
    language : str, optional
        Recorded on the collection.
    strict : bool, default False
        Raise if the qrels name queries or documents that are not in the files
        (otherwise a warning is issued).

    Returns
    -------
    RetrievalCollection
        Named ``"<directory name>/<split>"``.

    Raises
    ------
    FileNotFoundError
        The directory or one of its files is missing (the message lists the
        splits that do exist when the qrels file is missing).
    DataFormatError
        Malformed content (file, line and expectation named).
    """
    root = require_dir(path, _DIR_EXPECTED)
    qrels_path = root / "qrels" / f"{split}.tsv"
    if not qrels_path.is_file():
        found = sorted(p.stem for p in (root / "qrels").glob("*.tsv"))
        raise not_found(
            qrels_path,
            f"No such file (expected the BEIR qrels for split {split!r}: "
            f"query-id<TAB>corpus-id<TAB>score; splits found: {found or 'none'})",
        )
    qrels = read_beir_qrels(qrels_path)
    corpus = read_jsonl_corpus(_find(root, "corpus.jsonl"))
    all_queries = _read_queries(_find(root, "queries.jsonl"))
    queries = {qid: all_queries[qid] for qid in qrels if qid in all_queries}
    excluded_path = root / "excluded" / f"{split}.tsv"
    excluded = read_beir_excluded(excluded_path) if excluded_path.is_file() else {}
    collection = RetrievalCollection(
        corpus=corpus, queries=queries, qrels=qrels, name=f"{root.name}/{split}", language=language,
        excluded={q: docs for q, docs in excluded.items() if q in queries},
    )
    _check_consistency(collection, strict)
    return collection


def _check_tsv_id(value: str, what: str) -> None:
    if not value or any(c in value for c in "\t\n\r"):
        raise ValueError(
            f"{what} {value!r} is empty or holds a tab/newline; BEIR qrels cannot hold it"
        )


def write_beir(
    collection: RetrievalCollection, path: str | os.PathLike[str], split: str = "test"
) -> None:
    """Write ``collection`` as a BEIR directory; each file is replaced atomically.

    Writes ``corpus.jsonl``, ``queries.jsonl`` (all queries) and
    ``qrels/<split>.tsv`` (with header); other files in ``path`` are left alone.

    Raises
    ------
    ValueError
        A corpus key differs from its document's ``doc_id``, an id cannot be
        written to the qrels TSV, or a grade is not an integer.
    """
    root = Path(path)
    for key, doc in collection.corpus.items():
        if key != doc.doc_id:
            raise ValueError(f"corpus key {key!r} holds a document with doc_id {doc.doc_id!r}")
    qrel_lines = ["\t".join(_QRELS_HEADER) + "\n"]
    for qid, judged in collection.qrels.items():
        _check_tsv_id(qid, "query id")
        for did, rel in judged.items():
            _check_tsv_id(did, "document id")
            if isinstance(rel, bool) or not isinstance(rel, numbers.Integral):
                raise ValueError(f"grade {rel!r} for ({qid!r}, {did!r}) is not an integer")
            qrel_lines.append(f"{qid}\t{did}\t{int(rel)}\n")

    def dump(obj: dict[str, str]) -> str:
        return json.dumps(obj, ensure_ascii=False) + "\n"

    files = {
        root / "corpus.jsonl": [
            dump({"_id": d.doc_id, "title": d.title, "text": d.text})
            for d in collection.corpus.values()
        ],
        root / "queries.jsonl": [
            dump({"_id": q, "text": t}) for q, t in collection.queries.items()
        ],
        root / "qrels" / f"{split}.tsv": qrel_lines,
    }
    for target, lines in files.items():
        with atomic_path(target) as tmp, open(tmp, "w", encoding="utf-8", newline="") as fh:
            fh.writelines(lines)
