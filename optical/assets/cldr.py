"""A short-phrase second domain: territory and language names from CLDR (via babel).

For each target language, the queries are its names for territories and languages
(``Kenya`` -> ``Kenia``, ``Swahili`` -> ``Kiswahili``) and the documents are the
English names of every territory and language CLDR knows. A query's one relevant
document is the English name with the same CLDR code. Names identical to the English
name (case-insensitive) are left out of the queries: they would be matched by
spelling alone. Every item is assigned to dev or test by a seeded hash of its code.

Written in the same layout as the Bible benchmark (BEIR folder + ``bitext/``).
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Callable
from dataclasses import asdict, dataclass
from pathlib import Path

from optical.assets.languages import CLDR_LANGUAGES, CLDR_LOCALE, parse_languages
from optical.assets.manifest import first_problem, language_state
from optical.data.beir import write_beir
from optical.data.bitext import write_bitext_tsv
from optical.data.types import Bitext, Document, RetrievalCollection
from optical.paths import atomic_dir, atomic_write_json, optical_home, record_files

__all__ = ["CldrSettings", "cldr_names", "build_cldr", "cldr_dir", "cldr_check", "cldr_status"]

Progress = Callable[[str], None]


@dataclass(frozen=True)
class CldrSettings:
    seed: int = 13
    babel_version: str = ""
    builder_version: int = 1

    @classmethod
    def current(cls, seed: int = 13) -> CldrSettings:
        import babel

        return cls(seed=seed, babel_version=babel.__version__)


def cldr_dir() -> Path:
    return optical_home() / "benchmarks" / "cldr"


def cldr_names(locale_code: str) -> dict[str, str]:
    """``{"territory:KE": "Kenya", "language:sw": "Swahili", ...}`` in one locale."""
    from babel import Locale

    locale = Locale.parse(locale_code)
    names = {f"territory:{k}": v for k, v in locale.territories.items() if v}
    names.update({f"language:{k}": v for k, v in locale.languages.items() if v})
    return names


def _split_of(key: str, seed: int) -> str:
    return "test" if hashlib.sha1(f"{seed}:{key}".encode()).digest()[0] % 2 == 0 else "dev"


def cldr_check(
    code: str,
    settings: CldrSettings | None = None,
    full: bool = False,
    root: str | Path | None = None,
) -> tuple[str, str]:
    """State of one built language: ``(state, why)``, as :func:`optical.assets.bible.bible_check`.

    A folder built before the manifest recorded checksums is ``"stale"`` (rebuilt).
    """
    return language_state(code, settings or CldrSettings.current(), root, cldr_dir, full)


def cldr_status(
    languages: str | list[str] | None = None,
    full: bool = False,
    root: str | Path | None = None,
) -> tuple[bool, str]:
    """Are these languages built, with intact files? First problem if not."""
    settings = CldrSettings.current()
    return first_problem(
        parse_languages(languages, CLDR_LANGUAGES),
        lambda code: cldr_check(code, settings, full=full, root=root),
    )


def build_cldr(
    languages: str | list[str] | None = None,
    out_dir: str | Path | None = None,
    force: bool = False,
    progress: Progress | None = None,
) -> dict[str, dict]:
    """Build the CLDR-names collections (default languages: the Bible defaults plus so, ha, am, mr, yo)."""
    if languages is None:
        languages = ["sw", "tl", "bn", "hi", "de", "fr", "so", "ha", "am", "mr", "yo"]
    codes = parse_languages(languages, CLDR_LANGUAGES)
    settings = CldrSettings.current()
    root = Path(out_dir) if out_dir is not None else cldr_dir()
    english = cldr_names("en")
    corpus = {key: Document(key, name) for key, name in english.items()}
    results: dict[str, dict] = {}
    for code in codes:
        if not force:
            state, why = cldr_check(code, settings, full=True, root=root)
            if state == "ok":
                results[code] = json.loads((root / code / "manifest.json").read_text())["counts"]
                continue
            if state == "corrupt" and progress:
                progress(f"cldr names: {code}: {why}; rebuilding")
        if progress:
            progress(f"cldr names: {code} ({CLDR_LANGUAGES[code].name})")
        foreign = cldr_names(CLDR_LOCALE.get(code, code))
        shared = [k for k in foreign if k in english]
        identical = [k for k in shared if foreign[k].casefold() == english[k].casefold()]
        keys = sorted(set(shared) - set(identical))
        splits = {
            "dev": [k for k in keys if _split_of(k, settings.seed) == "dev"],
            "test": [k for k in keys if _split_of(k, settings.seed) == "test"],
        }
        with atomic_dir(root / code) as tmp:
            for split, ids in splits.items():  # queries.jsonl holds both splits
                collection = RetrievalCollection(
                    corpus=corpus,
                    queries={k: foreign[k] for k in keys},
                    qrels={k: {k: 1} for k in ids},
                    name=f"cldr-{code}",
                    language=code,
                )
                write_beir(collection, tmp, split=split)
            for split, ids in splits.items():
                bitext = Bitext(
                    src=[foreign[k] for k in ids],
                    tgt=[english[k] for k in ids],
                    ids=ids,
                    src_lang=code,
                    tgt_lang="en",
                )
                write_bitext_tsv(bitext, tmp / "bitext" / f"{split}.tsv")
            counts = {
                "documents": len(corpus),
                "queries_test": len(splits["test"]),
                "queries_dev": len(splits["dev"]),
                "skipped_identical": len(identical),
                "missing_in_locale": len(english) - len(shared),
            }
            atomic_write_json(  # last: records every file written above
                tmp / "manifest.json",
                {
                    "settings": asdict(settings),
                    "counts": counts,
                    "language": asdict(CLDR_LANGUAGES[code]),
                    "files": record_files(tmp, exclude=("manifest.json",)),
                },
            )
        results[code] = counts
    return results
