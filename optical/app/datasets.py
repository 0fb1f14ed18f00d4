"""Which bitext and corpora the app can show, whether they are built, and how to build them."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from optical.app.settings import AppSettings
from optical.assets.bible import bible_dir
from optical.assets.languages import BIBLE_LANGUAGES
from optical.assets.models import is_bundled, model_status
from optical.data.types import Bitext
from optical.dataset_loading import dataset_dir, load_bitext, load_collection
from optical.dataset_spec import DatasetSpec

__all__ = [
    "CorpusInfo",
    "bitext_choices",
    "build_command",
    "corpus_info",
    "dataset_problem",
    "load_corpus",
    "load_pairs",
    "model_problem",
]


@dataclass(frozen=True)
class CorpusInfo:
    """The default search corpus: the dataset spec, its cache name, a label and its family."""

    spec: str
    name: str
    label: str
    family: str = ""


def build_command(spec: str) -> str:
    """The command that builds an embedded dataset (or the bundled models)."""
    try:
        command = DatasetSpec.parse(spec, check=False).build_command
    except ValueError:  # a malformed spec: the page shows dataset_problem's message
        command = None
    return command or "optical assets build"


def dataset_problem(spec: str) -> str | None:
    """Why ``spec`` cannot be read now (not built, missing path), else None; builds nothing."""
    try:
        dataset_dir(spec, build=False)
    except (FileNotFoundError, ValueError) as err:
        return str(err)
    return None


def model_problem(name: str) -> str | None:
    """Why the model ``name`` cannot be loaded (bundled and not built, missing folder), else None."""
    if not name:
        return "no model given"
    if is_bundled(name):
        ok, why = model_status(name)
        return None if ok else f"{name} is {why}; build it with `optical assets build`"
    path = Path(name)
    looks_local = path.is_absolute() or name.startswith((".", "~")) or path.exists()
    if looks_local and not (path.expanduser() / "config.json").is_file():
        return f"{name}: checkpoint missing (no config.json); was the run deleted or moved?"
    return None


def bitext_choices(settings: AppSettings) -> list[str]:
    """The settings' bitext first, then every built Bible language with a bitext test split."""
    out = [settings.bitext]
    root = bible_dir()
    for code in BIBLE_LANGUAGES:
        if code != "en" and (root / code / "bitext" / "test.tsv").is_file():
            spec = f"bible:{code}"
            if spec not in out:
                out.append(spec)
    return out


def load_pairs(spec: str, split: str = "test") -> Bitext:
    """Bitext pairs of ``spec`` (embedded: the ``split``; a TSV path: the whole file)."""
    problem = dataset_problem(spec)
    if problem:
        raise FileNotFoundError(problem)
    return load_bitext(spec, split)


def corpus_info(settings: AppSettings) -> CorpusInfo:
    """The default search corpus (the English New Testament for the embedded Bible)."""
    spec = settings.corpus
    try:
        ds = DatasetSpec.parse(spec, check=False)
    except ValueError:  # a malformed spec: the page shows dataset_problem's message
        return CorpusInfo(spec, spec, f"{spec} corpus")
    return CorpusInfo(spec, ds.corpus_name, ds.corpus_label, ds.family)


def load_corpus(spec: str) -> dict:
    """The documents of a dataset (doc id -> Document); raises FileNotFoundError if not built."""
    problem = dataset_problem(spec)
    if problem:
        raise FileNotFoundError(problem)
    return load_collection(spec, "test").corpus
