"""Teacher outputs computed once per (teacher, texts, side) and kept on disk.

The teacher is frozen, so its token vectors and pooled vectors for a bitext set
never change: they are computed in one pass (:func:`optical.encoders.encoded_batches`:
no grad, length-bucketed) and stored as a :class:`~optical.retrieval.tokens.TokenStore`
under ``$OPTICAL_HOME/teacher_cache/<key>/`` (token vectors in fp16, memory-mapped;
pooled vectors beside them; a checksummed ``manifest.json`` written last). The training
loop then never runs the teacher (as in sentence-transformers' multilingual distillation
example).

A folder that fails its checks (absent, half-written, built by an older optical without
checksums, or a file modified since) is recomputed. Folders written before the cache
moved onto the token store have the same files and manifest, and are read as they are.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass

import numpy as np
import torch
from torch import Tensor

from optical.encoders import Encoder, encoded_batches, mean_pool
from optical.paths import optical_home
from optical.retrieval.tokens import TokenStore

__all__ = ["TeacherOutputs", "teacher_outputs"]

CACHE_FOLDER = "teacher_cache"  # under $OPTICAL_HOME


@dataclass
class TeacherOutputs:
    """Per-text teacher vectors, held in a :class:`TokenStore`: content tokens (fp16,
    ragged) and mean-pooled vectors (fp32, before L2 normalisation; the objectives
    normalise where they need to)."""

    store: TokenStore

    @property
    def tokens(self) -> np.ndarray:
        """[T, H] float16, all texts' content tokens concatenated."""
        return self.store.vectors

    @property
    def offsets(self) -> np.ndarray:
        """[n + 1] int64: text i owns token rows offsets[i]:offsets[i + 1]."""
        return self.store.offsets

    @property
    def pooled(self) -> np.ndarray:
        """[n, H] float32, raw mean over the attention mask."""
        return self.store.pooled

    def __len__(self) -> int:
        return len(self.store)

    def token_batch(self, idx: list[int], device: torch.device | str) -> tuple[Tensor, Tensor]:
        """Padded token vectors [B, m, H] (fp32) and their mask [B, m] for texts ``idx``."""
        tokens, mask = self.store.gather(idx)
        return torch.from_numpy(tokens).to(device), torch.from_numpy(mask).to(device)

    def pooled_batch(self, idx: list[int], device: torch.device | str) -> Tensor:
        return torch.from_numpy(np.ascontiguousarray(self.pooled[idx])).to(device)

    def sample_tokens(self, n: int = 20000, seed: int = 0) -> Tensor:
        """Up to ``n`` token vectors drawn uniformly (for fitting the geometry)."""
        total = len(self.tokens)
        rng = np.random.default_rng(seed)
        pick = np.sort(rng.choice(total, size=min(n, total), replace=False))
        return torch.from_numpy(self.tokens[pick].astype(np.float32))


def _cache_key(teacher: Encoder, texts: list[str], is_query: bool, max_length: int) -> str:
    from optical.retrieval.fingerprint import model_fingerprint

    h = hashlib.sha256()
    h.update(model_fingerprint(teacher).encode())
    h.update(json.dumps({"is_query": is_query, "max_length": max_length, "format": 2}).encode())
    for t in texts:
        h.update(t.encode("utf-8"))
        h.update(b"\0")
    return h.hexdigest()[:24]


def _compute(teacher: Encoder, texts: list[str], is_query: bool, max_length: int, batch_size: int,
             progress: bool) -> TokenStore:
    pooled = np.zeros((len(texts), teacher.hidden_size), dtype=np.float32)
    per_text: list[np.ndarray] = [np.zeros((0, teacher.hidden_size), np.float16)] * len(texts)
    for idx, out in encoded_batches(teacher, texts, is_query, batch_size, max_length=max_length,
                                    progress=progress, desc="teacher outputs", leave=False):
        pooled[idx] = mean_pool(out.hidden.float(), out.attention_mask).cpu().numpy()
        hidden = out.hidden.float().cpu().numpy()
        keep = out.content_mask.cpu().numpy()
        for row, i in enumerate(idx):
            per_text[i] = hidden[row][keep[row]].astype(np.float16)
    offsets = np.zeros(len(texts) + 1, dtype=np.int64)
    offsets[1:] = np.cumsum([len(t) for t in per_text])
    tokens = np.concatenate(per_text) if texts else np.zeros((0, teacher.hidden_size), np.float16)
    return TokenStore(tokens, offsets, pooled)


def teacher_outputs(
    teacher: Encoder,
    texts: list[str],
    is_query: bool,
    max_length: int | None = None,
    batch_size: int = 64,
    progress: bool = True,
    cache: bool = True,
) -> TeacherOutputs:
    """Teacher vectors for ``texts`` (with the query or document prefix, truncated to
    ``max_length`` tokens; default the teacher's), cached on disk."""
    max_length = max_length or teacher.max_length
    if not cache:
        return TeacherOutputs(_compute(teacher, texts, is_query, max_length, batch_size, progress))
    folder = optical_home() / CACHE_FOLDER / _cache_key(teacher, texts, is_query, max_length)
    built_with = {"texts": len(texts), "teacher": teacher.name_or_path}
    store = TokenStore.open_verified(folder, built_with)
    if store is None:  # absent, half-written, older format or corrupt: (re)compute
        _compute(teacher, texts, is_query, max_length, batch_size, progress).save_verified(
            folder, built_with
        )
        store = TokenStore.load(folder)
    return TeacherOutputs(store)
