"""Training examples and their order: which texts each side sees, and deterministic,
length-bucketed batches that shard across processes."""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from optical.data.beir import load_beir
from optical.data.types import Bitext
from optical.dataset_loading import load_bitext, load_collection
from optical.dataset_spec import DatasetSpec

__all__ = ["TrainingPairs", "load_training_pairs", "batch_order", "shard", "micro_batches"]


@dataclass
class TrainingPairs:
    """Aligned texts: ``student[i]`` goes through the student, ``teacher[i]`` through the teacher.

    For distillation they are translations (foreign, English); for cross-entropy
    fine-tuning they are (query, relevant document).
    """

    student: list[str]
    teacher: list[str]
    ids: list[str]
    source: str
    notes: dict = field(default_factory=dict)

    def __len__(self) -> int:
        return len(self.student)

    def validate(self, max_chars: int = 20000) -> None:
        """Clear errors before training starts (empty, mismatched or absurdly long lines)."""
        if len(self.student) != len(self.teacher):
            raise ValueError(f"{self.source}: {len(self.student)} student texts vs {len(self.teacher)} teacher texts")
        if not self.student:
            raise ValueError(f"{self.source}: no training pairs")
        for i, (s, t) in enumerate(zip(self.student, self.teacher, strict=True)):
            if not s.strip() or not t.strip():
                raise ValueError(f"{self.source}: pair {self.ids[i]!r} has an empty side")
            if len(s) > max_chars or len(t) > max_chars:
                raise ValueError(f"{self.source}: pair {self.ids[i]!r} is over {max_chars} characters")


def _subset(n: int, k: int | None, seed: int) -> np.ndarray:
    if k is None or k >= n:
        return np.arange(n)
    return np.sort(np.random.default_rng(seed).choice(n, size=k, replace=False))


def _from_bitext(bitext: Bitext, source: str, k: int | None, seed: int) -> TrainingPairs:
    idx = _subset(len(bitext), k, seed)
    ids = bitext.ids or [str(i) for i in range(len(bitext))]
    return TrainingPairs([bitext.src[i] for i in idx], [bitext.tgt[i] for i in idx], [ids[i] for i in idx], source,
                         {"available": len(bitext), "skipped": bitext.skipped})


def _labelled_pairs(spec: str, k: int | None, seed: int, labels: str = "translation") -> TrainingPairs:
    """(query, relevant document) pairs for cross-entropy fine-tuning.

    ``bible:<lang>``: Old-Testament pairs stand in for labelled CLIR pairs, so no
    New-Testament test verse is ever seen: with ``labels="translation"`` a foreign verse
    and its own English verse; with ``labels="xref"`` a foreign verse and an English verse
    it is cross-referenced with (``bible-xref:<lang>``'s ``bitext/train.tsv``: relevance,
    not translation). A BEIR folder: ``qrels/train.tsv``. A TSV file: (query, relevant
    document) per line, read like bitext.
    """
    ds = DatasetSpec.parse(spec)
    if labels == "xref":
        if ds.family != "bible":
            raise ValueError(f"{spec}: cross-reference labels exist for bible:<lang> only")
        xref = f"bible-xref:{ds.language}"
        return _from_bitext(load_bitext(xref, "train"), xref, k, seed)
    if ds.is_embedded:
        return _from_bitext(load_bitext(spec, "train"), spec, k, seed)
    if Path(spec).is_file():
        return _from_bitext(load_bitext(spec), spec, k, seed)
    col = load_beir(spec, split="train")
    pairs = [(q, d) for q, judged in col.qrels.items() for d, r in judged.items() if r > 0 and d in col.corpus]
    idx = _subset(len(pairs), k, seed)
    return TrainingPairs([col.queries[pairs[i][0]] for i in idx], [col.corpus[pairs[i][1]].full_text() for i in idx],
                         [f"{pairs[i][0]}:{pairs[i][1]}" for i in idx], spec, {"available": len(pairs)})


def load_training_pairs(
    spec: str, objective: str, max_pairs: int | None, seed: int, extra: list[str] | None = None,
    extra_fraction: float = 0.0, labels: str = "translation",
) -> TrainingPairs:
    """The training texts for an objective; ``extra`` bitext is mixed in at ``extra_fraction``;
    ``labels``: the kind of labelled pairs of cross-entropy on ``bible:<lang>``."""
    if objective == "cross_entropy":
        pairs = _labelled_pairs(spec, max_pairs, seed, labels)
    else:
        pairs = _from_bitext(load_bitext(spec, "train"), spec, max_pairs, seed)  # a TSV: whole
    if extra and extra_fraction > 0:
        n_main = len(pairs)
        n_extra = int(round(len(pairs) * extra_fraction / (1 - extra_fraction)))
        per = math.ceil(n_extra / len(extra))
        for j, spec_x in enumerate(extra):
            more = _from_bitext(load_bitext(spec_x, "train"), spec_x, per, seed + 1 + j)
            pairs.student += more.student
            pairs.teacher += more.teacher
            pairs.ids += [f"{spec_x}:{i}" for i in more.ids]
        pairs.notes["extra"] = {"specs": extra, "pairs": len(pairs) - n_main}
    pairs.validate()
    return pairs


def dev_collection(spec: str | None, train_spec: str, split: str = "dev"):
    """The collection used for periodic dev evaluation, or None."""
    target = spec or (train_spec if DatasetSpec.parse(train_spec).is_embedded else None)
    return load_collection(target, split) if target else None


def batch_order(lengths: list[int] | np.ndarray, batch_size: int, seed: int, epoch: int,
                bucket: int = 16) -> list[list[int]]:
    """Global batches for one epoch: shuffled, then sorted by length within windows of
    ``bucket`` batches (less padding), then the batch order shuffled. Deterministic in
    (seed, epoch); the last incomplete batch is dropped (equal shards under DDP)."""
    n = len(lengths)
    if n < batch_size:
        raise ValueError(f"{n} training pairs are fewer than one batch of {batch_size}")
    rng = np.random.default_rng([seed, epoch])
    perm = rng.permutation(n)
    lengths = np.asarray(lengths)
    batches: list[list[int]] = []
    window = batch_size * bucket
    usable = (n // batch_size) * batch_size
    perm = perm[:usable]
    for start in range(0, usable, window):
        chunk = perm[start : start + window]
        chunk = chunk[np.argsort(-lengths[chunk], kind="stable")]
        batches += [chunk[i : i + batch_size].tolist() for i in range(0, len(chunk), batch_size)]
    order = rng.permutation(len(batches))
    return [batches[i] for i in order]


def shard(batch: list[int], rank: int, world: int) -> list[int]:
    """This process's share of a global batch (strided, equal sizes)."""
    if len(batch) % world:
        raise ValueError(f"global batch of {len(batch)} does not split evenly over {world} processes")
    return batch[rank::world]


def micro_batches(batch: list[int], grad_accum: int) -> list[list[int]]:
    """Split a (per-process) batch into ``grad_accum`` equal micro-batches."""
    if len(batch) % grad_accum:
        raise ValueError(f"batch of {len(batch)} does not split into {grad_accum} micro-batches")
    size = len(batch) // grad_accum
    return [batch[i : i + size] for i in range(0, len(batch), size)]
