"""A content hash of an encoder: which vectors it produces, not what it is called.

Two encoders share a fingerprint exactly when they have the same parameters and
buffers (names, dtypes, shapes and bytes — the optional projection included), the
same vocabulary and the same vector conventions (prefixes, pooling, normalisation,
token limit). The model's *name* is deliberately left out: the bundled name and
its cache folder give the same vectors, hence the same fingerprint.
"""

from __future__ import annotations

import hashlib
import json
from typing import Any

import torch

__all__ = ["model_fingerprint", "fingerprint_settings"]

_ATTR = "_optical_fingerprint"
_FORMAT = "optical-fingerprint-v1"


def fingerprint_settings(encoder: Any) -> dict:
    """The encoder settings that enter the fingerprint (``settings()`` minus the name)."""
    settings = dict(encoder.settings())
    settings.pop("name_or_path", None)
    return settings


def _state(encoder: Any) -> dict[str, torch.Tensor]:
    module = encoder if isinstance(encoder, torch.nn.Module) else encoder.model
    return module.state_dict()


def _cache_key(encoder: Any, state: dict[str, torch.Tensor]) -> tuple:
    """Cheap identity of the current weights: storage, version counter and shape per tensor.

    ``Tensor._version`` increases on every in-place update (optimiser steps,
    ``load_state_dict``), so a cached fingerprint is never stale after training.
    """
    tensors = tuple(
        (name, t.data_ptr(), t._version, tuple(t.shape), str(t.dtype), str(t.device))
        for name, t in state.items()
    )
    settings = json.dumps(fingerprint_settings(encoder), sort_keys=True)
    return (tensors, settings, id(getattr(encoder, "tokenizer", None)))


def _tensor_bytes(t: torch.Tensor) -> bytes:
    flat = t.detach().to("cpu").contiguous().reshape(-1)
    return flat.view(torch.uint8).numpy().tobytes() if flat.numel() else b""


def model_fingerprint(encoder: Any) -> str:
    """SHA-256 (hex) over an encoder's weights, vocabulary and vector settings.

    Parameters
    ----------
    encoder : optical.encoders.Encoder
        Any object with ``settings()`` and either ``state_dict()`` (an ``nn.Module``)
        or a ``model`` attribute; ``tokenizer.get_vocab()`` is hashed when present.

    Returns
    -------
    str
        64 hex characters. Cached on the encoder (about 1 s for e5-small on CPU) and
        recomputed automatically once any tensor changes (in-place updates bump
        ``Tensor._version``) or a setting changes.
    """
    state = _state(encoder)
    key = _cache_key(encoder, state)
    cached = getattr(encoder, _ATTR, None)
    if cached is not None and cached[0] == key:
        return cached[1]
    h = hashlib.sha256(_FORMAT.encode())
    h.update(json.dumps(fingerprint_settings(encoder), sort_keys=True).encode())
    tokenizer = getattr(encoder, "tokenizer", None)
    if tokenizer is not None and hasattr(tokenizer, "get_vocab"):
        vocab = sorted(tokenizer.get_vocab().items(), key=lambda kv: kv[1])
        h.update(json.dumps(vocab, ensure_ascii=False).encode())
    for name in sorted(state):
        t = state[name]
        h.update(f"\0{name}\0{t.dtype}\0{tuple(t.shape)}\0".encode())
        h.update(_tensor_bytes(t))
    value = h.hexdigest()
    object.__setattr__(encoder, _ATTR, (key, value))
    return value
