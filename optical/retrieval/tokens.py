"""Token vectors of every document in one float16 array, read memory-mapped.

Layout of a token store folder::

    tokens.npy    float16 [T, H]   content-token vectors (the index's are L2-normalised
                                   before rounding; the teacher cache's are raw)
    offsets.npy   int64   [N + 1]  document i owns rows offsets[i]:offsets[i+1]
    pooled.npy    float32 [N, H']  optional: one pooled vector per document (the teacher
                                   cache keeps its targets here; an index keeps its pooled
                                   vectors in FAISS and has no such file)

The token files are opened with ``np.load(mmap_mode="r")``: only the rows a query
touches are read from disk.

A store that is a folder of its own (the teacher cache) is written with
:meth:`TokenStore.save_verified`: atomically, with a ``manifest.json`` written last that
holds the build settings and a size + SHA-256 record of every file
(:func:`optical.paths.record_files`); :meth:`TokenStore.open_verified` checks them
(:func:`optical.paths.check_files`) before opening it. An index folder records the
store's files in its own ``index.json`` instead (:mod:`.index_format`).
"""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

import numpy as np
import torch

from optical.assets.manifest import MANIFEST_NAME, entry_state
from optical.paths import atomic_dir, record_files

__all__ = ["TokenStore"]

TOKENS_FILE = "tokens.npy"
OFFSETS_FILE = "offsets.npy"
POOLED_FILE = "pooled.npy"


def _float32(a: np.ndarray) -> np.ndarray:
    """float16 -> float32 through torch (several times faster than numpy's ``astype``)."""
    if a.dtype == np.float32:
        return a
    if a.dtype == np.float16:
        return torch.from_numpy(np.ascontiguousarray(a)).float().numpy()
    return np.asarray(a, dtype=np.float32)


class TokenStore:
    """Per-document token vectors ``[n_i, H]`` addressed by document position.

    Parameters
    ----------
    vectors : numpy.ndarray, shape (T, H)
        All token vectors, float16 (a memory map or an in-memory array).
    offsets : numpy.ndarray, shape (N + 1,), int64
        Row boundaries: ``offsets[0] == 0``, non-decreasing, ``offsets[-1] == T``.
    pooled : numpy.ndarray, shape (N, H'), optional
        One pooled vector per document, kept (and saved) beside the tokens.
    """

    def __init__(
        self, vectors: np.ndarray, offsets: np.ndarray, pooled: np.ndarray | None = None
    ) -> None:
        offsets = np.asarray(offsets, dtype=np.int64)
        if vectors.ndim != 2:
            raise ValueError(f"token vectors must be 2-D [T, H], got shape {vectors.shape}")
        if offsets.ndim != 1 or offsets.size < 1 or offsets[0] != 0:
            raise ValueError("offsets must be a 1-D array starting at 0")
        if offsets[-1] != vectors.shape[0] or np.any(np.diff(offsets) < 0):
            raise ValueError(
                f"offsets must be non-decreasing and end at the number of token rows "
                f"({vectors.shape[0]}), got last offset {int(offsets[-1])}"
            )
        if pooled is not None and (pooled.ndim != 2 or len(pooled) != len(offsets) - 1):
            raise ValueError(
                f"pooled vectors must be 2-D with one row per document ({len(offsets) - 1}), "
                f"got shape {pooled.shape}"
            )
        self.vectors = vectors
        self.offsets = offsets
        self.pooled = pooled
        self.lengths = np.diff(offsets)

    def __len__(self) -> int:
        return len(self.offsets) - 1

    @property
    def dim(self) -> int:
        return int(self.vectors.shape[1])

    @property
    def n_tokens(self) -> int:
        return int(self.vectors.shape[0])

    def get(self, i: int) -> np.ndarray:
        """Token vectors of document ``i``: ``[n_i, H]`` float32."""
        if not -len(self) <= i < len(self):
            raise IndexError(f"document position {i} out of range for {len(self)} documents")
        i = int(i) % len(self)
        return _float32(np.array(self.vectors[self.offsets[i] : self.offsets[i + 1]]))

    def _rows(self, positions: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Token rows of ``positions`` concatenated, and each row's document (0..B-1)."""
        lengths = self.lengths[positions]
        total = int(lengths.sum())
        doc = np.repeat(np.arange(len(positions), dtype=np.int64), lengths)
        first = np.repeat(np.cumsum(lengths) - lengths, lengths)
        rows = np.repeat(self.offsets[positions], lengths) + (np.arange(total) - first)
        return rows, doc

    def gather_packed(
        self, positions: np.ndarray | list[int], as_float32: bool = True
    ) -> tuple[np.ndarray, np.ndarray]:
        """Token vectors of several documents, concatenated without padding.

        Parameters
        ----------
        positions : array of int, shape (B,)
        as_float32 : bool
            Convert to float32 (default); False returns the stored dtype (float16).

        Returns
        -------
        tokens : numpy.ndarray, shape (T, H), float32
            ``T = sum of the B documents' lengths``, document by document.
        doc_index : numpy.ndarray, shape (T,), int64
            Which of the B documents (0..B-1) each row belongs to.
        """
        positions = np.asarray(positions, dtype=np.int64).reshape(-1)
        rows, doc = self._rows(positions)
        if len(positions) and positions.max() < len(self) and np.all(np.diff(positions) == 1):
            start, stop = self.offsets[positions[0]], self.offsets[positions[-1] + 1]
            tokens = np.array(self.vectors[start:stop])  # a contiguous slice
        else:
            tokens = np.asarray(self.vectors[rows])
        return (_float32(tokens) if as_float32 else tokens), doc

    def gather(self, positions: np.ndarray | list[int]) -> tuple[np.ndarray, np.ndarray]:
        """Padded token vectors of several documents, without a Python loop.

        Parameters
        ----------
        positions : array of int, shape (B,)

        Returns
        -------
        tokens : numpy.ndarray, shape (B, m, H), float32
            ``m`` is the longest of the B documents (at least 1); padding rows are 0.
        mask : numpy.ndarray, shape (B, m), bool
            True at real tokens.
        """
        positions = np.asarray(positions, dtype=np.int64).reshape(-1)
        lengths = self.lengths[positions]
        width = max(int(lengths.max()) if len(lengths) else 0, 1)
        mask = np.arange(width)[None, :] < lengths[:, None]
        tokens = np.zeros((len(positions), width, self.dim), dtype=np.float32)
        rows, _ = self._rows(positions)
        tokens[mask] = _float32(self.vectors[rows])  # row-major mask order = doc by doc
        return tokens, mask

    # ------------------------------------------------------------------ files
    @staticmethod
    def allocate(folder: str | os.PathLike[str] | None, n_tokens: int, dim: int) -> np.ndarray:
        """A writable float16 ``[n_tokens, H]`` array: a new ``tokens.npy`` in ``folder``
        (memory-mapped, for large corpora) or in memory when ``folder`` is None."""
        if folder is None:
            return np.zeros((n_tokens, dim), dtype=np.float16)
        return np.lib.format.open_memmap(
            Path(folder) / TOKENS_FILE, mode="w+", dtype=np.float16, shape=(n_tokens, dim)
        )

    def save(self, folder: str | os.PathLike[str]) -> None:
        """Write ``tokens.npy``, ``offsets.npy`` (and ``pooled.npy`` when the store has
        pooled vectors) into ``folder`` (which must exist)."""
        folder = Path(folder)
        target = folder / TOKENS_FILE
        if not (isinstance(self.vectors, np.memmap) and Path(self.vectors.filename) == target):
            np.save(target, np.ascontiguousarray(self.vectors, dtype=np.float16))
        elif isinstance(self.vectors, np.memmap):
            self.vectors.flush()
        np.save(folder / OFFSETS_FILE, self.offsets)
        if self.pooled is not None:
            np.save(folder / POOLED_FILE, np.ascontiguousarray(self.pooled))

    @classmethod
    def load(cls, folder: str | os.PathLike[str], mmap: bool = True) -> TokenStore:
        """Open a store written by :meth:`save` (token vectors memory-mapped by default;
        offsets and pooled vectors, when saved, read into memory)."""
        folder = Path(folder)
        for name in (TOKENS_FILE, OFFSETS_FILE):
            if not (folder / name).is_file():
                raise FileNotFoundError(f"{folder / name}: token store file missing")
        vectors = np.load(folder / TOKENS_FILE, mmap_mode="r" if mmap else None)
        offsets = np.load(folder / OFFSETS_FILE)
        pooled = np.load(folder / POOLED_FILE) if (folder / POOLED_FILE).is_file() else None
        return cls(vectors, offsets, pooled)

    def save_verified(self, folder: str | os.PathLike[str], settings: dict[str, Any]) -> None:
        """Write the store as a folder of its own, atomically (an existing ``folder`` is
        replaced once the new one is complete), with ``manifest.json`` last: ``settings``
        (what the vectors were built from) and a size + SHA-256 record of every file."""
        with atomic_dir(folder) as tmp:
            self.save(tmp)
            manifest = {"settings": settings, "files": record_files(tmp)}  # written last
            (tmp / MANIFEST_NAME).write_text(json.dumps(manifest))

    @classmethod
    def verified_state(
        cls, folder: str | os.PathLike[str], settings: dict[str, Any]
    ) -> tuple[str, str]:
        """``(state, why)`` of a folder written by :meth:`save_verified`: ``"ok"``,
        ``"missing"`` (absent or half-written), ``"stale"`` (other ``settings``, or no
        checksums) or ``"corrupt"`` (a file differs from its record)."""
        return entry_state(Path(folder), settings)

    @classmethod
    def open_verified(
        cls, folder: str | os.PathLike[str], settings: dict[str, Any], mmap: bool = True
    ) -> TokenStore | None:
        """The store :meth:`save_verified` wrote to ``folder`` with these ``settings``, after
        checking every file against the manifest; ``None`` when :meth:`verified_state` is
        not ``"ok"`` (a cache then rebuilds it)."""
        if cls.verified_state(folder, settings)[0] != "ok":
            return None
        return cls.load(folder, mmap=mmap)

    def nbytes(self) -> int:
        """Bytes of the vectors and offsets (and pooled vectors, when there are any)."""
        pooled = 0 if self.pooled is None else self.pooled.nbytes
        return int(self.vectors.nbytes + self.offsets.nbytes + pooled)
