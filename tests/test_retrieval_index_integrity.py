"""Saved indexes are checked against their recorded checksums and their corpus.

Flipped bytes in a FAISS file or the token store are refused when the user named the
folder and rebuilt in the cache; an index of other documents is refused by
``DenseIndex.load(corpus=...)`` and ``optical search --index``.
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from optical.cli import main
from optical.data import write_beir
from optical.data.types import Document, RetrievalCollection
from optical.encoders import Encoder
from optical.retrieval import DenseIndex, corpus_index
from optical.retrieval.index_cache import index_cache_dir
from optical.retrieval.index_format import FAISS_FILE, META_FILE, corpus_fingerprint
from optical.retrieval.tokens import TOKENS_FILE

WORDS = "god loved the world so much mungu aliupenda ulimwengu sana light water earth".split()


def make_corpus(n: int = 20, seed: int = 0, prefix: str = "d") -> dict[str, Document]:
    rng = np.random.default_rng(seed)
    return {
        f"{prefix}{i:02d}": Document(
            f"{prefix}{i:02d}", " ".join(rng.choice(WORDS, int(rng.integers(2, 10))))
        )
        for i in range(n)
    }


@pytest.fixture(scope="module")
def encoder(tiny_model_dir) -> Encoder:
    return Encoder(str(tiny_model_dir))


def _flip(path: Path, offset: int) -> None:
    """Flip bits of one byte in place: same size (a bad disk, a bad copy)."""
    data = bytearray(path.read_bytes())
    data[offset] ^= 0x5A
    path.write_bytes(bytes(data))


def _search_top(index: DenseIndex, encoder: Encoder) -> float:
    q = encoder.encode(["god loved the world"], is_query=True)
    return float(index.search(q, 3)[0].max())


def test_checksums_recorded_for_every_file(encoder, tmp_path):
    DenseIndex.build(
        encoder, make_corpus(), path=tmp_path / "idx", with_tokens=True, progress=False
    )
    meta = json.loads((tmp_path / "idx" / META_FILE).read_text())
    on_disk = {p.name for p in (tmp_path / "idx").iterdir()} - {META_FILE}
    assert set(meta["files"]) == on_disk >= {FAISS_FILE, "docs.jsonl", TOKENS_FILE, "offsets.npy"}
    assert meta["corpus_fingerprint"] == corpus_fingerprint(make_corpus())


@pytest.mark.parametrize("name", [FAISS_FILE, TOKENS_FILE, "docs.jsonl"])
def test_a_corrupt_named_index_is_refused(encoder, tmp_path, name):
    folder = tmp_path / "idx"
    DenseIndex.build(encoder, make_corpus(), path=folder, with_tokens=True, progress=False)
    target = folder / name
    _flip(target, target.stat().st_size - 7)  # inside the vectors / the last text
    with pytest.raises(ValueError, match=rf"{name}: checksum mismatch.*corrupt"):
        DenseIndex.load(folder, encoder=encoder)


def test_flipped_faiss_bytes_give_a_clear_cli_error_not_huge_scores(
    encoder, tiny_model_dir, tmp_path, capsys
):
    corpus = make_corpus()
    beir = tmp_path / "set"
    write_beir(RetrievalCollection(corpus, {"q1": "god loved"}, {"q1": {"d01": 1}}), beir)
    folder = tmp_path / "idx"
    DenseIndex.build(encoder, corpus, path=folder, progress=False)
    raw = bytearray((folder / FAISS_FILE).read_bytes())
    raw[-4 * 32 : -4 * 31] = np.float32([4.7e27]).tobytes()  # one vector entry blown up
    (folder / FAISS_FILE).write_bytes(bytes(raw))
    out = tmp_path / "run.trec"
    argv = ["search", "--query-model", str(tiny_model_dir), "--dataset", str(beir)]
    assert main([*argv, "--index", str(folder), "--out", str(out), "--quiet"]) == 1
    err = capsys.readouterr().err
    assert "vectors.faiss: checksum mismatch" in err and "Traceback" not in err
    assert not out.exists()


def test_corpus_index_rebuilds_a_corrupt_cached_index(encoder):
    corpus = make_corpus()
    first = corpus_index(encoder, corpus, "tiny", with_tokens=True, progress=False)
    expected = _search_top(first, encoder)
    folder = index_cache_dir(encoder, corpus, "tiny")
    del first
    _flip(folder / FAISS_FILE, (folder / FAISS_FILE).stat().st_size - 11)
    with pytest.raises(ValueError, match="checksum mismatch"):
        DenseIndex.load(folder)
    again = corpus_index(encoder, corpus, "tiny", with_tokens=True, progress=False)
    assert _search_top(again, encoder) == pytest.approx(expected, abs=1e-6)
    DenseIndex.load(folder)  # the rebuilt files verify


def test_an_index_of_an_older_format_is_refused_or_rebuilt(encoder, tmp_path):
    corpus = make_corpus()
    index = corpus_index(encoder, corpus, "tiny", progress=False)
    folder = index.path
    meta = json.loads((folder / META_FILE).read_text())
    meta["format_version"] = 1  # written before the checksums
    del meta["files"]
    (folder / META_FILE).write_text(json.dumps(meta))
    with pytest.raises(ValueError, match="format 1 is not supported"):
        DenseIndex.load(folder)
    corpus_index(encoder, corpus, "tiny", progress=False)
    assert json.loads((folder / META_FILE).read_text())["files"]


# --------------------------------------------------------------------------- corpus


def test_corpus_fingerprint_ignores_order_but_not_content():
    corpus = make_corpus()
    reordered = dict(reversed(list(corpus.items())))
    assert corpus_fingerprint(reordered) == corpus_fingerprint(corpus)
    edited = dict(corpus)
    edited["d03"] = Document("d03", edited["d03"].text + " water")
    assert corpus_fingerprint(edited) != corpus_fingerprint(corpus)
    renamed = {("x" + k): Document("x" + k, d.text) for k, d in corpus.items()}
    assert corpus_fingerprint(renamed) != corpus_fingerprint(corpus)


def test_load_refuses_an_index_of_another_corpus(encoder, tmp_path):
    corpus = make_corpus()
    DenseIndex.build(encoder, corpus, path=tmp_path / "idx", progress=False)
    same = DenseIndex.load(tmp_path / "idx", corpus=dict(reversed(list(corpus.items()))))
    assert len(same) == len(corpus)  # the same documents in another order are fine
    other = {**make_corpus(5, seed=3, prefix="e"), **dict(list(corpus.items())[:15])}
    with pytest.raises(
        ValueError,
        match=r"another corpus than mine: 5 of its 20 documents are not in mine, 5 of the 20 "
        r"documents of mine are not in the index, 0 texts differ",
    ):
        DenseIndex.load(tmp_path / "idx", corpus=other, corpus_label="mine")
    edited = dict(corpus)
    edited["d03"] = Document("d03", "light water")
    with pytest.raises(ValueError, match="1 texts differ"):
        DenseIndex.load(tmp_path / "idx", corpus=edited)


def test_search_with_an_index_of_another_corpus_is_refused(
    tiny_model_dir, encoder, tmp_path, capsys
):
    index_corpus = make_corpus(20, seed=0)
    dataset_corpus = make_corpus(20, seed=1, prefix="x")
    beir = tmp_path / "set"
    write_beir(RetrievalCollection(dataset_corpus, {"q1": "god loved"}, {"q1": {"x01": 1}}), beir)
    DenseIndex.build(encoder, index_corpus, path=tmp_path / "idx", progress=False)
    out = tmp_path / "run.trec"
    argv = ["search", "--query-model", str(tiny_model_dir), "--dataset", str(beir), "--quiet"]
    assert main([*argv, "--index", str(tmp_path / "idx"), "--out", str(out)]) == 1
    err = capsys.readouterr().err
    assert "built from another corpus" in err and str(beir) in err and "Traceback" not in err
    assert not out.exists()
    # the index of the dataset's own corpus is accepted
    DenseIndex.build(encoder, dataset_corpus, path=tmp_path / "own", progress=False)
    assert main([*argv, "--index", str(tmp_path / "own"), "--out", str(out)]) == 0
    assert out.read_text().split()[2].startswith("x")
