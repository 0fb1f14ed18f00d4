"""Dense document indexes: pooled vectors in FAISS, optional token store.

Scores are inner products of pooled vectors (cosine for normalising encoders).

- :class:`DenseIndex` — build (one forward pass per batch), save, load, search, checks.
- The folder it saves (``index.json``, ``vectors.faiss``, ``docs.jsonl``, token store),
  the file checksums and the corpus fingerprint live in :mod:`.index_format`; the FAISS
  kinds in :mod:`.faiss_backends`; the on-demand cache (:func:`~.index_cache.corpus_index`)
  in :mod:`.index_cache`.

:meth:`DenseIndex.load` re-hashes every file against ``index.json`` and, given the corpus
being searched, refuses an index built from other documents
(:func:`~.index_format.corpus_fingerprint`: ids and texts, in any order).
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np

from optical.paths import atomic_dir
from optical.retrieval.encoding import iter_encoded, token_counts
from optical.retrieval.faiss_backends import KINDS, make_faiss_index
from optical.retrieval.fingerprint import model_fingerprint
from optical.retrieval.index_format import (
    FAISS_FILE,
    FORMAT_VERSION,
    CorpusLike,
    built_index_meta,
    check_corpus_match,
    corpus_items,
    items_fingerprint,
    read_index_folder,
    write_index_folder,
)
from optical.retrieval.tokens import TokenStore

__all__ = ["DenseIndex", "UnknownDocumentError"]


class UnknownDocumentError(KeyError, ValueError):
    """A document id that the index does not hold (a ``KeyError`` and a ``ValueError``)."""

    def __str__(self) -> str:
        return str(self.args[0]) if self.args else "unknown document id"


class DenseIndex:
    """Pooled document vectors in FAISS, doc ids in row order, optional token store.

    Build with :meth:`build`, reopen with :meth:`load`, or get a cached one with
    :func:`~.index_cache.corpus_index`. ``meta`` is what ``index.json`` holds.
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
        check_corpus_match(
            self.doc_ids, self.texts, self.meta.get("corpus_fingerprint"), self.path, corpus, label
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
                items_fingerprint(list(doc_ids), texts) if texts is not None else None
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
        n_tokens = int(offsets[-1]) if with_tokens else 0
        meta = built_index_meta(encoder, ids, texts, kind, params, with_tokens, n_tokens)
        tokens = TokenStore(store, offsets) if with_tokens else None
        return cls(index, ids, meta, tokens, texts, folder)

    # ------------------------------------------------------------ save / load
    def _write(self, folder: Path) -> None:
        write_index_folder(folder, self.faiss, self.doc_ids, self.texts, self.tokens, self.meta)

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
        index, ids, texts, meta, tokens = read_index_folder(path, mmap_tokens)
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
