"""MIRACL-style collections: topics TSV + TREC qrels + sharded JSONL corpus.

Layout
------
Under the language directory (e.g. ``miracl-v1.0-sw/``), or in its ``topics/``
and ``qrels/`` sub-directories:

- ``topics.<split>.tsv`` or the official ``topics.miracl-v1.0-sw-<split>.tsv``:
  ``qid<TAB>query`` lines;
- ``qrels.<split>.tsv`` or ``qrels.miracl-v1.0-sw-<split>.tsv``: TREC qrels
  (``qid Q0 docid rel``);
- the corpus: ``docs-*.jsonl`` / ``docs-*.jsonl.gz`` shards with ``docid``,
  ``title``, ``text``, in the directory, its ``corpus/`` sub-directory, or
  ``corpus_dir`` (the official corpus ships separately as
  ``miracl-corpus-v1.0-sw/``).

All topics of the split are kept (MIRACL topics files are per split already).
A docid found twice, in one shard or across shards, is an error naming both places.
"""

from __future__ import annotations

import os
import re
import warnings
from pathlib import Path

from optical.data.beir import read_jsonl_corpus
from optical.data.errors import not_found, require_dir
from optical.data.trec import read_qrels, read_topics
from optical.data.types import Document, RetrievalCollection

__all__ = ["load_miracl", "miracl_language"]

_LANG = re.compile(r"^miracl(?:-corpus)?(?:-v[\d.]+)?-([a-z]{2,3})$", re.I)
_DIR_EXPECTED = (
    "a MIRACL directory with topics.<split>.tsv, qrels.<split>.tsv and docs-*.jsonl(.gz)"
)


def miracl_language(name: str) -> str | None:
    """Language code in a MIRACL directory name (``miracl-v1.0-sw`` → ``"sw"``), else None."""
    m = _LANG.match(name)
    return m.group(1).lower() if m else None


def _find_split_file(root: Path, kind: str, split: str) -> Path:
    candidates: list[Path] = []
    for folder in (root, root / kind):
        candidates += [
            folder / f"{kind}.{split}.tsv",
            *sorted(folder.glob(f"{kind}.*-{split}.tsv")),
        ]
    for c in candidates:
        if c.is_file():
            return c
    found = sorted(
        p.name
        for folder in (root, root / kind)
        if folder.is_dir()
        for p in folder.glob(f"{kind}.*")
    )
    what = "qid<TAB>query lines" if kind == "topics" else "TREC qrels: qid Q0 docid rel"
    raise not_found(
        root / f"{kind}.{split}.tsv",
        f"No {kind} file for split {split!r} (expected {kind}.{split}.tsv or "
        f"{kind}.*-{split}.tsv in {root} or {root / kind}: {what}; "
        f"{kind} files found: {found or 'none'})",
    )


def _natural_key(path: Path) -> list[object]:
    return [int(t) if t.isdigit() else t for t in re.split(r"(\d+)", path.name)]


def _corpus_shards(folders: list[Path]) -> list[Path]:
    for folder in folders:
        shards = [*folder.glob("docs-*.jsonl"), *folder.glob("docs-*.jsonl.gz")]
        if shards:
            return sorted(shards, key=_natural_key)
    raise not_found(
        folders[0],
        f"No docs-*.jsonl or docs-*.jsonl.gz corpus shards in {', '.join(map(str, folders))} "
        '(expected JSONL with "docid", "title", "text"; pass corpus_dir= to point at the corpus)',
    )


def load_miracl(
    path: str | os.PathLike[str],
    split: str = "dev",
    language: str | None = None,
    corpus_dir: str | os.PathLike[str] | None = None,
    strict: bool = False,
) -> RetrievalCollection:
    """Load a MIRACL-style directory (see the module docstring for the layout).

    Parameters
    ----------
    path : str or PathLike
        The language directory, e.g. ``miracl-v1.0-sw``.
    split : str, default "dev"
        Which topics/qrels to load.
    language : str, optional
        Language code; by default parsed from the directory name (or the corpus
        directory's), e.g. ``miracl-v1.0-sw`` → ``"sw"``.
    corpus_dir : str or PathLike, optional
        Where the ``docs-*.jsonl(.gz)`` shards are, if not in ``path`` or ``path/corpus``.
    strict : bool, default False
        Raise (instead of warning) if the qrels name unknown queries or documents.

    Raises
    ------
    FileNotFoundError
        The directory, the split's topics/qrels, or the corpus shards are missing.
    DataFormatError
        Malformed content, including a docid repeated across shards.
    """
    root = require_dir(path, _DIR_EXPECTED)
    topics = read_topics(_find_split_file(root, "topics", split))
    qrels = read_qrels(_find_split_file(root, "qrels", split))
    if corpus_dir is not None:
        folders = [require_dir(corpus_dir, "MIRACL corpus shards docs-*.jsonl(.gz)")]
    else:
        folders = [root, root / "corpus"]
    corpus: dict[str, Document] = {}
    origins: dict[str, tuple[str, int]] = {}
    for shard in _corpus_shards(folders):
        read_jsonl_corpus(shard, id_key="docid", corpus=corpus, origins=origins)
    language = language or miracl_language(root.name)
    if language is None and corpus_dir is not None:
        language = miracl_language(Path(corpus_dir).name)
    collection = RetrievalCollection(
        corpus=corpus, queries=topics, qrels=qrels, name=f"{root.name}/{split}", language=language
    )
    issues = collection.validate(strict=strict)
    if issues:
        warnings.warn(
            f"{collection.name}: {len(issues)} qrels issues, e.g. {issues[0]}", stacklevel=2
        )
    return collection
