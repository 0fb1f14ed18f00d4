"""Evaluation collections in other formats, written as BEIR folders the sweep runner can evaluate.

``optical bench`` and sweeps name datasets by spec (``bible:sw``, ``cldr:sw`` or a BEIR
folder). MIRACL directories, caption files (Multi30k / Flickr30k layouts) and the
verse-caption default of the scaling question are converted once into
``<out_root>/<language>/`` — the folder name is the language the tables show.

Judgements are written with grade 2, so these single-grade collections (every relevant
document graded 1) get the registry's graded measure set
(:func:`optical.evaluation.measure_sets.measure_set`): the same R@1 (rel=2) / MRR@10 (rel=2)
columns as the Bible rows they are compared with, and the same numbers the binary set
would give (one grade: rel=2 counts every relevant document; nDCG is unchanged when all
gains are equal). Writing grade 1 instead would relabel the RQ4 / RQ5 columns ``R@1``.
"""

from __future__ import annotations

import os
from collections.abc import Mapping, Sequence
from pathlib import Path

from optical.data.types import RetrievalCollection

__all__ = ["write_collection", "miracl_collections", "caption_collections", "verse_captions"]


def write_collection(
    collection: RetrievalCollection, folder: str | Path, split: str = "test", grade: int | None = 2
) -> str:
    """Write ``collection`` as a BEIR folder; positive grades become ``grade`` (None: kept).

    Returns the folder as a dataset spec (a string).
    """
    from optical.data.beir import write_beir

    qrels = collection.qrels
    if grade is not None:
        qrels = {
            q: {d: (int(grade) if r > 0 else int(r)) for d, r in judged.items()}
            for q, judged in qrels.items()
        }
    out = RetrievalCollection(
        collection.corpus, collection.queries, qrels, collection.name, collection.language
    )
    Path(folder).mkdir(parents=True, exist_ok=True)
    write_beir(out, folder, split=split)
    return str(folder)


def miracl_collections(
    dirs: Sequence[str | os.PathLike[str]],
    out_root: str | Path,
    split: str = "dev",
    corpus_dirs: Mapping[str, str] | None = None,
) -> list[str]:
    """Convert MIRACL-format language directories; returns one dataset spec per language.

    ``corpus_dirs`` maps a language to its separate corpus directory, when the
    ``docs-*.jsonl`` shards are not inside the language directory.
    """
    from optical.data.miracl import load_miracl, miracl_language

    specs = []
    for d in dirs:
        lang = miracl_language(Path(d).name)
        corpus = (corpus_dirs or {}).get(lang or "")
        col = load_miracl(d, split=split, language=lang, corpus_dir=corpus)
        language = col.language or lang or Path(d).name
        specs.append(write_collection(col, Path(out_root) / language, split))
    return specs


def caption_collections(
    captions: Mapping[str, Sequence[str]],
    out_root: str | Path,
    pivot: str = "en",
    split: str = "test",
) -> list[str]:
    """Caption-to-caption retrieval per language: its captions as queries, the ``pivot``
    language's captions as documents (one relevant each); returns the dataset specs."""
    from optical.data.captions import caption_retrieval_collection

    if pivot not in captions:
        raise ValueError(f"captions need the pivot language {pivot!r} (have {sorted(captions)})")
    specs = []
    for lang, texts in captions.items():
        if lang == pivot:
            continue
        col = caption_retrieval_collection(list(texts), list(captions[pivot]), lang, pivot)
        specs.append(write_collection(col, Path(out_root) / lang, split))
    return specs


def verse_captions(
    languages: Sequence[str], split: str = "test", limit: int | None = None, pivot: str = "en"
) -> dict[str, list[str]]:
    """Aligned Bible verses in the caption layout: ``{pivot: English, lang: translation ...}``.

    Uses the embedded benchmark's ``split`` bitext (New Testament for dev/test), keeping
    the verses present in every language, in the first language's order, at most ``limit``.
    """
    from optical.dataset_loading import load_bitext

    if not languages:
        raise ValueError("no languages given")
    bitexts = {lang: load_bitext(f"bible:{lang}", split) for lang in languages}
    ids_of = {lang: b.ids or [str(i) for i in range(len(b))] for lang, b in bitexts.items()}
    maps = {
        lang: dict(zip(ids_of[lang], zip(b.src, b.tgt, strict=True), strict=True))
        for lang, b in bitexts.items()
    }
    ids = [i for i in ids_of[languages[0]] if all(i in m for m in maps.values())][: limit or None]
    out = {pivot: [maps[languages[0]][i][1] for i in ids]}
    for lang in languages:
        out[lang] = [maps[lang][i][0] for i in ids]
    return out
