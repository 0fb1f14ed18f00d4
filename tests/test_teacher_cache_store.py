"""The teacher cache is a :class:`TokenStore` folder (issue 12): written and verified by the
token store's own code (record_files / check_files), refused (and recomputed) when a file
is corrupt, and folders written by the code before it are still read as they are."""

from __future__ import annotations

import json

import numpy as np
import pytest

import optical.train.teacher_cache as teacher_mod
from optical.assets.manifest import MANIFEST_NAME
from optical.encoders import Encoder
from optical.paths import optical_home, record_files
from optical.retrieval.tokens import TokenStore
from optical.train.teacher_cache import CACHE_FOLDER, TeacherOutputs, teacher_outputs

TEXTS = ["In the beginning was the word", "and the word was with God", "", "light shines in darkness"]


@pytest.fixture()
def teacher(tiny_model_dir):
    return Encoder(str(tiny_model_dir))


def _folder():
    (entry,) = [p for p in (optical_home() / CACHE_FOLDER).iterdir() if not p.name.startswith(".")]
    return entry


def _settings(teacher, n: int | None = None):
    return {"texts": len(TEXTS) if n is None else n, "teacher": teacher.name_or_path}


def _no_compute(monkeypatch):
    def boom(*args, **kwargs):
        raise AssertionError("the teacher ran: the cache was not read")

    monkeypatch.setattr(teacher_mod, "_compute", boom)


def test_the_cache_round_trips_through_the_token_store(teacher, monkeypatch):
    first = teacher_outputs(teacher, TEXTS, is_query=True, progress=False)
    assert isinstance(first.store, TokenStore) and len(first) == len(TEXTS)
    folder = _folder()
    assert sorted(p.name for p in folder.iterdir()) == ["manifest.json", "offsets.npy", "pooled.npy", "tokens.npy"]
    manifest = json.loads((folder / MANIFEST_NAME).read_text())
    assert manifest["settings"] == _settings(teacher)
    assert manifest["files"].keys() == record_files(folder, exclude=(MANIFEST_NAME,)).keys()
    store = TokenStore.open_verified(folder, _settings(teacher))
    assert store is not None and TokenStore.verified_state(folder, _settings(teacher))[0] == "ok"
    np.testing.assert_array_equal(store.vectors, first.tokens)
    np.testing.assert_array_equal(store.offsets, first.offsets)
    np.testing.assert_array_equal(store.pooled, first.pooled)
    assert store.vectors.dtype == np.float16 and isinstance(store.vectors, np.memmap)
    assert store.pooled.dtype == np.float32 and store.pooled.shape == (len(TEXTS), teacher.hidden_size)
    assert store.lengths[2] == 0  # the empty text has no content token
    # read back, not recomputed; the same as computing without the cache
    _no_compute(monkeypatch)
    again = teacher_outputs(teacher, TEXTS, is_query=True, progress=False)
    np.testing.assert_array_equal(again.tokens, first.tokens)
    monkeypatch.undo()
    fresh = teacher_outputs(teacher, TEXTS, is_query=True, progress=False, cache=False)
    np.testing.assert_array_equal(fresh.tokens, first.tokens)
    np.testing.assert_array_equal(fresh.pooled, first.pooled)
    # other settings are another folder's business: this one is stale for them
    assert TokenStore.open_verified(folder, _settings(teacher, 3)) is None


def test_batches_read_from_the_store_are_padded_as_before(teacher):
    out = teacher_outputs(teacher, TEXTS, is_query=False, progress=False)
    idx = [3, 2, 0]
    tokens, mask = out.token_batch(idx, "cpu")
    lengths = [int(out.offsets[i + 1] - out.offsets[i]) for i in idx]
    assert tokens.shape == (3, max(lengths), teacher.hidden_size) and mask.sum(1).tolist() == lengths
    for row, (i, n) in enumerate(zip(idx, lengths, strict=True)):
        expected = np.asarray(out.tokens[out.offsets[i] : out.offsets[i] + n], dtype=np.float32)
        np.testing.assert_array_equal(tokens[row, :n].numpy(), expected)
        assert not tokens[row, n:].any()
    only_empty, empty_mask = out.token_batch([2], "cpu")
    assert only_empty.shape == (1, 1, teacher.hidden_size) and not empty_mask.any()
    np.testing.assert_array_equal(out.pooled_batch([1, 0], "cpu").numpy(), out.pooled[[1, 0]])
    assert out.sample_tokens(5).shape == (5, teacher.hidden_size)


@pytest.mark.parametrize("name", ["tokens.npy", "offsets.npy", "pooled.npy"])
def test_a_corrupted_file_is_refused_and_recomputed(teacher, name):
    first = teacher_outputs(teacher, TEXTS, is_query=True, progress=False)
    tokens, pooled = np.array(first.tokens), np.array(first.pooled)
    del first  # release the memory map
    folder = _folder()
    raw = bytearray((folder / name).read_bytes())
    raw[-2] ^= 0x5A  # same size, other bytes
    (folder / name).write_bytes(bytes(raw))
    state, why = TokenStore.verified_state(folder, _settings(teacher))
    assert state == "corrupt" and name in why
    assert TokenStore.open_verified(folder, _settings(teacher)) is None
    again = teacher_outputs(teacher, TEXTS, is_query=True, progress=False)
    np.testing.assert_array_equal(np.array(again.tokens), tokens)
    np.testing.assert_array_equal(np.array(again.pooled), pooled)
    assert TokenStore.verified_state(folder, _settings(teacher))[0] == "ok"


def test_a_missing_file_or_a_half_written_folder_is_recomputed(teacher):
    first = np.array(teacher_outputs(teacher, TEXTS, is_query=False, progress=False).pooled)
    folder = _folder()
    (folder / "pooled.npy").unlink()
    assert TokenStore.verified_state(folder, _settings(teacher))[0] == "corrupt"
    np.testing.assert_array_equal(teacher_outputs(teacher, TEXTS, is_query=False, progress=False).pooled, first)
    (folder / MANIFEST_NAME).unlink()  # the manifest is written last: without it, never finished
    assert TokenStore.verified_state(folder, _settings(teacher))[0] == "missing"
    np.testing.assert_array_equal(teacher_outputs(teacher, TEXTS, is_query=False, progress=False).pooled, first)


def test_a_folder_written_before_the_token_store_is_read_as_it_is(teacher, monkeypatch):
    """The code before issue 12 wrote the same files and manifest; such a folder is valid."""
    fresh = teacher_outputs(teacher, TEXTS, is_query=True, progress=False, cache=False)
    max_length = teacher.max_length
    folder = optical_home() / CACHE_FOLDER / teacher_mod._cache_key(teacher, TEXTS, True, max_length)
    folder.mkdir(parents=True)
    np.save(folder / "tokens.npy", np.asarray(fresh.tokens))  # as the old teacher_outputs did
    np.save(folder / "offsets.npy", np.asarray(fresh.offsets))
    np.save(folder / "pooled.npy", np.asarray(fresh.pooled))
    manifest = {"settings": {"texts": len(TEXTS), "teacher": teacher.name_or_path}, "files": record_files(folder)}
    (folder / MANIFEST_NAME).write_text(json.dumps(manifest))
    _no_compute(monkeypatch)
    got = teacher_outputs(teacher, TEXTS, is_query=True, progress=False)
    np.testing.assert_array_equal(got.tokens, fresh.tokens)
    np.testing.assert_array_equal(got.pooled, fresh.pooled)


def test_token_store_keeps_pooled_vectors_only_when_given(tmp_path):
    vectors = np.arange(12, dtype=np.float16).reshape(6, 2)
    offsets = np.array([0, 2, 2, 6])
    pooled = np.ones((3, 4), dtype=np.float32)
    (tmp_path / "a").mkdir()
    TokenStore(vectors, offsets).save(tmp_path / "a")
    plain = TokenStore.load(tmp_path / "a")
    assert plain.pooled is None and not (tmp_path / "a" / "pooled.npy").exists()  # an index's store
    TokenStore(vectors, offsets, pooled).save_verified(tmp_path / "b", {"what": "test"})
    back = TokenStore.open_verified(tmp_path / "b", {"what": "test"})
    np.testing.assert_array_equal(back.pooled, pooled)
    np.testing.assert_array_equal(back.get(2), vectors[2:6].astype(np.float32))
    assert back.nbytes() == vectors.nbytes + offsets.astype(np.int64).nbytes + pooled.nbytes
    with pytest.raises(ValueError, match="one row per document"):
        TokenStore(vectors, offsets, np.ones((2, 4), dtype=np.float32))
    with pytest.raises(ValueError, match="one row per document"):
        TokenStore(vectors, offsets, np.ones(3, dtype=np.float32))


def test_teacher_outputs_hold_a_store_and_cache_dir_is_gone():
    store = TokenStore(np.zeros((0, 2), np.float16), np.array([0]), np.zeros((0, 2), np.float32))
    out = TeacherOutputs(store)
    assert len(out) == 0 and out.tokens is store.vectors and out.pooled is store.pooled
    assert not hasattr(teacher_mod, "cache_dir")
