"""SQuAD-format QA files (XQuAD, MLQA) as cross-lingual question→context retrieval.

A SQuAD file is ``{"data": [{"title", "paragraphs": [{"context", "qas":
[{"id", "question", "answers"}]}]}]}``. XQuAD and MLQA share question ids across
languages, so a question in one language's file is aligned, by id, with the
paragraph that holds it in another language's file.

Each paragraph of the context file becomes a :class:`Document` with id
``"<article index>-<paragraph index>"`` (0-based) and the article title; every
paragraph is kept, including those whose questions were not asked, as
distractors. A repeated qa id inside one file is an error.
"""

from __future__ import annotations

import json
import os
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

from optical.data.errors import DataFormatError, read_text
from optical.data.types import Document, RetrievalCollection

__all__ = ["load_squad_clir", "load_squad_parallel", "read_squad", "SquadFile"]

OnMismatch = Literal["error", "intersect"]
_EXPECTED = 'a SQuAD-format JSON file {"data": [{"title", "paragraphs": [{"context", "qas"}]}]}'


@dataclass
class SquadFile:
    """Parsed SQuAD file: paragraphs and questions, in file order."""

    path: Path
    documents: dict[str, Document] = field(default_factory=dict)
    questions: dict[str, str] = field(default_factory=dict)
    context_of: dict[str, str] = field(default_factory=dict)


def _fail(path: Path, location: str, expected: str, got: Any = None) -> DataFormatError:
    shown = None if got is None else json.dumps(got, ensure_ascii=False)
    return DataFormatError(path, None, expected, shown, location=location)


def read_squad(path: str | os.PathLike[str]) -> SquadFile:
    """Parse a SQuAD-format file.

    Returns
    -------
    SquadFile
        ``documents`` (doc id → paragraph), ``questions`` (qa id → question) and
        ``context_of`` (qa id → doc id).

    Raises
    ------
    FileNotFoundError
        No such file.
    DataFormatError
        Invalid JSON (line given), a structure that is not SQuAD's (the JSON
        location is given, e.g. ``data[2].paragraphs[0].qas[1]``), a duplicate qa
        id, or non-UTF-8 text.
    """
    p = Path(path)
    text = read_text(p, _EXPECTED)
    try:
        root = json.loads(text)
    except json.JSONDecodeError as exc:
        raise DataFormatError(
            p, exc.lineno, _EXPECTED, message=f"invalid JSON ({exc.msg}); expected {_EXPECTED}"
        ) from None
    if not isinstance(root, dict) or not isinstance(root.get("data"), list):
        raise _fail(p, "top level", 'an object with a "data" list', None)
    out = SquadFile(p)
    for a, article in enumerate(root["data"]):
        where = f"data[{a}]"
        if not isinstance(article, dict) or not isinstance(article.get("paragraphs"), list):
            raise _fail(p, where, 'an article object with a "paragraphs" list', article)
        title = article.get("title", "")
        title = title if isinstance(title, str) else ""
        for i, para in enumerate(article["paragraphs"]):
            where = f"data[{a}].paragraphs[{i}]"
            if (
                not isinstance(para, dict)
                or not isinstance(para.get("context"), str)
                or not isinstance(para.get("qas"), list)
            ):
                raise _fail(
                    p, where, 'a paragraph object with "context" (string) and "qas" (list)', para
                )
            doc_id = f"{a}-{i}"
            out.documents[doc_id] = Document(doc_id=doc_id, text=para["context"], title=title)
            for j, qa in enumerate(para["qas"]):
                qwhere = f"{where}.qas[{j}]"
                if (
                    not isinstance(qa, dict)
                    or not isinstance(qa.get("id"), (str, int))
                    or not isinstance(qa.get("question"), str)
                ):
                    raise _fail(p, qwhere, 'a qa object with "id" and "question" (string)', qa)
                qid = str(qa["id"])
                if qid in out.questions:
                    raise DataFormatError(
                        p,
                        None,
                        "unique qa ids",
                        location=qwhere,
                        message=f"duplicate qa id {qid!r} (first in paragraph "
                        f"{out.context_of[qid]}); expected unique qa ids",
                    )
                out.questions[qid] = qa["question"]
                out.context_of[qid] = doc_id
    return out


def _mismatch(files: Mapping[str, SquadFile], shared: int) -> str:
    counts = ", ".join(
        f"{label}: {len(f.questions)} questions ({f.path})" for label, f in files.items()
    )
    return f"qa ids do not match across files ({counts}; {shared} ids in all)"


def _examples(ids: list[str], limit: int = 3) -> str:
    return ", ".join(repr(i) for i in ids[:limit]) + (", …" if len(ids) > limit else "")


_XQUAD = re.compile(r"xquad\.([a-z]{2,3})\.json$", re.I)
_MLQA = re.compile(r"context-([a-z]{2,3})-question-([a-z]{2,3})\.json$", re.I)


def _lang(path: Path, role: Literal["question", "context"]) -> str | None:
    if m := _XQUAD.search(path.name):
        return m.group(1).lower()
    if m := _MLQA.search(path.name):
        return (m.group(2) if role == "question" else m.group(1)).lower()
    return None


def load_squad_clir(
    question_file: str | os.PathLike[str],
    context_file: str | os.PathLike[str],
    on_mismatch: OnMismatch = "error",
    question_lang: str | None = None,
    context_lang: str | None = None,
) -> RetrievalCollection:
    """Build question→context retrieval from two SQuAD files aligned by qa id.

    Queries are the questions of ``question_file``; the corpus is every paragraph
    of ``context_file``; qrels give relevance 1 to the paragraph of
    ``context_file`` that holds the question with the same id.

    Parameters
    ----------
    question_file, context_file : str or PathLike
        E.g. ``xquad.sw.json`` and ``xquad.en.json`` (may be the same file).
    on_mismatch : {"error", "intersect"}, default "error"
        If the two files' qa ids differ: raise, or keep only the shared ids (MLQA
        languages cover different subsets of its questions).
    question_lang, context_lang : str, optional
        By default taken from XQuAD/MLQA file names (``xquad.sw.json``,
        ``test-context-de-question-en.json``). ``language`` of the result is the
        context language.

    Raises
    ------
    DataFormatError
        Malformed file, or (with ``on_mismatch="error"``) ids that differ; the
        message gives both files' counts and example ids missing on each side.
    """
    if on_mismatch not in ("error", "intersect"):
        raise ValueError(f"on_mismatch must be 'error' or 'intersect', got {on_mismatch!r}")
    qf, cf = read_squad(question_file), read_squad(context_file)
    only_q = [q for q in qf.questions if q not in cf.context_of]
    only_c = [q for q in cf.questions if q not in qf.questions]
    if (only_q or only_c) and on_mismatch == "error":
        shared = len(qf.questions) - len(only_q)
        raise DataFormatError(
            cf.path,
            None,
            "the same qa ids as the question file",
            message=_mismatch({"questions": qf, "contexts": cf}, shared)
            + f"; {len(only_q)} only in {qf.path.name} (e.g. {_examples(only_q)}), "
            f"{len(only_c)} only in {cf.path.name} (e.g. {_examples(only_c)}); "
            "pass on_mismatch='intersect' to keep the shared ids",
        )
    queries = {q: text for q, text in qf.questions.items() if q in cf.context_of}
    qrels = {q: {cf.context_of[q]: 1} for q in queries}
    qlang = question_lang or _lang(qf.path, "question")
    clang = context_lang or _lang(cf.path, "context")
    return RetrievalCollection(
        corpus=dict(cf.documents),
        queries=queries,
        qrels=qrels,
        name=f"squad-clir:{qlang or qf.path.stem}->{clang or cf.path.stem}",
        language=clang,
    )


def load_squad_parallel(
    files_by_lang: Mapping[str, str | os.PathLike[str]], on_mismatch: OnMismatch = "error"
) -> dict[str, list[str]]:
    """Return the questions of several SQuAD files aligned by qa id.

    Parameters
    ----------
    files_by_lang : mapping
        Language → SQuAD file (e.g. ``{"en": "xquad.en.json", "sw": ...}``).
    on_mismatch : {"error", "intersect"}, default "error"
        If the files' qa ids differ: raise, or keep the ids present in all files.

    Returns
    -------
    dict[str, list[str]]
        Language → questions; item i of every list is the same question, in the
        first file's order.

    Raises
    ------
    ValueError
        ``files_by_lang`` is empty.
    DataFormatError
        Malformed file, or ids that differ (with ``on_mismatch="error"``); the
        message lists each file's count and how many ids all share.
    """
    if on_mismatch not in ("error", "intersect"):
        raise ValueError(f"on_mismatch must be 'error' or 'intersect', got {on_mismatch!r}")
    if not files_by_lang:
        raise ValueError("files_by_lang is empty")
    files = {lang: read_squad(path) for lang, path in files_by_lang.items()}
    first = next(iter(files.values()))
    shared = [q for q in first.questions if all(q in f.questions for f in files.values())]
    n_union = len(set().union(*(f.questions for f in files.values())))
    if len(shared) != n_union and on_mismatch == "error":
        raise DataFormatError(
            first.path,
            None,
            "the same qa ids in every file",
            message=_mismatch(files, len(shared))
            + "; pass on_mismatch='intersect' to keep the shared ids",
        )
    return {lang: [f.questions[q] for q in shared] for lang, f in files.items()}
