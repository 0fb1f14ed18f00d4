"""Teacher outputs computed once per (teacher, texts, side) and kept on disk.

The teacher is frozen, so its token vectors and pooled vectors for a bitext set
never change: they are computed in one pass (no grad, length-bucketed) and stored
under ``$OPTICAL_HOME/teacher_cache/<key>/`` (token vectors in fp16, memory-mapped).
The training loop then never runs the teacher (as in sentence-transformers'
multilingual distillation example).
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch
from torch import Tensor

from optical.assets.manifest import MANIFEST_NAME, entry_state
from optical.encoders import Encoder, mean_pool
from optical.paths import atomic_dir, optical_home, record_files

__all__ = ["TeacherOutputs", "teacher_outputs"]


@dataclass
class TeacherOutputs:
    """Per-text teacher vectors: content tokens (fp16, ragged) and mean-pooled vectors
    (fp32, before L2 normalisation; the objectives normalise where they need to)."""

    tokens: np.ndarray  # [T, H] float16, all texts' content tokens concatenated
    offsets: np.ndarray  # [n + 1] int64
    pooled: np.ndarray  # [n, H] float32, raw mean over the attention mask

    def __len__(self) -> int:
        return len(self.pooled)

    def token_batch(self, idx: list[int], device: torch.device | str) -> tuple[Tensor, Tensor]:
        """Padded token vectors [B, m, H] (fp32) and their mask [B, m] for texts ``idx``."""
        lengths = [int(self.offsets[i + 1] - self.offsets[i]) for i in idx]
        m = max(max(lengths), 1)
        out = np.zeros((len(idx), m, self.tokens.shape[1]), dtype=np.float32)
        mask = np.zeros((len(idx), m), dtype=bool)
        for row, (i, n) in enumerate(zip(idx, lengths, strict=True)):
            out[row, :n] = self.tokens[self.offsets[i] : self.offsets[i] + n]
            mask[row, :n] = True
        return torch.from_numpy(out).to(device), torch.from_numpy(mask).to(device)

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


def _compute(teacher: Encoder, texts: list[str], is_query: bool, max_length: int, batch_size: int, progress: bool):
    pooled = np.zeros((len(texts), teacher.hidden_size), dtype=np.float32)
    per_text: list[np.ndarray] = [np.zeros((0, teacher.hidden_size), np.float16)] * len(texts)
    for idx, out in teacher._batches(texts, is_query, batch_size, progress, "teacher outputs", max_length):
        pooled[idx] = mean_pool(out.hidden.float(), out.attention_mask).cpu().numpy()
        hidden = out.hidden.float().cpu().numpy()
        keep = out.content_mask.cpu().numpy()
        for row, i in enumerate(idx):
            per_text[i] = hidden[row][keep[row]].astype(np.float16)
    offsets = np.zeros(len(texts) + 1, dtype=np.int64)
    offsets[1:] = np.cumsum([len(t) for t in per_text])
    tokens = np.concatenate(per_text) if texts else np.zeros((0, teacher.hidden_size), np.float16)
    return tokens, offsets, pooled


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
        return TeacherOutputs(*_compute(teacher, texts, is_query, max_length, batch_size, progress))
    folder = optical_home() / "teacher_cache" / _cache_key(teacher, texts, is_query, max_length)
    built_with = {"texts": len(texts), "teacher": teacher.name_or_path}
    if entry_state(folder, built_with)[0] != "ok":  # absent, half-written, older format or corrupt
        tokens, offsets, pooled = _compute(teacher, texts, is_query, max_length, batch_size, progress)
        with atomic_dir(folder) as tmp:
            np.save(tmp / "tokens.npy", tokens)
            np.save(tmp / "offsets.npy", offsets)
            np.save(tmp / "pooled.npy", pooled)
            manifest = {"settings": built_with, "files": record_files(tmp)}  # written last
            (tmp / MANIFEST_NAME).write_text(json.dumps(manifest))
    return TeacherOutputs(
        np.load(folder / "tokens.npy", mmap_mode="r"),
        np.load(folder / "offsets.npy"),
        np.load(folder / "pooled.npy"),
    )


def cache_dir() -> Path:
    return optical_home() / "teacher_cache"
