"""RQ2 — what distillation does to the embedding space, per language, on parallel data.

For a system and translation pairs ``(f_i, e_i)`` (foreign, English), the student encodes
``f_i`` and the teacher ``e_i``, both with the same prefix (``side``; the query side by
default, as the distillation target is computed). Per language:

- ``alignment`` (Wang & Isola 2020): mean ``||s(f_i) - t(e_i)||^2``; lower = translations closer;
- ``uniformity`` of the foreign embeddings: ``log mean_{i<j} exp(-2 ||s(f_i) - s(f_j)||^2)``;
  lower = more spread out (``uniformity_en``: the same for the English side);
- ``mining_acc``: bitext-mining accuracy, the share of ``f_i`` whose most similar English
  sentence (cosine) is ``e_i`` among all English sentences of the set.

Parallel data: the embedded Bible bitext (dev/test: New-Testament verses, never trained on)
by default, SQuAD-format XQuAD/MLQA files (questions aligned by id) when given, or bitext
TSV files. Rows go to the results store with ``task = "embedding"`` and dataset
``bitext:<source>``; ``alignment`` and ``mining_acc`` also per pair, so paired tests apply.
"""

from __future__ import annotations

import hashlib
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from optical.results.row import ResultRow, make_row, row_key
from optical.results.store import ResultsStore
from optical.systems import System, load_encoder_cached

__all__ = [
    "ParallelSet",
    "parallel_data",
    "embedding_metrics",
    "alignment_rows",
    "evaluate_alignment",
    "alignment_table",
    "transport_plans",
    "EMBEDDING_MEASURES",
]

EMBEDDING_MEASURES = ("alignment", "uniformity", "uniformity_en", "mining_acc")
_CACHE: dict[tuple[str, bool, str], np.ndarray] = {}


@dataclass
class ParallelSet:
    """Translation pairs of one language: ``foreign[i]`` translates ``english[i]``."""

    language: str
    source: str
    foreign: list[str]
    english: list[str]
    ids: list[str]
    split: str = "test"

    def __len__(self) -> int:
        return len(self.foreign)


def parallel_data(
    bitext: Mapping[str, str] | None = None,
    squad_files: Mapping[str, str] | None = None,
    split: str = "test",
    pivot: str = "en",
    limit: int | None = None,
) -> dict[str, ParallelSet]:
    """Translation pairs per language.

    Parameters
    ----------
    bitext : mapping language -> spec
        ``bible:<lang>`` (its ``split`` bitext) or a bitext TSV file (foreign, English).
    squad_files : mapping language -> SQuAD file, optional
        XQuAD / MLQA files incl. the ``pivot`` language; questions are aligned by id (ids
        missing from a file are dropped). Used instead of ``bitext`` when given.
    split : str
        Split of the embedded bitext (``dev`` or ``test``).
    limit : int, optional
        Keep the first ``limit`` pairs of each language.
    """
    from optical.data.squad import load_squad_parallel
    from optical.dataset_loading import load_bitext
    from optical.dataset_spec import DatasetSpec

    out: dict[str, ParallelSet] = {}
    if squad_files:
        if pivot not in squad_files:
            raise ValueError(
                f"squad_files need the pivot language {pivot!r} (have {sorted(squad_files)})"
            )
        questions = load_squad_parallel(squad_files, on_mismatch="intersect")
        for lang, texts in questions.items():
            if lang != pivot:
                n = len(texts) if limit is None else min(limit, len(texts))
                out[lang] = ParallelSet(
                    lang,
                    f"squad:{Path(squad_files[lang]).name}",
                    list(texts[:n]),
                    list(questions[pivot][:n]),
                    [str(i) for i in range(n)],
                    "test",
                )
        return out
    if not bitext:
        raise ValueError("give bitext (language -> spec) or squad_files")
    for lang, spec in bitext.items():
        embedded = DatasetSpec.parse(spec, check=False).is_embedded
        bt = load_bitext(spec, split) if embedded else load_bitext(spec)
        n = len(bt.src) if limit is None else min(limit, len(bt.src))
        ids = (bt.ids or [str(i) for i in range(len(bt.src))])[:n]
        out[lang] = ParallelSet(
            lang,
            str(spec),
            list(bt.src[:n]),
            list(bt.tgt[:n]),
            list(ids),
            split if embedded else "test",
        )
    return out


def embedding_metrics(
    foreign: Any, english: Any, t: float = 2.0, margin: str | None = None
) -> dict[str, Any]:
    """Alignment, uniformity and mining accuracy of paired embeddings (rows are pairs).

    Returns the aggregates (``EMBEDDING_MEASURES``) plus ``pair_alignment`` (squared
    distance per pair) and ``pair_correct`` (1.0 when pair i is mined correctly).
    """
    from optical.evaluation import (
        alignment,
        bitext_mining_accuracy,
        l2_normalize,
        similarity_matrix,
        uniformity,
    )

    f, e = l2_normalize(foreign, "foreign"), l2_normalize(english, "english")
    pair_alignment = np.sum((f - e) ** 2, axis=1)
    sim = similarity_matrix(f, e)
    pair_correct = (np.argmax(sim, axis=1) == np.arange(len(f))).astype(np.float64)
    mining = bitext_mining_accuracy(f, e, margin=margin, k=min(4, len(f)))
    if margin is None and not np.isclose(mining, pair_correct.mean()):
        raise AssertionError("mining accuracy disagrees with the per-pair decisions")
    return {
        "alignment": alignment(f, e),
        "uniformity": uniformity(f, t) if len(f) > 1 else float("nan"),
        "uniformity_en": uniformity(e, t) if len(e) > 1 else float("nan"),
        "mining_acc": mining,
        "pair_alignment": pair_alignment,
        "pair_correct": pair_correct,
    }


def _encode(model: str, texts: list[str], is_query: bool, device: str | None) -> np.ndarray:
    digest = hashlib.sha1("\n".join(texts).encode()).hexdigest()
    key = (f"{model}|{device}", is_query, digest)
    if key not in _CACHE:
        _CACHE[key] = load_encoder_cached(model, device).encode(texts, is_query=is_query)
    return _CACHE[key]


def alignment_rows(
    systems: Sequence[tuple[System, dict[str, Any]]],
    data: Mapping[str, ParallelSet],
    side: str = "query",
    margin: str | None = None,
    device: str | None = None,
    skip: set[str] | None = None,
    progress: Any = None,
) -> list[ResultRow]:
    """Results-store rows (``task = "embedding"``) for every system and language.

    ``systems`` pairs each system with the extra row fields (group, seed, variant ...), as
    :func:`optical.sweeps.questions.experiment_systems` returns them; rows whose key is in
    ``skip`` are not computed.
    """
    if side not in {"query", "document"}:
        raise ValueError(f"side must be 'query' or 'document', got {side!r}")
    is_query = side == "query"
    rows = []
    for system, extra in systems:
        student, teacher = (
            (system.query_model, system.doc_model)
            if system.student_side == "query"
            else (system.doc_model, system.query_model)
        )
        for lang, pairs in data.items():
            dataset = f"bitext:{pairs.source}"
            settings = {"side": side, "margin": margin}
            key = row_key(system, dataset, pairs.split, "embedding", settings | {"n": len(pairs)}, extra)
            if skip and key in skip:
                continue
            if progress:
                progress(f"embedding metrics: {system.name} on {lang} ({len(pairs)} pairs)")
            m = embedding_metrics(
                _encode(student, pairs.foreign, is_query, device),
                _encode(teacher, pairs.english, is_query, device),
                margin=margin,
            )
            rows.append(
                make_row(
                    system, dataset, pairs.split, {k: float(m[k]) for k in EMBEDDING_MEASURES},
                    task="embedding", settings=settings, key_settings={"n": len(pairs)},
                    per_query={
                        "alignment": dict(zip(pairs.ids, m["pair_alignment"].tolist(), strict=True)),
                        "mining_acc": dict(zip(pairs.ids, m["pair_correct"].tolist(), strict=True)),
                    },
                    n_queries=len(pairs), context=extra, language=lang,
                )
            )
    return rows


def evaluate_alignment(
    systems: Sequence[tuple[System, dict[str, Any]]],
    data: Mapping[str, ParallelSet],
    store: ResultsStore,
    side: str = "query",
    margin: str | None = None,
    device: str | None = None,
    progress: Any = print,
) -> list[ResultRow]:
    """Compute the rows not yet in ``store``, append them, return them."""
    rows = alignment_rows(systems, data, side, margin, device, skip=store.keys(), progress=progress)
    store.extend(rows)
    return rows


def alignment_table(
    store: ResultsStore | Sequence[dict[str, Any]], group: str | None = None
) -> pd.DataFrame:
    """One row per (system, language): the embedding measures, averaged over seeds
    (``n_seeds`` rows each), with ``method`` and ``model`` labels."""
    from optical.results.frames import results_frame

    frame = results_frame(store, group=group, task="embedding")
    if frame.empty:
        return pd.DataFrame(
            columns=[
                "system",
                "method",
                "model",
                "language",
                "resource",
                *EMBEDDING_MEASURES,
                "n_seeds",
            ]
        )
    keys = ["system", "method", "model", "language", "resource"]
    wide = frame.pivot_table(
        index=keys, columns="measure", values="value", aggfunc="mean", sort=False
    )
    counts = (
        frame[frame["measure"] == "alignment"].groupby(keys, sort=False).size().rename("n_seeds")
    )
    out = wide.join(counts).reset_index()
    return out[[*keys, *[m for m in EMBEDDING_MEASURES if m in out.columns], "n_seeds"]]


def transport_plans(
    system: System, pairs: Sequence[tuple[str, str]], device: str | None = None
) -> list[Any]:
    """:meth:`optical.retrieval.Retriever.explain` of each (foreign query, English text) pair
    under ``system``: token similarities and the entropic OT plan (retrieval view)."""
    from optical.data.types import Document
    from optical.retrieval import DenseIndex, Retriever

    q_enc = load_encoder_cached(system.query_model, device)
    d_enc = load_encoder_cached(system.doc_model, device)
    docs = {f"d{i}": Document(f"d{i}", e) for i, (_, e) in enumerate(pairs)}
    retriever = Retriever(q_enc, d_enc, DenseIndex.build(d_enc, docs, path=None, progress=False))
    return [retriever.explain(f, f"d{i}") for i, (f, _) in enumerate(pairs)]
