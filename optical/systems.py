"""A retrieval *system*: which encoder reads the queries and which the documents.

Spec strings, accepted everywhere a system is named (CLI, notebooks, app):

- ``zero-shot``: the bundled multilingual-e5-small on both sides;
- a model name or path (``bundled:...``, a Hugging Face id, a folder): both sides;
- a distillation run folder (has ``summary.json``): its student on the student's side
  and the frozen teacher on the other side, exactly as it was trained;
- ``query=<model>,doc=<model>``: explicit sides;
- ``translate:<mt-model>[@<target-language-token>]``: every query translated by a
  sequence-to-sequence model (:mod:`optical.translation`), then retrieved with the
  zero-shot model (the translate-test baseline);
- ``lexicon:<lexicon>``: every query translated word by word (each word's most probable
  English translation; a word without one is kept) through a translation table learned
  from the dataset's training bitext (:mod:`optical.lexicon`), then retrieved with the
  zero-shot model; ``<lexicon>`` is ``<source>[,pairs=<n>|all][,top=<n>][,min_p=<x>]
  [@<bitext.tsv>]`` with source ``eflomal`` (word aligner) or ``ot`` (OPTICAL transport
  plans of the zero-shot model), e.g. ``lexicon:eflomal``, ``lexicon:ot,pairs=5000``;
- ``bm25`` / ``bm25+translate:<mt-model>`` / ``bm25+lexicon:<lexicon>``: BM25 over the
  corpus's words (:mod:`optical.retrieval.lexical`), with the queries as given or
  translated first;
- ``psq:<lexicon>``: probabilistic structured queries: BM25 of every translation of every
  query word, weighted by its probability (:meth:`~optical.retrieval.lexical.BM25Index.search_weighted`);
- ``rrf:<system>|<system>[|...]``: reciprocal-rank fusion of the systems' rankings
  (:mod:`optical.retrieval.fusion`), e.g. ``rrf:bm25+translate:<model>|zero-shot``.

A lexicon system's ``translator`` is ``lexicon:<canonical lexicon>`` (1-best translation)
or ``psq:<canonical lexicon>`` (weighted query), the canonical form naming every setting
(``lexicon:eflomal,pairs=all,top=10,min_p=0.05``): rows record it, and two lexicons never
share a row key. ``lexicon:`` systems are of kind ``translate``, ``bm25+lexicon:`` and
``psq:`` ones of kind ``bm25`` (lexical rankings: scored pooled only).

Encoders are loaded once per process and shared (:func:`load_encoder_cached`).
"""

from __future__ import annotations

import threading
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

from optical.dataset_spec import DatasetSpec
from optical.encoders import Encoder, load_encoder
from optical.hf import looks_like_path
from optical.run_folder import RunFolder, read_summary

__all__ = ["System", "ZERO_SHOT", "parse_system", "load_encoder_cached", "release_encoders", "corpus_name"]

ZERO_SHOT = "bundled:multilingual-e5-small"
BM25 = "bm25"  # the query / document "model" of a lexical system
_CACHE: dict[tuple[str, str], Encoder] = {}
_LOCK = threading.Lock()


@dataclass(frozen=True)
class System:
    name: str
    query_model: str
    doc_model: str
    kind: str = "zero-shot"  # "zero-shot" | "trained" | "model" | "translate" | "bm25" | "rrf"
    run_dir: str | None = None
    translator: str | None = None  # translate-test: the queries' translation model (or lexicon:/psq:<lexicon>)
    parts: tuple[System, ...] | None = None  # rrf: the fused systems

    def to_dict(self) -> dict:
        return asdict(self)

    def identity(self) -> dict[str, Any]:
        """What makes two evaluations of this system the same: its fields, and for a
        trained system its run's training time (a retrained run in the same folder is a
        different system). Part of every results row's key."""
        ident: dict[str, Any] = self.to_dict()
        for field_name in ("translator", "parts"):
            if ident[field_name] is None:
                del ident[field_name]  # the identity of every other system is what it always was
        if self.parts is not None:
            ident["parts"] = [p.identity() for p in self.parts]
        if self.run_dir:
            folder = RunFolder(Path(self.run_dir))
            ident["summary"] = folder.summary().train_seconds if folder.finished else None
        return ident

    @property
    def student_side(self) -> str:
        """Which side the trained encoder reads (``query`` unless its run says otherwise)."""
        if self.run_dir and RunFolder(Path(self.run_dir)).finished:
            return read_summary(self.run_dir).student_side
        return "query"


def parse_system(spec: str, name: str | None = None) -> System:
    """Turn a system spec (see the module docstring) into a :class:`System`."""
    spec = str(spec).strip()
    if not spec:
        raise ValueError("empty system spec")
    if spec == "zero-shot":
        return System(name or "zero-shot", ZERO_SHOT, ZERO_SHOT, "zero-shot")
    if spec.startswith("rrf:"):
        specs = [s.strip() for s in spec[len("rrf:"):].split("|")]
        if len(specs) < 2 or not all(specs):
            raise ValueError(f"{spec!r}: expected rrf:<system>|<system>[|...] (at least two systems)")
        parts = tuple(parse_system(s) for s in specs)
        label = f"rrf({', '.join(p.name for p in parts)})"
        return System(name or label, "rrf", "rrf", "rrf", parts=parts)
    if spec == "bm25" or spec.startswith("bm25+"):
        rest = spec[len("bm25"):].lstrip("+")
        if rest and not rest.startswith(("translate:", "lexicon:")):
            raise ValueError(f"{spec!r}: expected bm25 or bm25+translate:<model> (or bm25+lexicon:<lexicon>)")
        translated = parse_system(rest) if rest else None
        label = "bm25" if translated is None else f"bm25+{translated.name}"
        return System(name or label, BM25, BM25, "bm25", translator=translated and translated.translator)
    if spec.startswith(("lexicon:", "psq:")):
        from optical.lexicon import LexiconSpec

        use, _, text = spec.partition(":")
        lexicon = LexiconSpec.parse(text)  # ValueError: unknown source, bad option, no such bitext file
        if use == "psq":
            return System(name or spec, BM25, BM25, "bm25", translator=f"psq:{lexicon}")
        return System(name or spec, ZERO_SHOT, ZERO_SHOT, "translate", translator=f"lexicon:{lexicon}")
    if spec.startswith("translate:"):
        model = spec[len("translate:"):].strip()
        if not model:
            raise ValueError(f"{spec!r}: give the translation model, e.g. translate:Helsinki-NLP/opus-mt-sw-en")
        from optical.hf import check_model_source

        check_model_source(model.rsplit("@", 1)[0])
        label = model.rstrip("/").rsplit("/", 1)[-1]
        return System(name or f"translate:{label}", ZERO_SHOT, ZERO_SHOT, "translate", translator=model)
    if spec.startswith("query="):
        parts = dict(p.split("=", 1) for p in spec.split(",") if "=" in p)
        if set(parts) != {"query", "doc"}:
            raise ValueError(f"{spec!r}: expected query=<model>,doc=<model>")
        for side, model in parts.items():
            if not model.strip() or (not Path(model).exists() and looks_like_path(model)):
                raise ValueError(f"{spec!r}: {side} model {model!r}: no such model folder")
        return System(name or spec, parts["query"], parts["doc"], "model")
    if RunFolder(Path(spec)).finished:
        info = read_summary(spec)
        query, doc = (info.student, info.teacher) if info.student_side == "query" else (info.teacher, info.student)
        return System(name or info.system, query, doc, "trained", str(Path(spec)))
    if Path(spec).exists() and not (Path(spec) / "config.json").is_file():
        raise ValueError(f"{spec}: neither a model folder (config.json) nor a finished run (summary.json); "
                         "if it is a run in progress, wait for it to finish")
    if not Path(spec).exists() and looks_like_path(spec):
        raise ValueError(f"{spec}: no such run or model folder (a system is zero-shot, a run folder with "
                         "summary.json, a model folder, a bundled name, a Hugging Face id or "
                         "query=<model>,doc=<model>)")
    return System(name or Path(spec).name or spec, spec, spec, "model")


def load_encoder_cached(name_or_path: str, device: str | None = None) -> Encoder:
    """One shared :class:`Encoder` per (model, device) in this process (thread-safe)."""
    key = (str(name_or_path), str(device))
    with _LOCK:
        if key not in _CACHE:
            enc = load_encoder(name_or_path, device=device)
            enc.eval()
            _CACHE[key] = enc
        return _CACHE[key]


def release_encoders(*names: str) -> None:
    """Forget cached encoders of these models (a sweep drops each student after evaluating it)."""
    with _LOCK:
        for key in [k for k in _CACHE if k[0] in names]:
            del _CACHE[key]


def corpus_name(spec: str | DatasetSpec) -> str:
    """Cache name of a dataset's corpus (:attr:`DatasetSpec.corpus_name`: ``bible`` for every
    ``bible:<lang>``, else the file stem or folder name)."""
    return DatasetSpec.parse(spec, check=False).corpus_name
