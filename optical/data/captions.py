"""Image captions in several languages as parallel text and as a retrieval task.

Two layouts are read:

- **Multi30k**: one plain-text file per language (``train.en``, ``train.de``,
  ``test_2016_flickr.fr``, possibly ``.gz``), one caption per line; line i of
  every file describes image i. An empty line is an error (it would silently
  shift the alignment).
- **Flickr30k tokens** (``results_20130124.token``, ``captions.txt``):
  ``<image>#<k><TAB>caption`` per line; files are aligned by the ``image#k`` key.
  Blank lines are ignored; a repeated key is an error.

The layout is detected from the content: a file whose first non-blank line
starts with ``something#<digits><TAB>`` is a token file.
"""

from __future__ import annotations

import os
import re
from collections.abc import Mapping, Sequence
from pathlib import Path

from optical.data.errors import DataFormatError, iter_lines
from optical.data.types import Document, RetrievalCollection

__all__ = [
    "read_caption_lines",
    "read_flickr_tokens",
    "load_parallel_captions",
    "caption_retrieval_collection",
]

_TOKEN_LINE = re.compile(r"^([^\t#\s][^\t#]*#\d+)\t(.*)$")
_LINES_EXPECTED = "one caption per line (Multi30k layout)"
_TOKENS_EXPECTED = "<image>#<k><TAB>caption per line (Flickr30k token layout)"


def read_caption_lines(path: str | os.PathLike[str]) -> list[str]:
    """Read a Multi30k-style file: one caption per line, line i ↔ image i.

    Raises
    ------
    FileNotFoundError
        No such file.
    DataFormatError
        An empty line (it would break the alignment), or non-UTF-8 text.
    """
    captions: list[str] = []
    for lineno, text in iter_lines(path, _LINES_EXPECTED):
        if not text.strip():
            raise DataFormatError(
                path,
                lineno,
                "one caption per line",
                message="empty line; expected one caption per line (line i describes image i, "
                "so a blank line would shift the alignment)",
            )
        captions.append(text)
    return captions


def read_flickr_tokens(path: str | os.PathLike[str]) -> dict[str, str]:
    """Read a Flickr30k token file into ``{"<image>#<k>": caption}`` (file order).

    Raises
    ------
    FileNotFoundError
        No such file.
    DataFormatError
        A line not of the form ``image#k<TAB>caption``, an empty caption, a
        repeated key (both lines named), or non-UTF-8 text.
    """
    captions: dict[str, str] = {}
    first: dict[str, int] = {}
    for lineno, text in iter_lines(path, _TOKENS_EXPECTED):
        if not text.strip():
            continue
        m = _TOKEN_LINE.match(text)
        if not m or not m.group(2).strip():
            raise DataFormatError(path, lineno, "<image>#<k><TAB>non-empty caption", text)
        key = m.group(1)
        if key in first:
            raise DataFormatError(
                path,
                lineno,
                "unique image#k keys",
                message=f"duplicate key {key!r} (first on line {first[key]}); "
                "expected unique image#k keys",
            )
        first[key] = lineno
        captions[key] = m.group(2)
    return captions


def _is_token_file(path: Path) -> bool:
    for _, text in iter_lines(path, "a caption file"):
        if text.strip():
            return bool(_TOKEN_LINE.match(text))
    return False


def load_parallel_captions(
    files_by_lang: Mapping[str, str | os.PathLike[str]],
) -> dict[str, list[str]]:
    """Read caption files of several languages, aligned.

    Parameters
    ----------
    files_by_lang : mapping
        Language → file, all in the same layout (see the module docstring).

    Returns
    -------
    dict[str, list[str]]
        Language → captions; item i of every list describes the same image (for
        token files: the same ``image#k``, in the first file's order).

    Raises
    ------
    ValueError
        No files, or a mix of the two layouts.
    DataFormatError
        Malformed file, different line counts (all counts listed), or token
        files whose keys differ.
    """
    if not files_by_lang:
        raise ValueError("files_by_lang is empty")
    paths = {lang: Path(p) for lang, p in files_by_lang.items()}
    kinds = {lang: _is_token_file(p) for lang, p in paths.items()}
    if len(set(kinds.values())) > 1:
        listing = ", ".join(
            f"{p} ({'token' if kinds[lang] else 'plain'})" for lang, p in paths.items()
        )
        raise ValueError(
            f"caption files mix the Multi30k (one caption per line) and Flickr30k token "
            f"(image#k<TAB>caption) layouts: {listing}"
        )
    first_lang, first_path = next(iter(paths.items()))
    if not kinds[first_lang]:
        lines = {lang: read_caption_lines(p) for lang, p in paths.items()}
        counts = {len(v) for v in lines.values()}
        if len(counts) > 1:
            listing = ", ".join(f"{paths[lang]}: {len(v)}" for lang, v in lines.items())
            raise DataFormatError(
                first_path,
                None,
                "line-aligned files",
                message=f"caption files have different line counts ({listing}); expected "
                "line-aligned files (line i of each describes image i)",
            )
        return lines
    tokens = {lang: read_flickr_tokens(p) for lang, p in paths.items()}
    keys = list(tokens[first_lang])
    for lang, caps in tokens.items():
        if caps.keys() != tokens[first_lang].keys():
            shared = len(caps.keys() & tokens[first_lang].keys())
            raise DataFormatError(
                paths[lang],
                None,
                f"the same image#k keys as {first_path}",
                message=f"image#k keys differ: {len(caps)} in {paths[lang]}, "
                f"{len(keys)} in {first_path}, {shared} shared",
            )
    return {lang: [caps[k] for k in keys] for lang, caps in tokens.items()}


def caption_retrieval_collection(
    src_captions: Sequence[str],
    tgt_captions: Sequence[str],
    src_lang: str,
    tgt_lang: str,
) -> RetrievalCollection:
    """Caption-to-caption retrieval: query ``q<i>`` is ``src_captions[i]``, its
    one relevant document ``d<i>`` is ``tgt_captions[i]`` (score with R@1).

    Raises
    ------
    ValueError
        The two lists differ in length.
    """
    if len(src_captions) != len(tgt_captions):
        raise ValueError(
            f"caption lists differ in length: {len(src_captions)} {src_lang} vs "
            f"{len(tgt_captions)} {tgt_lang}"
        )
    corpus = {f"d{i}": Document(doc_id=f"d{i}", text=t) for i, t in enumerate(tgt_captions)}
    queries = {f"q{i}": s for i, s in enumerate(src_captions)}
    qrels = {f"q{i}": {f"d{i}": 1} for i in range(len(src_captions))}
    return RetrievalCollection(
        corpus=corpus,
        queries=queries,
        qrels=qrels,
        name=f"captions:{src_lang}->{tgt_lang}",
        language=tgt_lang,
    )
