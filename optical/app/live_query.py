"""Live search for the app: query checks, uploaded corpora, in-memory indexes, explanations.

Uploaded corpus files (checked before anything is encoded):

- ``.jsonl``: one JSON object per line with ``text`` (or ``contents``) and an optional
  id (``_id``, ``id``, ``doc_id`` or ``docid``) and ``title``;
- ``.tsv`` / ``.txt``: ``id<TAB>text`` per line (a first line ``id<TAB>text`` is a
  header), or just ``text`` per line (ids ``1``, ``2``, ...).

The file must be UTF-8 (a BOM is fine), within the size and document limits of the
:class:`~optical.app.settings.AppSettings`, with unique ids and some non-empty text.
"""

from __future__ import annotations

import hashlib
import json
import numbers
import unicodedata
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import PurePath

import numpy as np
import pandas as pd

from optical.app.locking import MODEL_LOCK
from optical.data.jsonl import json_objects
from optical.retrieval import (
    MODES,
    DenseIndex,
    Explanation,
    Retriever,
    SearchResult,
    check_query,
    encode_texts,
)
from optical.retrieval.fingerprint import model_fingerprint
from optical.retrieval.tokens import TokenStore

__all__ = [
    "UploadError",
    "UploadedCorpus",
    "QueryOutcome",
    "build_memory_index",
    "explain_hit",
    "index_ready",
    "matches_frame",
    "parse_corpus",
    "prepare_query",
    "search",
]

_ID_KEYS = ("_id", "id", "doc_id", "docid")
_TEXT_KEYS = ("text", "contents", "body")


class UploadError(ValueError):
    """An uploaded corpus file that cannot be used (the message says why and what to do)."""


@dataclass(frozen=True)
class UploadedCorpus:
    """Documents of an uploaded file: ``docs`` maps id -> text; ``checksum`` keys caches."""

    name: str
    docs: dict[str, str]
    skipped: int
    checksum: str

    def __len__(self) -> int:
        return len(self.docs)


@dataclass
class QueryOutcome:
    """A search result plus notes for the user (query shortened, ...)."""

    result: SearchResult
    notes: list[str] = field(default_factory=list)


def _size(n: int) -> str:
    return f"{n / 1024 / 1024:.1f} MB" if n >= 1024 * 1024 else f"{n / 1024:.0f} KB"


def _decode(name: str, data: bytes) -> str:
    try:
        return data.decode("utf-8-sig")
    except UnicodeDecodeError as err:
        raise UploadError(
            f"{name} is not UTF-8 text (byte 0x{data[err.start]:02x} at position {err.start}); "
            "save it as UTF-8 and upload it again"
        ) from None


def _jsonl(name: str, lines: list[str]) -> list[tuple[str | None, str]]:
    def invalid(n: int, line: str, err: json.JSONDecodeError) -> UploadError:
        return UploadError(
            f"{name}, line {n}: not valid JSON ({err.msg}); expected one "
            '{"id": ..., "text": ...} object per line'
        )

    def not_object(n: int, line: str) -> UploadError:
        return UploadError(f'{name}, line {n}: expected a JSON object with a "text" field')

    out = []
    for n, _, obj in json_objects(enumerate(lines, 1), invalid, not_object):
        text = next((obj[k] for k in _TEXT_KEYS if k in obj), None)
        if not isinstance(text, str):
            raise UploadError(f'{name}, line {n}: no "text" string field')
        title = obj.get("title")
        if isinstance(title, str) and title.strip():
            text = f"{title}\n{text}"
        doc_id = next((obj[k] for k in _ID_KEYS if k in obj), None)
        out.append((None if doc_id is None else str(doc_id), text))
    return out


def _tsv(name: str, lines: list[str]) -> list[tuple[str | None, str]]:
    rows = [line.rstrip("\r") for line in lines if line.strip()]
    if rows and rows[0].lower().split("\t")[:2] in (
        ["id", "text"],
        ["_id", "text"],
        ["doc_id", "text"],
    ):
        rows = rows[1:]
    out = []
    for n, line in enumerate(rows, 1):
        parts = line.split("\t")
        if len(parts) == 1:
            out.append((None, parts[0]))
        elif len(parts) == 2:
            out.append((parts[0].strip(), parts[1]))
        else:
            raise UploadError(
                f"{name}, row {n}: {len(parts)} tab-separated fields; expected "
                "id<TAB>text or one text per line"
            )
    return out


def parse_corpus(
    name: str, data: bytes, max_bytes: int = 5 * 1024 * 1024, max_docs: int = 5000
) -> UploadedCorpus:
    """Check and parse an uploaded corpus file (see the module docstring).

    Raises
    ------
    UploadError
        Too large, not UTF-8, malformed, no documents, too many documents, duplicate ids.
    """
    name = PurePath(name or "upload").name
    if len(data) > max_bytes:
        raise UploadError(
            f"{name} is {_size(len(data))}; the limit is {_size(max_bytes)} "
            "(set OPTICAL_APP_MAX_UPLOAD_MB to raise it)"
        )
    text = _decode(name, data)
    if "\x00" in text:
        raise UploadError(
            f"{name} contains NUL characters: it looks like a binary file, not JSONL/TSV text"
        )
    lines = text.splitlines()
    first = next((line.strip() for line in lines if line.strip()), "")
    suffix = PurePath(name).suffix.lower()
    as_jsonl = suffix in (".jsonl", ".json", ".ndjson") or (
        suffix not in (".tsv", ".txt") and first.startswith("{")
    )
    items = _jsonl(name, lines) if as_jsonl else _tsv(name, lines)
    docs: dict[str, str] = {}
    skipped = 0
    for n, (doc_id, body) in enumerate(items, 1):
        doc_id = doc_id if doc_id else str(n)
        if not body.strip():
            skipped += 1
            continue
        if doc_id in docs:
            raise UploadError(f"{name}: document id {doc_id!r} appears twice; ids must be unique")
        docs[doc_id] = body.strip()
    if not docs:
        raise UploadError(
            f"{name} holds no document with text; expected JSONL "
            '({"id": ..., "text": ...} per line) or TSV (id<TAB>text per line)'
        )
    if len(docs) > max_docs:
        raise UploadError(
            f"{name} holds {len(docs):,} documents; the limit is {max_docs:,} "
            "(set OPTICAL_APP_MAX_UPLOAD_DOCS to raise it)"
        )
    checksum = hashlib.sha256(
        json.dumps(docs, ensure_ascii=False, sort_keys=False).encode()
    ).hexdigest()[:16]
    return UploadedCorpus(name, docs, skipped, checksum)


def build_memory_index(
    encoder,
    docs: Mapping[str, str],
    progress: Callable[[float, str], None] | None = None,
    chunk: int = 64,
) -> DenseIndex:
    """An in-memory flat index with a token store over ``docs`` (id -> text).

    Encodes ``chunk`` documents per model call (each under the app's model lock, so
    other sessions keep being served) and reports ``progress(fraction, message)``.
    """
    ids, texts = list(docs), list(docs.values())
    if not ids:
        raise ValueError("no documents to index")
    pooled = np.zeros((len(ids), encoder.hidden_size), dtype=np.float32)
    tokens: list[np.ndarray] = []
    for start in range(0, len(ids), chunk):
        with MODEL_LOCK:
            vecs, toks = encode_texts(
                encoder, texts[start : start + chunk], False, batch_size=chunk
            )
        pooled[start : start + len(vecs)] = vecs
        tokens += toks
        if progress is not None:
            done = min(len(ids), start + chunk)
            progress(done / len(ids), f"encoded {done:,} of {len(ids):,} documents")
    offsets = np.concatenate([[0], np.cumsum([len(t) for t in tokens])]).astype(np.int64)
    store = TokenStore(np.concatenate(tokens).astype(np.float16), offsets)
    with MODEL_LOCK:
        fingerprint = model_fingerprint(encoder)
    return DenseIndex.from_vectors(
        pooled, ids, model=encoder.name_or_path, fingerprint=fingerprint, tokens=store, texts=texts
    )


def _is_int(x: object) -> bool:
    return isinstance(x, numbers.Integral) and not isinstance(x, bool)


def prepare_query(text: object, max_chars: int = 2000) -> tuple[str, list[str]]:
    """A usable query and notes for the user; raises ValueError for an empty query."""
    if not (_is_int(max_chars) and max_chars >= 1):
        raise ValueError(f"max_chars must be an integer >= 1, got {max_chars!r}")
    if text is None:
        raise ValueError("empty query: type something to search for")
    if not isinstance(text, str):
        raise ValueError(f"the query must be text, got {type(text).__name__}")
    try:
        text = check_query(text)
    except ValueError as err:
        if str(err).startswith("empty query"):
            raise ValueError("empty query: type something to search for") from None
        raise
    if not any(unicodedata.category(ch)[0] not in "CZ" for ch in text):
        raise ValueError(
            "the query has no visible characters (only spaces, zero-width or control "
            "characters such as NUL): type something to search for"
        )
    notes = []
    if len(text) > max_chars:
        notes.append(
            f"the query has {len(text):,} characters; only its first {max_chars:,} are used "
            "(and the encoder reads at most its token limit)"
        )
        text = text[:max_chars]
    return text, notes


def search(
    retriever: Retriever, text: object, k: int = 10, mode: str = "pooled", max_chars: int = 2000
) -> QueryOutcome:
    """Rank the retriever's corpus for one query (MaxSim/OT: rerank of pooled candidates)."""
    if not (_is_int(k) and k >= 1):
        raise ValueError(f"k (results to show) must be an integer >= 1, got {k!r}")
    if mode not in MODES:
        raise ValueError(f"unknown mode {mode!r}; use one of {', '.join(MODES)}")
    query, notes = prepare_query(text, max_chars)
    k = min(int(k), len(retriever.index))  # more than the corpus holds: all of it
    if mode != "pooled" and retriever.index.tokens is None:
        raise ValueError(f"mode {mode!r} needs token vectors; this index has none")
    with MODEL_LOCK:
        result = retriever.search_one(
            query, k=k, mode=mode, exact=False if mode == "maxsim" else None
        )
    return QueryOutcome(result, notes)


def explain_hit(
    retriever: Retriever, query: str, doc_id: str, max_chars: int = 2000
) -> Explanation:
    """Token-level view of one hit: MaxSim matches and the OT plan (see :meth:`Retriever.explain`)."""
    query, _ = prepare_query(query, max_chars)
    with MODEL_LOCK:
        return retriever.explain(query, doc_id=doc_id)


def matches_frame(explanation: Explanation) -> pd.DataFrame:
    """MaxSim matches as a table: query token, best document token, cosine, OT mass share."""
    plan = explanation.ot_plan
    rows = []
    for i, (q, d, cos) in enumerate(explanation.matches()):
        j = int(explanation.maxsim_index[i])
        share = (
            float(plan[i, j] / plan[i].sum())
            if j >= 0 and plan.size and plan[i].sum() > 0
            else float("nan")
        )
        rows.append(
            {
                "query token": q,
                "best document token": d,
                "cosine": round(cos, 3),
                "OT mass share": round(share, 3),
            }
        )
    return pd.DataFrame(
        rows, columns=["query token", "best document token", "cosine", "OT mass share"]
    )


def index_ready(encoder, corpus, name: str) -> bool:
    """Is the cached index of ``corpus`` (with token vectors) already on disk?"""
    from optical.retrieval import index_cache_dir

    with MODEL_LOCK:
        folder = index_cache_dir(encoder, corpus, name)
    meta = folder / "index.json"
    if not meta.is_file():
        return False
    try:
        return bool(json.loads(meta.read_text(encoding="utf-8")).get("with_tokens"))
    except (OSError, ValueError):
        return False
