"""Datasets by name: the embedded benchmarks, or any BEIR folder / bitext file.

A dataset spec is a string:

- ``bible:sw``  the embedded Bible CLIR benchmark, Swahili queries (built on demand);
- ``cldr:so``   CLDR territory/language names, Somali queries;
- a path to a BEIR folder (collections) or a bitext TSV file (bitext).
"""

from __future__ import annotations

from pathlib import Path

from optical.assets.bible import bible_check, bible_dir, build_bible
from optical.assets.cldr import build_cldr, cldr_check, cldr_dir
from optical.assets.languages import BIBLE_LANGUAGES, CLDR_LANGUAGES, parse_languages
from optical.assets.packages import CorruptCacheError
from optical.data.beir import load_beir
from optical.data.bitext import read_bitext_tsv
from optical.data.types import Bitext, RetrievalCollection

__all__ = ["EMBEDDED", "parse_spec", "dataset_dir", "load_collection", "load_bitext", "is_embedded"]

EMBEDDED = ("bible", "cldr")


def is_embedded(spec: str) -> bool:
    return str(spec).split(":", 1)[0] in EMBEDDED and ":" in str(spec)


def parse_spec(spec: str) -> tuple[str, str]:
    """``"bible:sw"`` -> ``("bible", "sw")``; raises ValueError for an unknown benchmark."""
    name, _, lang = str(spec).partition(":")
    if name not in EMBEDDED or not lang:
        raise ValueError(
            f"{spec!r} is not an embedded dataset (expected one of bible:<lang>, cldr:<lang>)"
        )
    return name, lang


def dataset_dir(spec: str, build: bool = True) -> Path:
    """Folder of a dataset spec; embedded ones are verified, and built on first use.

    Raises
    ------
    CorruptCacheError
        A built embedded dataset whose files differ from their build-time checksums
        (never read; the message names the command that rebuilds it).
    FileNotFoundError
        No such folder or file, or (``build=False``) an embedded dataset not built.
    """
    if not is_embedded(spec):
        path = Path(spec)
        if not path.exists():
            raise FileNotFoundError(
                f"{spec}: no such dataset folder or file (or use bible:<lang> / cldr:<lang>)"
            )
        return path
    name, lang = parse_spec(spec)
    check, make, root = (
        (bible_check, build_bible, bible_dir)
        if name == "bible"
        else (cldr_check, build_cldr, cldr_dir)
    )
    flag = "--languages" if name == "bible" else "--cldr-languages"
    parse_languages([lang], BIBLE_LANGUAGES if name == "bible" else CLDR_LANGUAGES)  # known code?
    state, why = check(lang)
    if state == "corrupt":
        raise CorruptCacheError(
            f"{spec}: built benchmark is {why}; rebuild it with `optical assets build {flag} {lang}`"
        )
    if state != "ok":
        if not build:
            raise FileNotFoundError(f"{spec}: {why}; run `optical assets build {flag} {lang}`")
        make([lang])
    return root() / lang


def load_collection(spec: str, split: str = "test") -> RetrievalCollection:
    """A retrieval collection (BEIR layout) by spec and split (``test`` or ``dev``)."""
    folder = dataset_dir(spec)
    language = parse_spec(spec)[1] if is_embedded(spec) else None
    return load_beir(folder, split=split, language=language)


def load_bitext(spec: str, split: str = "train") -> Bitext:
    """Bitext pairs (foreign -> English for the embedded sets) by spec and split."""
    if is_embedded(spec):
        name, lang = parse_spec(spec)
        path = dataset_dir(spec) / "bitext" / f"{split}.tsv"
        if not path.is_file():
            raise FileNotFoundError(
                f"{spec} has no {split!r} bitext (available: "
                f"{', '.join(p.stem for p in path.parent.glob('*.tsv'))})"
            )
        return read_bitext_tsv(path, src_lang=lang, tgt_lang="en")
    return read_bitext_tsv(spec)
