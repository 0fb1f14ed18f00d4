"""Dense document indexes: pooled vectors in FAISS, optional token store, cached on disk.

Folder layout (written atomically: a crash never leaves a half-built index that
looks valid)::

    index.json      model name, fingerprint, encoder settings, corpus checksum and
                    fingerprint, counts, FAISS kind and parameters, created-at, and
                    the size and SHA-256 of every other file (written last)
    vectors.faiss   pooled vectors (IndexFlatIP, IndexIVFFlat or IndexHNSWFlat)
    docs.jsonl      {"id", "text"} per document, in FAISS row order
    tokens.npy, offsets.npy   optional token store (see :mod:`.tokens`)

Scores are inner products of pooled vectors (cosine for normalising encoders).

:meth:`DenseIndex.load` re-hashes every file against ``index.json`` (about 0.2 s for the
Bible corpus with its token store) and, given the corpus being searched, refuses an index
built from other documents (:func:`corpus_fingerprint`: ids and texts, in any order).

Caching (:func:`corpus_index`): ``$OPTICAL_HOME/indexes/<name>-<fingerprint[:12]>-
<corpus checksum[:12]>[-<kind>]/``. The key depends on the *vectors* (model
fingerprint) and the *texts* (checksum over ids and texts, in order), never on the
system using them, so every system sharing a document encoder reuses one index.
"""

from __future__ import annotations

import datetime as _dt
import hashlib
import json
import math
import os
import re
from collections.abc import Iterable, Mapping, Sequence
from pathlib import Path
from typing import Any

import numpy as np

from optical.data.types import Document, RetrievalCollection
from optical.paths import atomic_dir, atomic_write_json, check_files, optical_home, record_files
from optical.retrieval.encoding import iter_encoded, token_counts
from optical.retrieval.fingerprint import model_fingerprint
from optical.retrieval.tokens import TokenStore

__all__ = [
    "DenseIndex",
    "TokenStore",
    "UnknownDocumentError",
    "corpus_checksum",
    "corpus_fingerprint",
    "corpus_index",
    "index_cache_dir",
    "make_faiss_index",
]

FORMAT_VERSION = 2  # 2: checksums of the files and the corpus fingerprint in index.json
KINDS = ("flat", "ivf", "hnsw")
META_FILE = "index.json"
FAISS_FILE = "vectors.faiss"
DOCS_FILE = "docs.jsonl"

CorpusLike = RetrievalCollection | Mapping[str, Document | str] | Sequence[Document]


def _faiss():
    import faiss

    return faiss


class UnknownDocumentError(KeyError, ValueError):
    """A document id that the index does not hold (a ``KeyError`` and a ``ValueError``)."""

    def __str__(self) -> str:
        return str(self.args[0]) if self.args else "unknown document id"


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


def _checksum(ids: Sequence[str], texts: Sequence[str]) -> str:
    h = hashlib.sha256(b"optical-corpus-v1\n")
    for doc_id, text in zip(ids, texts, strict=True):
        h.update(json.dumps([doc_id, text], ensure_ascii=False).encode())
        h.update(b"\n")
    return h.hexdigest()


def corpus_checksum(corpus: CorpusLike) -> str:
    """SHA-256 over the (id, encoded text) pairs in corpus order."""
    return _checksum(*corpus_items(corpus))


def _fingerprint(ids: Sequence[str], texts: Sequence[str]) -> str:
    order = sorted(range(len(ids)), key=lambda i: ids[i])
    return _checksum([ids[i] for i in order], [texts[i] for i in order])


def corpus_fingerprint(corpus: CorpusLike) -> str:
    """SHA-256 over the (id, encoded text) pairs sorted by id: the same documents in any order
    give the same fingerprint."""
    return _fingerprint(*corpus_items(corpus))


# --------------------------------------------------------------------------- FAISS


def _default_nlist(n: int) -> int:
    return int(min(max(1, round(4 * math.sqrt(n))), max(1, n)))


def make_faiss_index(vectors: np.ndarray, kind: str = "flat", params: dict[str, Any] | None = None):
    """A FAISS inner-product index of ``kind`` holding ``vectors``.

    Parameters
    ----------
    vectors : numpy.ndarray, shape (N, H), float32
    kind : {"flat", "ivf", "hnsw"}
    params : dict, optional
        ``nlist``/``nprobe``/``train_size`` (ivf) or ``hnsw_m``/``ef_construction``/
        ``ef_search`` (hnsw); updated in place with the values used.
    """
    params = {} if params is None else params
    faiss = _faiss()
    n, dim = vectors.shape
    if kind == "flat":
        index = faiss.IndexFlatIP(dim)
    elif kind == "ivf":
        nlist = int(params.get("nlist") or _default_nlist(n))
        if not 1 <= nlist <= max(1, n):
            raise ValueError(f"nlist must be in [1, {n}] for {n} documents, got {nlist}")
        quantizer = faiss.IndexFlatIP(dim)
        index = faiss.IndexIVFFlat(quantizer, dim, nlist, faiss.METRIC_INNER_PRODUCT)
        train_size = int(params.get("train_size") or min(n, 64 * nlist))
        rng = np.random.default_rng(0)
        sample = vectors if train_size >= n else vectors[rng.choice(n, train_size, replace=False)]
        index.cp.min_points_per_centroid = 1  # small corpora: no warning spam
        index.train(np.ascontiguousarray(sample))
        index.nprobe = int(params.get("nprobe") or min(nlist, 16))
        params.update(nlist=nlist, nprobe=int(index.nprobe), train_size=train_size)
    elif kind == "hnsw":
        m = int(params.get("hnsw_m") or 32)
        index = faiss.IndexHNSWFlat(dim, m, faiss.METRIC_INNER_PRODUCT)
        index.hnsw.efConstruction = int(params.get("ef_construction") or 80)
        index.hnsw.efSearch = int(params.get("ef_search") or 64)
        params.update(
            hnsw_m=m,
            ef_construction=int(index.hnsw.efConstruction),
            ef_search=int(index.hnsw.efSearch),
        )
    else:
        raise ValueError(f"unknown index kind {kind!r}; use one of {', '.join(KINDS)}")
    if n:
        index.add(np.ascontiguousarray(vectors, dtype=np.float32))
    return index


# --------------------------------------------------------------------------- index


class DenseIndex:
    """Pooled document vectors in FAISS, doc ids in row order, optional token store.

    Build with :meth:`build`, reopen with :meth:`load`, or get a cached one with
    :func:`corpus_index`. ``meta`` is what ``index.json`` holds.
    """

    def __init__(
        self,
        faiss_index,
        doc_ids: list[str],
        meta: dict[str, Any],
        tokens: TokenStore | None = None,
        texts: list[str] | None = None,
        path: Path | None = None,
    ) -> None:
        if faiss_index.ntotal != len(doc_ids):
            raise ValueError(
                f"FAISS index holds {faiss_index.ntotal} vectors but there are "
                f"{len(doc_ids)} document ids"
            )
        if tokens is not None and len(tokens) != len(doc_ids):
            raise ValueError(
                f"token store holds {len(tokens)} documents but there are {len(doc_ids)} ids"
            )
        self.faiss = faiss_index
        self.doc_ids = doc_ids
        self.meta = meta
        self.tokens = tokens
        self.texts = texts
        self.path = path
        self._positions: dict[str, int] | None = None
        self._direct_map = False

    # ---------------------------------------------------------------- basics
    def __len__(self) -> int:
        return len(self.doc_ids)

    def __repr__(self) -> str:
        return (
            f"DenseIndex(model={self.model_name!r}, kind={self.kind!r}, docs={len(self)}, "
            f"dim={self.dim}, tokens={'yes' if self.tokens is not None else 'no'}, "
            f"path={str(self.path) if self.path else None!r})"
        )

    @property
    def n_docs(self) -> int:
        return len(self.doc_ids)

    @property
    def dim(self) -> int:
        return int(self.faiss.d)

    @property
    def kind(self) -> str:
        return str(self.meta["kind"])

    @property
    def model_name(self) -> str:
        return str(self.meta["model"])

    @property
    def fingerprint(self) -> str:
        return str(self.meta["fingerprint"])

    @property
    def is_exact(self) -> bool:
        """True for ``flat`` (exhaustive search); IVF and HNSW are approximate."""
        return self.kind == "flat"

    def position(self, doc_id: str) -> int:
        """Row of ``doc_id``.

        Raises
        ------
        UnknownDocumentError
            Unknown id (a ``KeyError`` and ``ValueError``; the message gives an example id).
        """
        if self._positions is None:
            self._positions = {d: i for i, d in enumerate(self.doc_ids)}
        try:
            return self._positions[doc_id]
        except KeyError:
            example = f" (ids look like {self.doc_ids[0]!r})" if self.doc_ids else ""
            raise UnknownDocumentError(
                f"unknown document id {doc_id!r}: not among the {len(self)} documents of "
                f"this index{example}"
            ) from None

    def text(self, position: int) -> str:
        """The encoded text of the document at ``position``."""
        if self.texts is None:
            raise ValueError("this index does not store document texts")
        return self.texts[position]

    def vectors(self, positions: Sequence[int] | np.ndarray | None = None) -> np.ndarray:
        """Pooled vectors ``[B, H]`` float32 reconstructed from FAISS (all when None)."""
        if self.kind == "ivf" and not self._direct_map:
            self.faiss.make_direct_map()  # IVF lists are not addressable by id otherwise
            self._direct_map = True
        if positions is None:
            positions = range(len(self))
        positions = np.asarray(positions, dtype=np.int64).reshape(-1)
        if len(positions) == 0:
            return np.zeros((0, self.dim), np.float32)
        if np.array_equal(positions, np.arange(len(self))):
            return self.faiss.reconstruct_n(0, len(self))
        return np.stack([self.faiss.reconstruct(int(p)) for p in positions])

    def set_search_params(self, nprobe: int | None = None, ef_search: int | None = None) -> None:
        """Recall/speed knobs of the approximate kinds (IVF ``nprobe``, HNSW ``efSearch``)."""
        if nprobe is not None:
            if self.kind != "ivf":
                raise ValueError(f"nprobe applies to ivf indexes, this one is {self.kind}")
            self.faiss.nprobe = int(nprobe)
            self.meta["params"]["nprobe"] = int(nprobe)
        if ef_search is not None:
            if self.kind != "hnsw":
                raise ValueError(f"ef_search applies to hnsw indexes, this one is {self.kind}")
            self.faiss.hnsw.efSearch = int(ef_search)
            self.meta["params"]["ef_search"] = int(ef_search)

    def search(self, queries: np.ndarray, k: int) -> tuple[np.ndarray, np.ndarray]:
        """Raw FAISS search.

        Parameters
        ----------
        queries : numpy.ndarray, shape (B, H)
        k : int

        Returns
        -------
        scores : numpy.ndarray, shape (B, k'), float32
            Inner products, descending; ``k' = min(k, n_docs)``.
        positions : numpy.ndarray, shape (B, k'), int64
            Document rows (``-1`` where an approximate index found fewer than k').
        """
        queries = np.ascontiguousarray(queries, dtype=np.float32)
        if queries.ndim != 2 or queries.shape[1] != self.dim:
            raise ValueError(f"queries must have shape (B, {self.dim}), got {queries.shape}")
        k = min(int(k), len(self))
        if k < 1 or len(queries) == 0:
            return np.zeros((len(queries), 0), np.float32), np.zeros((len(queries), 0), np.int64)
        scores, positions = self.faiss.search(queries, k)
        return scores, positions

    def check_encoder(self, encoder, role: str = "query") -> None:
        """Raise ``ValueError`` unless ``encoder`` produced this index's vectors."""
        fp = model_fingerprint(encoder)
        if fp != self.fingerprint:
            where = f" at {self.path}" if self.path else ""
            raise ValueError(
                f"index{where} built with model {self.model_name} (fingerprint "
                f"{self.fingerprint[:12]}), refusing to {role} it with "
                f"{encoder.name_or_path} (fingerprint {fp[:12]}): the vectors would not be "
                "comparable; rebuild the index with this model"
            )

    def check_corpus(self, corpus: CorpusLike, label: str | None = None) -> None:
        """Raise ``ValueError`` unless this index holds exactly the documents of ``corpus``
        (same ids, same encoded texts; order does not matter)."""
        ids, texts = corpus_items(corpus)
        recorded = self.meta.get("corpus_fingerprint")
        if recorded is not None and recorded == _fingerprint(ids, texts):
            return
        if recorded is None and self.texts is None and sorted(ids) == sorted(self.doc_ids):
            return  # an in-memory index without texts: the ids are all there is to compare
        mine = dict(zip(self.doc_ids, self.texts or [None] * len(self), strict=True))
        theirs = dict(zip(ids, texts, strict=True))
        only_index = sum(1 for d in mine if d not in theirs)
        only_corpus = sum(1 for d in theirs if d not in mine)
        changed = sum(1 for d, t in theirs.items() if d in mine and mine[d] != t)
        where = f" at {self.path}" if self.path else ""
        what = label or "the corpus being searched"
        raise ValueError(
            f"index{where} was built from another corpus than {what}: {only_index} of its "
            f"{len(mine)} documents are not in {what}, {only_corpus} of the {len(theirs)} "
            f"documents of {what} are not in the index, {changed} texts differ; rebuild the "
            "index from this corpus (`optical encode`) or search without --index"
        )

    # -------------------------------------------------------------- building
    @classmethod
    def from_vectors(
        cls,
        vectors: np.ndarray,
        doc_ids: Sequence[str],
        kind: str = "flat",
        model: str = "",
        fingerprint: str = "",
        tokens: TokenStore | None = None,
        texts: list[str] | None = None,
        **params: Any,
    ) -> DenseIndex:
        """An in-memory index over precomputed pooled vectors ``[N, H]`` (benchmarks, tests)."""
        params = dict(params)
        index = make_faiss_index(np.ascontiguousarray(vectors, dtype=np.float32), kind, params)
        meta = {
            "format_version": FORMAT_VERSION,
            "model": model,
            "fingerprint": fingerprint,
            "corpus_fingerprint": (
                _fingerprint(list(doc_ids), texts) if texts is not None else None
            ),
            "n_docs": len(doc_ids),
            "dim": int(vectors.shape[1]),
            "kind": kind,
            "params": params,
            "with_tokens": tokens is not None,
        }
        return cls(index, list(doc_ids), meta, tokens, texts)

    @classmethod
    def build(
        cls,
        encoder,
        corpus: CorpusLike,
        path: str | os.PathLike[str] | None = None,
        kind: str = "flat",
        with_tokens: bool = False,
        batch_size: int = 64,
        progress: bool = True,
        **params: Any,
    ) -> DenseIndex:
        """Encode ``corpus`` (one forward pass per batch) and index it.

        Parameters
        ----------
        encoder : optical.encoders.Encoder
            The document encoder (``is_query=False``: its document prefix is used).
        corpus : RetrievalCollection, mapping id -> Document/str, or sequence of Document
            Document text = ``Document.full_text()`` (title, newline, text).
        path : path, optional
            Save here (atomically). ``None`` keeps everything in memory.
        kind : {"flat", "ivf", "hnsw"}
            ``flat`` = exact ``IndexFlatIP`` (default); ``ivf`` (params ``nlist``,
            ``nprobe``, ``train_size``) and ``hnsw`` (``hnsw_m``, ``ef_construction``,
            ``ef_search``) are approximate, for large corpora.
        with_tokens : bool
            Also keep every document's content-token vectors (float16) for MaxSim/OT.
        batch_size : int
        progress : bool
            tqdm progress bar.

        Returns
        -------
        DenseIndex
        """
        if kind not in KINDS:
            raise ValueError(f"unknown index kind {kind!r}; use one of {', '.join(KINDS)}")
        ids, texts = corpus_items(corpus)
        if path is None:
            return cls._build(
                encoder, ids, texts, None, kind, with_tokens, batch_size, progress, params
            )
        path = Path(path)
        with atomic_dir(path) as tmp:
            index = cls._build(
                encoder, ids, texts, tmp, kind, with_tokens, batch_size, progress, params
            )
            index._write(tmp)
            del index  # release the memory map inside tmp before the swap
        return cls.load(path)

    @classmethod
    def _build(
        cls,
        encoder,
        ids: list[str],
        texts: list[str],
        folder: Path | None,
        kind: str,
        with_tokens: bool,
        batch_size: int,
        progress: bool,
        params: dict[str, Any],
    ) -> DenseIndex:
        dim = encoder.hidden_size
        lengths, content = token_counts(encoder, texts, is_query=False)
        offsets = np.concatenate([[0], np.cumsum(content)]).astype(np.int64)
        pooled = np.zeros((len(texts), dim), dtype=np.float32)
        store = TokenStore.allocate(folder, int(offsets[-1]) if with_tokens else 0, dim)
        for batch in iter_encoded(
            encoder, texts, False, batch_size, with_tokens, lengths, progress, "encoding corpus"
        ):
            pooled[batch.index] = batch.pooled
            if not with_tokens:
                continue
            if not np.array_equal(batch.counts, content[batch.index]):
                raise RuntimeError("internal error: token counts changed between tokenisations")
            start = 0
            for i, n in zip(batch.index, batch.counts, strict=True):
                store[offsets[i] : offsets[i + 1]] = batch.tokens[start : start + n]
                start += n
        params = dict(params)
        index = make_faiss_index(pooled, kind, params)
        meta = {
            "format_version": FORMAT_VERSION,
            "model": encoder.name_or_path,
            "fingerprint": model_fingerprint(encoder),
            "encoder": encoder.settings(),
            "corpus_checksum": _checksum(ids, texts),
            "corpus_fingerprint": _fingerprint(ids, texts),
            "n_docs": len(ids),
            "dim": dim,
            "kind": kind,
            "params": params,
            "with_tokens": with_tokens,
            "n_tokens": int(offsets[-1]) if with_tokens else 0,
            "token_dtype": "float16" if with_tokens else None,
            "created_at": _dt.datetime.now(_dt.UTC).isoformat(timespec="seconds"),
            "faiss_version": _faiss().__version__,
        }
        tokens = TokenStore(store, offsets) if with_tokens else None
        return cls(index, ids, meta, tokens, texts, folder)

    # ------------------------------------------------------------ save / load
    def _write(self, folder: Path) -> None:
        faiss = _faiss()
        faiss.write_index(self.faiss, str(folder / FAISS_FILE))
        with open(folder / DOCS_FILE, "w", encoding="utf-8", newline="\n") as fh:
            texts = self.texts if self.texts is not None else [""] * len(self)
            for doc_id, text in zip(self.doc_ids, texts, strict=True):
                fh.write(json.dumps({"id": doc_id, "text": text}, ensure_ascii=False) + "\n")
        if self.tokens is not None:
            self.tokens.save(folder)
        self.meta["files"] = record_files(folder, exclude=(META_FILE,))
        atomic_write_json(folder / META_FILE, self.meta)  # last: marks the folder complete

    def save(self, path: str | os.PathLike[str]) -> Path:
        """Write the index to ``path`` (replacing any index there, atomically)."""
        path = Path(path)
        with atomic_dir(path) as tmp:
            self._write(tmp)
        self.path = path
        if self.tokens is not None:
            self.tokens = TokenStore.load(path)
        return path

    @classmethod
    def load(
        cls,
        path: str | os.PathLike[str],
        encoder=None,
        mmap_tokens: bool = True,
        corpus: CorpusLike | None = None,
        corpus_label: str | None = None,
    ) -> DenseIndex:
        """Open a saved index, after checking every file against its recorded checksum.

        Parameters
        ----------
        path : path
            The index folder.
        encoder : optical.encoders.Encoder, optional
            When given, its fingerprint must match the index's.
        mmap_tokens : bool
            Memory-map the token store (default) instead of reading it into memory.
        corpus : RetrievalCollection, mapping or sequence of Document, optional
            The documents the index is meant to hold (the dataset being searched): refused
            unless the index was built from exactly these ids and texts.
        corpus_label : str, optional
            How to name ``corpus`` in the error message (e.g. ``bible:sw``).

        Raises
        ------
        FileNotFoundError
            Not an index folder (no ``index.json``) or a file is missing.
        ValueError
            Corrupt or inconsistent files (a checksum differs), an index of another
            corpus, or ``encoder`` has another fingerprint.
        """
        path = Path(path)
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
        index = _faiss().read_index(str(path / FAISS_FILE))
        tokens = TokenStore.load(path, mmap=mmap_tokens) if meta.get("with_tokens") else None
        if len(ids) != meta["n_docs"]:
            raise ValueError(
                f"{path}: {len(ids)} documents listed, index.json says {meta['n_docs']}"
            )
        out = cls(index, ids, meta, tokens, texts, path)
        if corpus is not None:
            out.check_corpus(corpus, corpus_label)
        if encoder is not None:
            out.check_encoder(encoder)
        return out

    def nbytes(self) -> dict[str, int]:
        """On-disk sizes in bytes: ``pooled`` (FAISS file) and ``tokens`` (token store)."""
        if self.path is None:
            pooled = len(self) * self.dim * 4
        else:
            pooled = (self.path / FAISS_FILE).stat().st_size
        return {"pooled": int(pooled), "tokens": self.tokens.nbytes() if self.tokens else 0}


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


# --------------------------------------------------------------------------- cache

_UNSAFE = re.compile(r"[^A-Za-z0-9._-]+")


def index_cache_dir(encoder, corpus: CorpusLike, name: str, kind: str = "flat") -> Path:
    """``$OPTICAL_HOME/indexes/<name>-<fingerprint[:12]>-<checksum[:12]>[-<kind>]``."""
    safe = _UNSAFE.sub("-", name).strip("-.") or "corpus"
    key = f"{safe}-{model_fingerprint(encoder)[:12]}-{corpus_checksum(corpus)[:12]}"
    if kind != "flat":
        key += f"-{kind}"
    return optical_home() / "indexes" / key


def corpus_index(
    encoder,
    corpus: CorpusLike,
    name: str,
    with_tokens: bool = False,
    kind: str = "flat",
    batch_size: int = 64,
    progress: bool = True,
    **params: Any,
) -> DenseIndex:
    """The cached index of ``corpus`` under ``encoder``, built on first use.

    An existing cached index is reused when its files match their checksums and it
    holds exactly ``corpus``; a corrupt one, one of an older format, or one without a
    token store when ``with_tokens`` is requested is rebuilt (replaced atomically). See
    the module docstring for the cache key.
    """
    folder = index_cache_dir(encoder, corpus, name, kind)
    if (folder / META_FILE).is_file():
        try:
            index = DenseIndex.load(folder, encoder=encoder, corpus=corpus)
        except (ValueError, FileNotFoundError, OSError, RuntimeError):
            index = None  # corrupt or from an old format: rebuild
        if index is not None and (index.tokens is not None or not with_tokens):
            return index
    return DenseIndex.build(
        encoder,
        corpus,
        path=folder,
        kind=kind,
        with_tokens=with_tokens,
        batch_size=batch_size,
        progress=progress,
        **params,
    )
