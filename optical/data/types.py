"""Plain containers for what the loaders return.

``Qrels = dict[str, dict[str, int]]`` (query id → doc id → graded relevance) and
``Run = dict[str, dict[str, float]]`` (query id → doc id → score) are the shared
conventions across optical.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field

import numpy as np

__all__ = ["Qrels", "Run", "Document", "RetrievalCollection", "Bitext"]

Qrels = dict[str, dict[str, int]]
Run = dict[str, dict[str, float]]


@dataclass(frozen=True)
class Document:
    """One retrievable document.

    Parameters
    ----------
    doc_id : str
        Identifier, unique within its corpus.
    text : str
        Body text.
    title : str, default ""
        Title, if the collection has one.
    """

    doc_id: str
    text: str
    title: str = ""

    def full_text(self, sep: str = "\n") -> str:
        """Return ``title + sep + text`` (just ``text`` when there is no title)."""
        return f"{self.title}{sep}{self.text}" if self.title else self.text


def _preview(ids: Sequence[str], limit: int = 5) -> str:
    shown = ", ".join(repr(i) for i in ids[:limit])
    return shown + (f", … ({len(ids) - limit} more)" if len(ids) > limit else "")


@dataclass(repr=False)
class RetrievalCollection:
    """A corpus, its queries and relevance judgements.

    Parameters
    ----------
    corpus : dict[str, Document]
        Doc id → document.
    queries : dict[str, str]
        Query id → query text.
    qrels : Qrels
        Query id → doc id → graded relevance.
    name : str, default ""
        A label such as ``"miracl-v1.0-sw/dev"``.
    language : str or None
        Language of the documents (ISO 639 code), when known.
    excluded : dict[str, set[str]]
        Query id → documents that must not count for it: removed from its ranking
        before scoring (:func:`optical.evaluation.exclusions.drop_excluded`), e.g. the
        query's own translation on a topic-relevance task. Never judged.
    """

    corpus: dict[str, Document]
    queries: dict[str, str]
    qrels: Qrels
    name: str = ""
    language: str | None = None
    excluded: dict[str, set[str]] = field(default_factory=dict)

    def __repr__(self) -> str:
        n_judged = sum(len(d) for d in self.qrels.values())
        return (
            f"RetrievalCollection(name={self.name!r}, language={self.language!r}, "
            f"docs={len(self.corpus)}, queries={len(self.queries)}, judgements={n_judged})"
        )

    def validate(self, strict: bool = False) -> list[str]:
        """Check that the qrels only name known queries and documents.

        Parameters
        ----------
        strict : bool, default False
            Raise instead of returning the issues.

        Returns
        -------
        list of str
            One line per problem (empty when consistent): qrels naming an unknown
            query, qrels naming an unknown document, corpus keys that differ from
            their document's ``doc_id``, non-integer relevance grades.

        Raises
        ------
        ValueError
            If ``strict`` and there is at least one issue.
        """
        issues: list[str] = []
        for key, doc in self.corpus.items():
            if key != doc.doc_id:
                issues.append(f"corpus key {key!r} holds a document with doc_id {doc.doc_id!r}")
        for qid, judged in self.qrels.items():
            if qid not in self.queries:
                issues.append(f"qrels name unknown query {qid!r}")
            for did, rel in judged.items():
                if did not in self.corpus:
                    issues.append(f"qrels for query {qid!r} name unknown document {did!r}")
                if not isinstance(rel, (int, np.integer)) or isinstance(rel, bool):
                    issues.append(f"qrels for ({qid!r}, {did!r}) have non-integer grade {rel!r}")
        for qid, docs in self.excluded.items():
            for did in sorted(docs & set(self.qrels.get(qid, {}))):
                issues.append(f"document {did!r} is both judged and excluded for query {qid!r}")
        if strict and issues:
            label = f" {self.name!r}" if self.name else ""
            raise ValueError(
                f"collection{label} is inconsistent ({len(issues)} issues): "
                + "; ".join(issues[:10])
                + ("; …" if len(issues) > 10 else "")
            )
        return issues


@dataclass(repr=False)
class Bitext:
    """Sentence-aligned parallel text: ``src[i]`` translates to ``tgt[i]``.

    Parameters
    ----------
    src, tgt : list of str
        Source and target sentences, same length.
    ids : list of str or None
        Optional unique pair identifiers, same length.
    src_lang, tgt_lang : str or None
        Language codes, when known.
    skipped : int, default 0
        How many input pairs the loader skipped (empty sides with ``on_empty="skip"``).

    Indexing with an int returns ``(src, tgt)``; with a slice, an index sequence
    or a boolean mask it returns a new :class:`Bitext` (see :meth:`subset`).
    """

    src: list[str]
    tgt: list[str]
    ids: list[str] | None = None
    src_lang: str | None = None
    tgt_lang: str | None = None
    skipped: int = field(default=0)

    def __post_init__(self) -> None:
        self.validate()

    def validate(self) -> None:
        """Check lengths match, all items are strings and ids are unique.

        Raises
        ------
        ValueError
            Describing the first problem found.
        """
        if len(self.src) != len(self.tgt):
            raise ValueError(
                f"bitext sides differ in length: {len(self.src)} source vs "
                f"{len(self.tgt)} target sentences"
            )
        for side, sents in (("source", self.src), ("target", self.tgt)):
            for i, s in enumerate(sents):
                if not isinstance(s, str):
                    raise ValueError(f"{side} sentence {i} is {type(s).__name__}, expected str")
        if self.ids is not None:
            if len(self.ids) != len(self.src):
                raise ValueError(f"bitext has {len(self.src)} pairs but {len(self.ids)} ids")
            seen: dict[str, int] = {}
            for i, pid in enumerate(self.ids):
                if pid in seen:
                    raise ValueError(f"duplicate bitext id {pid!r} at pairs {seen[pid]} and {i}")
                seen[pid] = i

    def __len__(self) -> int:
        return len(self.src)

    def __repr__(self) -> str:
        return (
            f"Bitext({self.src_lang}->{self.tgt_lang}, pairs={len(self)}, "
            f"ids={'yes' if self.ids is not None else 'no'}, skipped={self.skipped})"
        )

    def __iter__(self) -> Iterator[tuple[str, str]]:
        return zip(self.src, self.tgt, strict=True)

    def __getitem__(self, key: int | slice | Sequence[int] | np.ndarray):
        if isinstance(key, (int, np.integer)):
            return self.src[key], self.tgt[key]
        if isinstance(key, slice):
            return self.subset(range(len(self))[key])
        return self.subset(key)

    def subset(self, indices: Sequence[int] | np.ndarray | range) -> Bitext:
        """Return the pairs at ``indices`` (ints, or a boolean mask of length ``len(self)``)."""
        idx = np.asarray(indices)
        if idx.dtype == bool:
            if idx.shape != (len(self),):
                raise ValueError(f"boolean mask has shape {idx.shape}, expected ({len(self)},)")
            idx = np.flatnonzero(idx)
        elif idx.size == 0:
            idx = idx.astype(int)
        elif not np.issubdtype(idx.dtype, np.integer):
            raise TypeError(f"indices must be integers or a boolean mask, got {idx.dtype}")
        picks = [int(i) for i in idx.reshape(-1)]
        return Bitext(
            src=[self.src[i] for i in picks],
            tgt=[self.tgt[i] for i in picks],
            ids=None if self.ids is None else [self.ids[i] for i in picks],
            src_lang=self.src_lang,
            tgt_lang=self.tgt_lang,
        )
