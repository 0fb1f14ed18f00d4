"""Dataset specs: the one parser of the strings that name a dataset.

A dataset spec is a string, given on the command line, in configs and sweep specs, and
stored as the ``dataset`` of every results row:

- ``bible:sw``  the embedded Bible CLIR benchmark, Swahili queries (built on demand);
- ``bible-xref:sw``  the cross-reference (topic-relevance) task on the same documents;
- ``cldr:so``   CLDR territory/language names, Somali queries;
- ``bitext:<spec>``  the bitext pairs of ``<spec>`` (rows of the alignment analysis);
- anything else: a path to a BEIR folder (collections) or a file (bitext TSV, corpus).

:meth:`DatasetSpec.parse` reads one into a frozen :class:`DatasetSpec` (its family,
language, folder, corpus cache name and build command); everything else asks the spec
instead of splitting strings. An embedded family is one :class:`Family` entry in
:data:`FAMILIES` (its languages, its ``optical assets build`` flag and its folder).
This module reads no file at import time and imports nothing heavy.
"""

from __future__ import annotations

import importlib
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from functools import lru_cache
from pathlib import Path
from typing import Any

from optical.assets.languages import (
    BIBLE_LANGUAGES,
    CLDR_LANGUAGES,
    XREF_LANGUAGES,
    Language,
    parse_languages,
)

__all__ = ["BITEXT", "COLLECTION", "EMBEDDED", "FAMILIES", "DatasetSpec", "Family"]

BITEXT = "bitext"  # family of ``bitext:<spec>`` (alignment rows)
COLLECTION = "collection"  # family of a path (BEIR folder or file)


def _lazy(module: str, name: str) -> Callable[..., Any]:
    """``module.name``, imported when first called (reading a spec imports no asset module)."""

    def call(*args: Any, **kwargs: Any) -> Any:
        return getattr(importlib.import_module(module), name)(*args, **kwargs)

    call.__qualname__ = f"{module}.{name}"
    return call


@dataclass(frozen=True)
class Family:
    """An embedded benchmark family: ``<name>:<language>``, built by ``optical assets build``.

    Adding a family is one entry here (its languages and how it is built, checked and
    read), its measures in :mod:`optical.evaluation.measure_sets` when the default rule
    does not fit, and its builder / loader functions.

    Attributes
    ----------
    root
        ``root()``: the folder holding one built sub-folder per language.
    check
        ``check(language) -> (state, why)``: ``ok``, ``missing`` or ``corrupt`` (with why).
    build
        ``build(languages)``: build those languages into ``root()``.
    load
        ``load(folder, split, language) -> RetrievalCollection``; None: the folder is a
        BEIR folder (:func:`optical.data.beir.load_beir`).
    measures
        The :class:`~optical.evaluation.measure_sets.MeasureSet` kind its tables use; None:
        picked from the qrels' grades (:func:`~optical.evaluation.measure_sets.measure_set`).
    corpus_label
        A reader's name of the shared document side, where there is one worth a name.
    corpus
        The cache name of that document side when another family shares it (None: the
        family's own name), so one index serves both.

    Every callable is imported lazily: reading a spec touches no asset module.
    """

    name: str
    languages: Mapping[str, Language] = field(repr=False)
    build_flag: str  # the `optical assets build` option that builds one language
    root: Callable[[], Path] = field(repr=False, compare=False)
    check: Callable[[str], tuple[str, str]] = field(repr=False, compare=False)
    build: Callable[[list[str]], object] = field(repr=False, compare=False)
    load: Callable[..., Any] | None = field(default=None, repr=False, compare=False)
    measures: str | None = None
    corpus_label: str | None = None
    corpus: str | None = None


FAMILIES: dict[str, Family] = {
    f.name: f
    for f in (
        Family("bible", BIBLE_LANGUAGES, "--languages", root=_lazy("optical.assets.bible", "bible_dir"),
               check=_lazy("optical.assets.bible", "bible_check"), build=_lazy("optical.assets.bible", "build_bible"),
               corpus_label="English New Testament (WEB)"),
        Family("bible-xref", XREF_LANGUAGES, "--languages", root=_lazy("optical.assets.bible_xref", "bible_xref_dir"),
               check=_lazy("optical.assets.bible_xref", "bible_xref_check"),
               build=_lazy("optical.assets.bible_xref", "build_bible_xref"), measures="xref",
               corpus_label="English New Testament (WEB)", corpus="bible"),
        Family("cldr", CLDR_LANGUAGES, "--cldr-languages", root=_lazy("optical.assets.cldr", "cldr_dir"),
               check=_lazy("optical.assets.cldr", "cldr_check"), build=_lazy("optical.assets.cldr", "build_cldr")),
    )
}
EMBEDDED = tuple(FAMILIES)
_EXPECTED = ", ".join(f"{name}:<lang>" for name in EMBEDDED)


@dataclass(frozen=True)
class DatasetSpec:
    """One parsed dataset spec; make it with :meth:`parse`, give it back with ``str()``.

    Attributes
    ----------
    text
        The spec as given (what a results row stores as ``dataset``; ``str(spec)``).
    family
        ``bible`` / ``cldr`` (embedded), ``bitext`` (``bitext:<spec>``) or ``collection``
        (a path).
    code
        The query language of an embedded spec; None otherwise.
    inner
        The spec whose pairs a ``bitext:<spec>`` names; None otherwise.
    """

    text: str
    family: str
    code: str | None = None
    inner: DatasetSpec | None = None

    @classmethod
    def parse(cls, text: str | Path | DatasetSpec, check: bool = True) -> DatasetSpec:
        """Read a spec (a :class:`DatasetSpec` is returned as it is). Touches no file.

        ``check=False`` skips the check that an embedded language is one its family has
        (for stored rows, which may outlive a language table).

        Raises
        ------
        ValueError
            An empty spec, ``bible:`` / ``cldr:`` / ``bitext:`` with nothing after the
            colon, or (``check``) an embedded language the family does not have.
        """
        if isinstance(text, DatasetSpec):
            if check and text.is_embedded:
                _check_language(text.text, FAMILIES[text.family], text.code or "")
            return text
        return _parse(str(text), check)

    # ------------------------------------------------------------------ kinds

    @property
    def is_embedded(self) -> bool:
        """A built-on-demand benchmark (``bible:<lang>``, ``cldr:<lang>``)."""
        return self.family in FAMILIES

    @property
    def is_bitext(self) -> bool:
        """``bitext:<spec>``: a results row's name for the pairs of ``<spec>``."""
        return self.family == BITEXT

    @property
    def is_path(self) -> bool:
        """A BEIR folder or a file, given by its path."""
        return self.family == COLLECTION

    # ------------------------------------------------------------------ names

    @property
    def language(self) -> str:
        """The results rows' ``language``: an embedded spec's code, else the folder (or
        file) name (``/data/beir/sw`` -> ``sw``)."""
        if self.inner is not None:
            return self.inner.language
        return self.code if self.code is not None else Path(self.text).name

    @property
    def run_tag(self) -> str:
        """What a run trained on this set is named after: an embedded spec's code, else the
        file stem or folder name (``pairs/sw.tsv`` -> ``sw``)."""
        if self.inner is not None:
            return self.inner.run_tag
        return self.code if self.code is not None else Path(self.text).stem

    @property
    def benchmark(self) -> str:
        """The benchmark a result belongs to: the family, or a collection's folder name
        (so two BEIR folders are two benchmarks)."""
        return self.family if self.family != COLLECTION else Path(self.text).name

    @property
    def measures(self) -> str | None:
        """The measure-set kind an embedded family declares (None: from the qrels)."""
        if self.inner is not None:
            return self.inner.measures
        fam = FAMILIES.get(self.family)
        return fam.measures if fam else None

    @property
    def corpus_name(self) -> str:
        """Cache name of the document side: the family for embedded specs (``bible:sw`` and
        ``bible:de`` share the English ``bible`` corpus), else the file stem or the
        (resolved) folder name. Looks at the file system for a path."""
        if self.inner is not None:
            return self.inner.corpus_name
        if self.is_embedded:
            return FAMILIES[self.family].corpus or self.family
        path = Path(self.text)
        return path.stem if path.is_file() else path.resolve().name

    @property
    def corpus_label(self) -> str:
        """A reader's name of the document side (``English New Testament (WEB)``)."""
        fam = FAMILIES.get(self.family)
        return fam.corpus_label if fam and fam.corpus_label else f"{Path(self.text).name} corpus"

    # ------------------------------------------------------------------ files

    @property
    def folder(self) -> Path:
        """Where the data is (or will be, once built): ``<root>/<lang>`` for an embedded
        spec, the given folder or file (``~`` expanded) otherwise, the inner set's folder
        for ``bitext:``. Builds and checks nothing (see :func:`optical.dataset_loading.dataset_dir`)."""
        if self.inner is not None:
            return self.inner.folder
        if self.is_embedded:
            return FAMILIES[self.family].root() / str(self.code)
        return Path(self.text).expanduser()

    @property
    def build_command(self) -> str | None:
        """The command that builds an embedded spec (``optical assets build --languages
        sw``); None for a path."""
        if self.inner is not None:
            return self.inner.build_command
        if not self.is_embedded:
            return None
        return f"optical assets build {FAMILIES[self.family].build_flag} {self.code}"

    def __str__(self) -> str:
        return self.text


@lru_cache(maxsize=4096)
def _parse(text: str, check: bool) -> DatasetSpec:
    if not text:
        raise ValueError(f"empty dataset spec (expected one of {_EXPECTED}, a BEIR folder or a file)")
    head, sep, rest = text.partition(":")
    if sep and head in FAMILIES:
        if not rest:
            raise ValueError(f"{text!r} is not an embedded dataset (expected one of {_EXPECTED})")
        if check:
            _check_language(text, FAMILIES[head], rest)
        return DatasetSpec(text, head, code=rest)
    if sep and head == BITEXT:
        if not rest:
            raise ValueError(f"{text!r}: bitext of what? (expected bitext:<dataset spec>)")
        return DatasetSpec(text, BITEXT, inner=_parse(rest, check))
    return DatasetSpec(text, COLLECTION)


def _check_language(text: str, family: Family, code: str) -> None:
    if code in family.languages:
        return
    try:
        parse_languages([code], dict(family.languages))
    except ValueError as err:
        raise ValueError(f"{text!r}: {err}") from None
    raise ValueError(f"{text!r}: {code!r} is not a language code (expected e.g. {family.name}:sw)")
