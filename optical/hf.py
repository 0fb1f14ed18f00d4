"""Quiet loading of Hugging Face models and tokenizers (one place for the kwargs)."""

from __future__ import annotations

import contextlib
from collections.abc import Iterator

from torch import nn

__all__ = ["load_automodel", "load_tokenizer", "quiet_transformers"]


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


def load_automodel(path: str) -> nn.Module:
    """``AutoModel.from_pretrained(path)`` without a pooler where the model has that option."""
    from transformers import AutoModel

    with quiet_transformers():
        try:  # BERT-style models: e5 ships no pooler, and optical never uses one
            return AutoModel.from_pretrained(path, add_pooling_layer=False)
        except TypeError:
            return AutoModel.from_pretrained(path)


def load_tokenizer(path: str):
    """``AutoTokenizer.from_pretrained(path)``, quietly."""
    from transformers import AutoTokenizer

    with quiet_transformers():
        return AutoTokenizer.from_pretrained(path)
