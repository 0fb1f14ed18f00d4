from __future__ import annotations

import json
import zipfile

import pytest

import optical.assets.models as models
from optical.assets.packages import AssetError, CorruptCacheError, RegistryPackage, package_file
from optical.cli import main
from optical.paths import optical_home


def test_missing_package_names_the_install_command():
    pkg = RegistryPackage("surely-not-installed-pkg", "1.2.3")
    with pytest.raises(
        AssetError, match=r"pip install --no-deps surely-not-installed-pkg==1\.2\.3"
    ):
        package_file(pkg, "x/data.bin")


def test_file_from_a_cached_wheel():
    pkg = RegistryPackage("fake-pkg", "0.1")
    wheels = optical_home() / "wheels"
    wheels.mkdir(parents=True)
    with zipfile.ZipFile(wheels / "fake_pkg-0.1-py3-none-any.whl", "w") as zf:
        zf.writestr("fake_pkg/data.txt", "hello")
    path = package_file(pkg, "fake_pkg/data.txt")
    assert path.read_text() == "hello"
    with pytest.raises(AssetError, match="has no file"):
        package_file(pkg, "fake_pkg/other.txt")


def test_names_resolve_to_what_from_pretrained_accepts(tmp_path):
    assert (
        models.resolve_model("intfloat/multilingual-e5-small") == "intfloat/multilingual-e5-small"
    )
    assert models.resolve_model(str(tmp_path)) == str(tmp_path)
    with pytest.raises(AssetError, match="available: bundled:multilingual-e5-small"):
        models.resolve_model("bundled:nope")
    with pytest.raises(AssetError, match="not built"):
        models.resolve_model("bundled:multilingual-e5-small", build=False)


def test_conventions():
    assert models.encoder_conventions("bundled:multilingual-e5-small")["query_prefix"] == "query: "
    assert models.encoder_conventions("intfloat/multilingual-e5-base")["doc_prefix"] == "passage: "
    assert models.encoder_conventions("bert-base-uncased") == {"query_prefix": "", "doc_prefix": ""}


def test_failed_verification_leaves_nothing_behind(tiny_sources, monkeypatch):
    def fail(*args, **kwargs):
        raise AssetError("verification failed: translation pair cosine 0.5 is not above 0.6")

    monkeypatch.setattr(models, "verify_model_folder", fail)
    with pytest.raises(AssetError, match="verification failed"):
        models.build_model("bundled:multilingual-e5-small")
    folder = optical_home() / "models"
    assert not (folder / "multilingual-e5-small").exists()
    assert not [p for p in folder.iterdir() if p.name.startswith(".multilingual")]


def test_wrong_checksum_is_refused(tiny_sources, monkeypatch):
    monkeypatch.setattr(models, "E5_TENSOR_SHA256", "0" * 64)
    with pytest.raises(AssetError, match="checksum"):
        models.build_model("bundled:multilingual-e5-small")


def test_build_status_and_corruption_rebuild(tiny_sources, monkeypatch):
    monkeypatch.setattr(models, "verify_model_folder", lambda *a, **k: {"pair_cosine": 1.0})
    name = "bundled:multilingual-e5-small"
    path = models.resolve_model(name)  # builds on first use
    manifest = json.loads(
        (optical_home() / "models/multilingual-e5-small/optical_asset.json").read_text()
    )
    assert manifest["encoder"]["query_prefix"] == "query: "
    assert set(manifest["files"]) >= {
        "config.json",
        "model.safetensors",
        "tokenizer.json",
        "tokenizer_config.json",
    }
    assert models.model_status(name, full=True) == (True, "ok")
    weights = optical_home() / "models/multilingual-e5-small/model.safetensors"
    data = bytearray(weights.read_bytes())
    data[-5] ^= 0xFF  # a flipped bit: same size, new mtime
    weights.write_bytes(bytes(data))
    ok, why = models.model_status(name)
    assert not ok and why.startswith("corrupt: model.safetensors: checksum mismatch")
    with pytest.raises(CorruptCacheError, match=r"optical assets build --models multilingual"):
        models.resolve_model(name)  # never loaded; the user is told how to repair
    assert main(["assets", "build", "--skip-benchmarks", "--models", "multilingual-e5-small"]) == 0
    assert models.resolve_model(name) == path  # rebuilt by `optical assets build`
    assert models.model_status(name, full=True) == (True, "ok")


def test_atomic_dir_removes_stale_leftovers(tmp_path, monkeypatch):
    import os
    import time

    from optical.paths import atomic_dir

    old = tmp_path / ".model.abc123.tmp"
    old.mkdir()
    past = time.time() - 7200
    os.utime(old, (past, past))
    fresh = tmp_path / ".model.def456.tmp"  # maybe another build in progress: kept
    fresh.mkdir()
    with atomic_dir(tmp_path / "model") as tmp:
        (tmp / "x").write_text("1")
    assert not old.exists() and fresh.exists() and (tmp_path / "model" / "x").read_text() == "1"


def test_atomic_write_gives_usual_permissions(tmp_path):
    import stat

    from optical.paths import _UMASK, atomic_write_text

    target = tmp_path / "report.md"
    atomic_write_text(target, "x")
    assert target.read_text() == "x"
    # mkstemp creates private 0600 files; a written report or index gets 0666 minus the umask
    assert stat.S_IMODE(target.stat().st_mode) == 0o666 & ~_UMASK
