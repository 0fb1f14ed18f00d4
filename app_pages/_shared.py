"""What the pages share: settings, cached models / indexes / tables, and error display.

Models, indexes and retrievers load once per server through ``st.cache_resource``
(shared by every session); tables through ``st.cache_data``. Errors become a message
on the page (:func:`guard`), never a traceback.
"""

from __future__ import annotations

import logging
import re
import threading
from collections import OrderedDict
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path

import streamlit as st

from optical.app.available_systems import AppSystem, available_systems, find_runs
from optical.app.datasets import load_corpus, load_pairs, model_problem
from optical.app.live_query import UploadedCorpus, build_memory_index
from optical.app.locking import MODEL_LOCK
from optical.app.results_view import ResultsData, load_results, significance_marks
from optical.app.settings import AppSettings
from optical.app.transport_view import Alignment, AlignOptions, align, fit_geometry
from optical.encoders import Encoder
from optical.losses import TokenGeometry
from optical.retrieval import Retriever, corpus_index
from optical.run_folder import RunFolder
from optical.systems import load_encoder_cached

__all__ = [
    "alignment",
    "encoder",
    "guard",
    "md",
    "marks",
    "pairs",
    "results",
    "retriever",
    "runs",
    "settings",
    "systems",
    "upload_retriever",
]

log = logging.getLogger("optical.app")
_UPLOADS: OrderedDict[tuple[str, str, str, str], Retriever] = OrderedDict()
_UPLOAD_LOCK = threading.Lock()
_MAX_UPLOADS = 2  # uploaded-corpus indexes kept in memory (token stores are large)


def settings() -> AppSettings:
    """The app settings from the environment; a bad value stops the page with a message."""
    try:
        return AppSettings.from_env()
    except ValueError as err:
        st.error(f"Bad app setting: {err}")
        st.stop()


_MD_SPECIAL = re.compile(r"([\\`*_{}\[\]()#+\-.!|~$<>:])")


def md(text: str) -> str:
    """``text`` escaped for st.markdown and widget labels (corpus text may hold ` * $ ...)."""
    return _MD_SPECIAL.sub(r"\\\1", text)


def _message(err: BaseException) -> str:
    text = str(err.args[0]) if isinstance(err, KeyError) and err.args else str(err)
    known = (ValueError, FileNotFoundError, RuntimeError, OSError, TypeError)
    return text if isinstance(err, known) and text else f"{type(err).__name__}: {text}"


@contextmanager
def guard(what: str, stop: bool = True) -> Iterator[None]:
    """Show any error raised inside as ``st.error`` (logged with its traceback on the server).

    With ``stop`` the rest of the page is skipped (it would depend on what failed).
    """
    try:
        yield
    except Exception as err:  # every failure becomes a message on the page
        log.warning("%s failed", what, exc_info=True)
        st.error(f"{what}: {_message(err)}")
        if stop:
            st.stop()


# ------------------------------------------------------------------------ models
@st.cache_resource(show_spinner="Loading the model (once per server)…")
def _encoder(name: str, device: str) -> Encoder:
    return load_encoder_cached(name, device)


def encoder(name: str, device: str) -> Encoder:
    """A shared encoder; a missing or unbuilt model raises ValueError saying what to run."""
    problem = model_problem(name)
    if problem:
        raise ValueError(problem)
    return _encoder(name, device)


@st.cache_data(ttl=15, show_spinner=False)
def _systems(s: AppSettings) -> list[AppSystem]:
    return available_systems(s)


def systems(s: AppSettings) -> list[AppSystem]:
    """zero-shot + finished runs (re-scanned every 15 s)."""
    return _systems(s)


@st.cache_data(ttl=15, show_spinner=False)
def runs(roots: tuple[str, ...]) -> list[RunFolder]:
    """Every run folder (finished or not) under ``roots``."""
    return find_runs([Path(r) for r in roots])


# --------------------------------------------------------------------- alignment
@st.cache_data(show_spinner=False, max_entries=32)
def pairs(spec: str) -> tuple[list[str], list[str], list[str], str, str]:
    """Source sentences, target sentences, ids and the two languages of a bitext's test split."""
    bitext = load_pairs(spec, "test")
    ids = bitext.ids or [str(i) for i in range(1, len(bitext) + 1)]
    return (
        list(bitext.src),
        list(bitext.tgt),
        list(ids),
        bitext.src_lang or "source",
        bitext.tgt_lang or "target",
    )


@st.cache_resource(show_spinner="Fitting the geometry on the teacher's tokens (once)…")
def _geometry(
    teacher: str, bitext: str, as_query: bool, device: str, kind: str = "whiten"
) -> TokenGeometry | None:
    for split in ("train", "test"):
        try:
            sentences = load_pairs(bitext, split).tgt[:64]
        except (FileNotFoundError, ValueError):
            continue
        return fit_geometry(encoder(teacher, device), sentences, kind, as_query)
    return None


@st.cache_data(show_spinner="Aligning…", max_entries=128)
def alignment(
    student: str,
    teacher: str,
    source: str,
    target: str,
    options: AlignOptions,
    bitext: str,
    device: str,
) -> Alignment:
    """The OT alignment of one pair by (student, teacher) (see :func:`optical.app.transport_view.align`)."""
    geometry = (
        None
        if options.geometry == "raw"
        else _geometry(teacher, bitext, options.target_as_query, device, options.geometry)
    )
    return align(
        encoder(student, device), encoder(teacher, device), source, target, options, geometry
    )


# ------------------------------------------------------------------------ search
@st.cache_resource(show_spinner="Reading the corpus…")
def _corpus(spec: str) -> dict:
    return load_corpus(spec)


def corpus(spec: str) -> dict:
    """The documents of the default corpus (doc id -> Document), loaded once."""
    return _corpus(spec)


@st.cache_resource(show_spinner="Opening the index (once per server)…")
def retriever(query_model: str, doc_model: str, spec: str, name: str, device: str) -> Retriever:
    """A retriever over the default corpus's cached index (built here when missing: other
    sessions' model calls wait meanwhile)."""
    doc_enc = encoder(doc_model, device)
    with MODEL_LOCK:
        index = corpus_index(doc_enc, _corpus(spec), name=name, with_tokens=True, progress=False)
    return Retriever(encoder(query_model, device), doc_enc, index)


def upload_retriever(
    query_model: str,
    doc_model: str,
    upload: UploadedCorpus,
    device: str,
    progress: Callable[[float, str], None] | None = None,
) -> Retriever:
    """A retriever over an uploaded corpus (in memory; the last two corpora are kept)."""
    key = (query_model, doc_model, upload.checksum, device)
    with _UPLOAD_LOCK:
        if key in _UPLOADS:
            _UPLOADS.move_to_end(key)
            return _UPLOADS[key]
    doc_enc = encoder(doc_model, device)
    index = build_memory_index(doc_enc, upload.docs, progress)
    found = Retriever(encoder(query_model, device), doc_enc, index)
    with _UPLOAD_LOCK:
        _UPLOADS[key] = found
        while len(_UPLOADS) > _MAX_UPLOADS:
            _UPLOADS.popitem(last=False)
    return found


# ----------------------------------------------------------------------- results
def _stamp(path: Path) -> tuple[float, int]:
    try:
        stat = path.stat()
    except OSError:
        return (0.0, 0)
    return (stat.st_mtime, stat.st_size)


@st.cache_data(show_spinner=False, max_entries=4)
def _results(path: str, stamp: tuple[float, int]) -> ResultsData:
    return load_results(path)


def results(path: Path) -> ResultsData:
    """The results store as frames (re-read when the file changes); a line that is not a
    results row raises ``ValueError`` naming it."""
    return _results(str(path), _stamp(path))


@st.cache_data(show_spinner="Testing significance…", max_entries=32)
def _marks(
    path: str,
    stamp: tuple[float, int],
    split: str,
    fam: str,
    systems: tuple[str, ...],
    baseline: str,
    group: str | None,
    mode: str | None,
):
    return significance_marks(
        _results(path, stamp).in_group(group).in_mode(mode), split, fam, systems=list(systems), baseline=baseline
    )


def marks(
    path: Path,
    split: str,
    fam: str,
    systems: tuple[str, ...],
    baseline: str,
    group: str | None = None,
    mode: str | None = None,
):
    """Significance marks vs ``baseline`` within one experiment ``group`` and scoring
    ``mode`` (None: all rows); see :func:`optical.app.results_view.significance_marks`."""
    return _marks(str(path), _stamp(path), split, fam, systems, baseline, group, mode)
