"""The on-disk teacher cache is verified on every read and recomputed when it fails."""

from __future__ import annotations

import json

import numpy as np

from optical.assets.manifest import MANIFEST_NAME
from optical.encoders import Encoder
from optical.paths import optical_home
from optical.train.teacher_cache import CACHE_FOLDER, teacher_outputs

TEXTS = ["In the beginning was the word", "and the word was with God", "light shines in darkness"]


def _entry():
    (entry,) = [p for p in (optical_home() / CACHE_FOLDER).iterdir() if (p / MANIFEST_NAME).is_file()]
    return entry


def test_same_size_edit_of_cached_outputs_is_detected_and_recomputed(tiny_model_dir):
    teacher = Encoder(str(tiny_model_dir))
    first = teacher_outputs(teacher, TEXTS, is_query=False, progress=False)
    pooled = np.array(first.pooled)
    target = _entry() / "pooled.npy"
    raw = bytearray(target.read_bytes())
    raw[-3] ^= 0xFF  # one flipped byte inside the float data, same size
    target.write_bytes(bytes(raw))
    again = teacher_outputs(teacher, TEXTS, is_query=False, progress=False)
    np.testing.assert_array_equal(np.array(again.pooled), pooled)
    assert "files" in json.loads((_entry() / MANIFEST_NAME).read_text())


def test_entry_without_checksums_is_recomputed(tiny_model_dir):
    teacher = Encoder(str(tiny_model_dir))
    first = teacher_outputs(teacher, TEXTS, is_query=True, progress=False)
    tokens = np.array(first.tokens)
    entry = _entry()
    (entry / MANIFEST_NAME).write_text(json.dumps({"texts": 3}))  # no checksums: an older format
    np.save(entry / "tokens.npy", np.zeros_like(tokens))
    again = teacher_outputs(teacher, TEXTS, is_query=True, progress=False)
    np.testing.assert_array_equal(np.array(again.tokens), tokens)
