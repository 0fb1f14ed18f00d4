"""Datasets by spec: the embedded benchmarks (verified, built on demand), or any BEIR
folder / bitext file. The spec strings are read by :class:`optical.dataset_spec.DatasetSpec`:

- ``bible:sw``  the embedded Bible CLIR benchmark, Swahili queries (built on demand);
- ``cldr:so``   CLDR territory/language names, Somali queries;
- a path to a BEIR folder (collections) or a bitext TSV file (bitext).
"""

from __future__ import annotations

from pathlib import Path

from optical.assets.packages import CorruptCacheError
from optical.data.beir import load_beir
from optical.data.bitext import read_bitext_tsv
from optical.data.types import Bitext, RetrievalCollection
from optical.dataset_spec import EMBEDDED, FAMILIES, DatasetSpec

__all__ = ["EMBEDDED", "dataset_dir", "load_collection", "load_bitext"]

Spec = str | Path | DatasetSpec

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
                f"{ds}: no such dataset folder or file (or use bible:<lang> / bible-xref:<lang> / cldr:<lang>)"
            )
        return ds.folder
    family = FAMILIES[ds.family]
    state, why = family.check(ds.language)
    if state == "corrupt":
        raise CorruptCacheError(f"{ds}: built benchmark is {why}; rebuild it with `{ds.build_command}`")
    if state != "ok":
        if not build:
            raise FileNotFoundError(f"{ds}: {why}; run `{ds.build_command}`")
        family.build([ds.language])
    return ds.folder


def load_collection(spec: Spec, split: str = "test") -> RetrievalCollection:
    """A retrieval collection (BEIR layout) by spec and split (``test`` or ``dev``)."""
    ds = _readable(spec)
    folder = dataset_dir(ds)
    if not ds.is_embedded:
        return load_beir(folder, split=split)
    load = FAMILIES[ds.family].load or load_beir
    return load(folder, split=split, language=ds.language)


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
