"""Datasets by spec: the embedded benchmarks (verified, built on demand), or any BEIR
folder / bitext file. The spec strings are read by :class:`optical.dataset_spec.DatasetSpec`:

- ``bible:sw``  the embedded Bible CLIR benchmark, Swahili queries (built on demand);
- ``cldr:so``   CLDR territory/language names, Somali queries;
- a path to a BEIR folder (collections) or a bitext TSV file (bitext).
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

from optical.assets.bible import bible_check, build_bible
from optical.assets.cldr import build_cldr, cldr_check
from optical.assets.packages import CorruptCacheError
from optical.data.beir import load_beir
from optical.data.bitext import read_bitext_tsv
from optical.data.types import Bitext, RetrievalCollection
from optical.dataset_spec import EMBEDDED, DatasetSpec

__all__ = ["EMBEDDED", "parse_spec", "dataset_dir", "load_collection", "load_bitext", "is_embedded"]

Spec = str | Path | DatasetSpec

# family -> (check one built language: (state, why), build languages)
_BUILDERS: dict[str, tuple[Callable[[str], tuple[str, str]], Callable[[list[str]], object]]] = {
    "bible": (bible_check, build_bible),
    "cldr": (cldr_check, build_cldr),
}


def is_embedded(spec: Spec) -> bool:
    """``bible:<lang>`` / ``cldr:<lang>`` (not checked against the language tables)."""
    return DatasetSpec.parse(spec, check=False).is_embedded


def parse_spec(spec: Spec) -> tuple[str, str]:
    """``"bible:sw"`` -> ``("bible", "sw")``; raises ValueError for anything not embedded."""
    parsed = DatasetSpec.parse(spec)
    if not parsed.is_embedded:
        raise ValueError(
            f"{str(spec)!r} is not an embedded dataset (expected one of bible:<lang>, cldr:<lang>)"
        )
    return parsed.family, parsed.language


def _readable(spec: Spec) -> DatasetSpec:
    """The parsed spec of a dataset that can be read (not a results row's ``bitext:`` name)."""
    ds = DatasetSpec.parse(spec)
    if ds.is_bitext:
        raise ValueError(f"{ds}: names the bitext of {ds.inner} in results rows, not a dataset; "
                         f"use {ds.inner}")
    return ds


def dataset_dir(spec: Spec, build: bool = True) -> Path:
    """Folder of a dataset spec; embedded ones are verified, and built on first use.

    Raises
    ------
    ValueError
        A malformed spec, an unknown language, or a ``bitext:`` row name.
    CorruptCacheError
        A built embedded dataset whose files differ from their build-time checksums
        (never read; the message names the command that rebuilds it).
    FileNotFoundError
        No such folder or file, or (``build=False``) an embedded dataset not built.
    """
    ds = _readable(spec)
    if not ds.is_embedded:
        if not ds.folder.exists():
            raise FileNotFoundError(
                f"{ds}: no such dataset folder or file (or use bible:<lang> / cldr:<lang>)"
            )
        return ds.folder
    check, make = _BUILDERS[ds.family]
    state, why = check(ds.language)
    if state == "corrupt":
        raise CorruptCacheError(f"{ds}: built benchmark is {why}; rebuild it with `{ds.build_command}`")
    if state != "ok":
        if not build:
            raise FileNotFoundError(f"{ds}: {why}; run `{ds.build_command}`")
        make([ds.language])
    return ds.folder


def load_collection(spec: Spec, split: str = "test") -> RetrievalCollection:
    """A retrieval collection (BEIR layout) by spec and split (``test`` or ``dev``)."""
    ds = _readable(spec)
    folder = dataset_dir(ds)
    return load_beir(folder, split=split, language=ds.language if ds.is_embedded else None)


def load_bitext(spec: Spec, split: str = "train") -> Bitext:
    """Bitext pairs (foreign -> English for the embedded sets) by spec and split; a TSV
    file is read whole (``split`` does not apply to it)."""
    ds = _readable(spec)
    if ds.is_embedded:
        path = dataset_dir(ds) / "bitext" / f"{split}.tsv"
        if not path.is_file():
            raise FileNotFoundError(
                f"{ds} has no {split!r} bitext (available: "
                f"{', '.join(p.stem for p in path.parent.glob('*.tsv'))})"
            )
        return read_bitext_tsv(path, src_lang=ds.language, tgt_lang="en")
    return read_bitext_tsv(ds.folder)
