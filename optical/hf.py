"""Quiet loading of Hugging Face models and tokenizers (one place for the kwargs and errors).

Every model optical loads (encoders, the trainer's teacher and student, the app's models)
comes through :func:`load_tokenizer` / :func:`load_automodel`. A name that is neither a
local model folder nor a loadable Hugging Face id raises one clear error
(:class:`ModelNotFoundError`, a ``FileNotFoundError``) instead of transformers' chained
tracebacks.
"""

from __future__ import annotations

import contextlib
import os
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import TypeVar

from torch import nn

__all__ = [
    "ModelNotFoundError",
    "check_model_source",
    "load_automodel",
    "load_seq2seq",
    "load_tokenizer",
    "looks_like_path",
    "quiet_transformers",
]

T = TypeVar("T")


class ModelNotFoundError(FileNotFoundError):
    """A model name or path that can be loaded neither locally nor from the hub."""

    def __str__(self) -> str:  # one line, without errno decorations
        return str(self.args[0]) if self.args else ""


@contextlib.contextmanager
def quiet_transformers() -> Iterator[None]:
    """Silence transformers' load reports and progress bars inside the block."""
    from transformers.utils import logging as hf_logging

    verbosity = hf_logging.get_verbosity()
    hf_logging.set_verbosity_error()
    hf_logging.disable_progress_bar()
    try:
        yield
    finally:
        hf_logging.set_verbosity(verbosity)
        hf_logging.enable_progress_bar()


def looks_like_path(name: str) -> bool:
    """A path rather than a hub id: absolute, relative (./ ../ ~), or more than one '/'."""
    return (
        name.startswith(("/", "./", "../", "~", "\\"))
        or name in (".", "..")
        or name.count("/") > 1
        or (os.sep != "/" and os.sep in name)
    )


def _offline() -> bool:
    flags = (os.environ.get(v, "").strip().lower() for v in ("HF_HUB_OFFLINE", "TRANSFORMERS_OFFLINE"))
    return any(f in {"1", "true", "yes", "on"} for f in flags)


def _bundled_names() -> str:
    from optical.assets.models import BUNDLED_MODELS, BUNDLED_PREFIX

    return ", ".join(BUNDLED_PREFIX + k for k in BUNDLED_MODELS)


def _not_found(name: str, hub_reason: str | None) -> ModelNotFoundError:
    msg = f"{name}: no such model: neither a local model folder nor a bundled name ({_bundled_names()})"
    if hub_reason:
        msg += f"; {hub_reason}"
    return ModelNotFoundError(msg)


def check_model_source(name: str) -> None:
    """Fail fast, before transformers, for what cannot be a model: a missing local path,
    a file where a folder belongs, a folder without ``config.json``."""
    name = os.fspath(name)
    path = Path(name).expanduser()
    if path.is_dir():
        if not (path / "config.json").is_file():
            raise ModelNotFoundError(
                f"{name}: a folder, but not a Hugging Face model folder (no config.json)"
            )
        return
    if path.exists():
        raise ModelNotFoundError(f"{name}: a file; expected a model folder, a bundled name or a hub id")
    if looks_like_path(name):
        raise _not_found(name, None)


def _hub_reason(err: BaseException) -> str:
    text = str(err)
    if _offline():
        return ("not in the local Hugging Face cache, and the hub is unreachable offline "
                "(HF_HUB_OFFLINE / TRANSFORMERS_OFFLINE is set)")
    if "connect" in text.lower() or "offline" in text.lower():
        return "not in the local Hugging Face cache, and the Hugging Face hub could not be reached (offline?)"
    first = text.strip().splitlines()[0] if text.strip() else type(err).__name__
    return f"the Hugging Face hub has no such model ({first})"


def _load(name: str, load: Callable[[], T]) -> T:
    check_model_source(name)
    try:
        with quiet_transformers():
            return load()
    except OSError as err:  # transformers reports every "cannot find it" as OSError
        if Path(name).expanduser().is_dir():
            first = str(err).strip().splitlines()[0] if str(err).strip() else type(err).__name__
            raise ModelNotFoundError(f"{name}: cannot load this model folder: {first}") from None
        raise _not_found(name, _hub_reason(err)) from None


def load_automodel(path: str) -> nn.Module:
    """``AutoModel.from_pretrained(path)`` without a pooler where the model has that option."""
    from transformers import AutoModel

    def load() -> nn.Module:
        try:  # BERT-style models: e5 ships no pooler, and optical never uses one
            return AutoModel.from_pretrained(path, add_pooling_layer=False)
        except TypeError:
            return AutoModel.from_pretrained(path)

    return _load(str(path), load)


def load_seq2seq(path: str) -> nn.Module:
    """``AutoModelForSeq2SeqLM.from_pretrained(path)`` (MarianMT, NLLB, mT5, ...); a model of
    another kind is refused with a ValueError naming it."""
    from transformers import AutoConfig, AutoModelForSeq2SeqLM

    def load() -> nn.Module:
        config = AutoConfig.from_pretrained(path)
        if not getattr(config, "is_encoder_decoder", False):
            raise ValueError(
                f"{path}: a {config.model_type} model is not a sequence-to-sequence (translation) "
                "model; give a MarianMT, NLLB, M2M100 or mT5 checkpoint"
            )
        return AutoModelForSeq2SeqLM.from_pretrained(path)

    return _load(str(path), load)


def load_tokenizer(path: str):
    """``AutoTokenizer.from_pretrained(path)``, quietly."""
    from transformers import AutoTokenizer

    return _load(str(path), lambda: AutoTokenizer.from_pretrained(path))
