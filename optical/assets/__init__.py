"""Offline assets built from registry packages into the cache: bundled models and benchmarks.

>>> from transformers import AutoModel                              # doctest: +SKIP
>>> AutoModel.from_pretrained(resolve_model("bundled:multilingual-e5-small"))  # doctest: +SKIP
"""

from __future__ import annotations

from optical.assets.models import (
    BUNDLED_MODELS,
    build_model,
    encoder_conventions,
    model_status,
    resolve_model,
)
from optical.assets.packages import AssetError

__all__ = ["AssetError", "BUNDLED_MODELS", "build_model", "encoder_conventions", "model_status", "resolve_model"]
