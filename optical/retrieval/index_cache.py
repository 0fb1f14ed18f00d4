"""Indexes built on demand and cached under ``$OPTICAL_HOME/indexes``.

Cache folder (:func:`index_cache_dir`): ``$OPTICAL_HOME/indexes/<name>-<fingerprint[:12]>-
<corpus checksum[:12]>[-<kind>]/``. The key depends on the *vectors* (model
fingerprint) and the *texts* (checksum over ids and texts, in order), never on the
system using them, so every system sharing a document encoder reuses one index.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

from optical.paths import optical_home
from optical.retrieval.fingerprint import model_fingerprint
from optical.retrieval.index import DenseIndex
from optical.retrieval.index_format import META_FILE, CorpusLike, corpus_checksum

__all__ = ["corpus_index", "index_cache_dir"]

_UNSAFE = re.compile(r"[^A-Za-z0-9._-]+")


def index_cache_dir(encoder, corpus: CorpusLike, name: str, kind: str = "flat") -> Path:
    """``$OPTICAL_HOME/indexes/<name>-<fingerprint[:12]>-<checksum[:12]>[-<kind>]``."""
    safe = _UNSAFE.sub("-", name).strip("-.") or "corpus"
    key = f"{safe}-{model_fingerprint(encoder)[:12]}-{corpus_checksum(corpus)[:12]}"
    if kind != "flat":
        key += f"-{kind}"
    return optical_home() / "indexes" / key


def corpus_index(
    encoder,
    corpus: CorpusLike,
    name: str,
    with_tokens: bool = False,
    kind: str = "flat",
    batch_size: int = 64,
    progress: bool = True,
    **params: Any,
) -> DenseIndex:
    """The cached index of ``corpus`` under ``encoder``, built on first use.

    An existing cached index is reused when its files match their checksums and it
    holds exactly ``corpus``; a corrupt one, one of an older format, or one without a
    token store when ``with_tokens`` is requested is rebuilt (replaced atomically). See
    the module docstring for the cache key.
    """
    folder = index_cache_dir(encoder, corpus, name, kind)
    if (folder / META_FILE).is_file():
        try:
            index = DenseIndex.load(folder, encoder=encoder, corpus=corpus)
        except (ValueError, FileNotFoundError, OSError, RuntimeError):
            index = None  # corrupt or from an old format: rebuild
        if index is not None and (index.tokens is not None or not with_tokens):
            return index
    return DenseIndex.build(
        encoder,
        corpus,
        path=folder,
        kind=kind,
        with_tokens=with_tokens,
        batch_size=batch_size,
        progress=progress,
        **params,
    )
