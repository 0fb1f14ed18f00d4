"""A tiny bitext task for training tests (random 2-layer model, 64 pairs)."""

from __future__ import annotations

import random
from pathlib import Path

from optical.data.bitext import write_bitext_tsv
from optical.data.types import Bitext
from tests.helpers import WORDS


def write_tiny_bitext(path: Path, n: int = 64, seed: int = 0) -> Path:
    rng = random.Random(seed)
    src = [" ".join(rng.choice(WORDS) for _ in range(rng.randint(3, 9))) for _ in range(n)]
    tgt = [" ".join(reversed(s.split())) for s in src]
    write_bitext_tsv(Bitext(src, tgt, [f"p{i}" for i in range(n)], "sw", "en"), path)
    return path


def tiny_overrides(model_dir: Path, bitext: Path, out_dir: Path, **extra: object) -> list[str]:
    base = {
        "model.teacher": str(model_dir), "data.train": str(bitext), "data.max_pairs": "none",
        "optim.batch_size": 8, "optim.max_steps": 6, "optim.lr": 1e-3, "run.checkpoint_every": 2,
        "run.out_dir": str(out_dir), "run.keep_best": "false", "run.progress": "false",
        "model.freeze_embeddings": "false", "model.dropout": 0.1,
    }
    base.update(extra)
    return [f"{k}={v}" for k, v in base.items()]


def write_tiny_beir(path: Path, n: int = 24, seed: int = 1) -> Path:
    """A tiny CLIR collection: 'foreign' queries (word order reversed) -> English docs; test + dev."""
    from optical.data.beir import write_beir
    from optical.data.types import Document, RetrievalCollection

    rng = random.Random(seed)
    docs = {f"d{i}": " ".join(rng.choice(WORDS) for _ in range(rng.randint(4, 9))) for i in range(n)}
    queries = {f"q{i}": " ".join(reversed(docs[f"d{i}"].split())) for i in range(n)}
    corpus = {k: Document(k, v) for k, v in docs.items()}
    for split, ids in (("test", range(0, n, 2)), ("dev", range(1, n, 2))):
        col = RetrievalCollection(corpus, queries, {f"q{i}": {f"d{i}": 2} for i in ids}, name="tiny")
        write_beir(col, path, split=split)
    return path
