from __future__ import annotations

import json

import numpy as np
import pytest
import torch

from optical.assets.e5s1 import (
    E5S1Error,
    convert_to_hf_folder,
    dequantize_q4_0,
    quantize_q4_0,
    read_e5s1,
    to_bert_state_dict,
)
from tests.helpers import make_tiny_e5s1, make_tokenizer_json, tiny_vocab


def test_q4_0_known_block():
    # one block: scale 0.5, nibbles 0..15 then 15..0 -> values (q - 8) * 0.5
    q = np.array(list(range(16)) + list(range(15, -1, -1)), dtype=np.uint8)
    raw = np.float16(0.5).tobytes() + bytes((q[:16] | (q[16:] << 4)).tolist())
    out = dequantize_q4_0(raw, 32)
    assert out.tolist() == [(v - 8) * 0.5 for v in q.tolist()]


def test_q4_0_round_trip_error_is_within_half_a_step():
    rng = np.random.default_rng(0)
    x = rng.standard_normal(32 * 50).astype(np.float32)
    y = dequantize_q4_0(quantize_q4_0(x), x.size)
    step = np.abs(x.reshape(-1, 32)).max(1) / 7
    err = np.abs(x - y).reshape(-1, 32).max(1)
    assert np.all(err <= step / 2 + 1e-3)


def test_read_tiny_file_shapes_and_values(tmp_path):
    path, tensors = make_tiny_e5s1(tmp_path / "m.bin")
    model = read_e5s1(path)
    assert model.header.hidden == 32 and model.header.layers == 2
    assert model.pieces == [p for p, _ in tiny_vocab()]
    assert model.special_ids == {"bos": 0, "eos": 2, "pad": 1, "unk": 3}
    # fp32 tensors are exact, Q4 tensors within 4-bit error
    assert np.array_equal(model.tensors["emb.pos"], tensors["emb.pos"])
    assert model.tensors["l1.fi.w"].shape == (64, 32)
    assert np.abs(model.tensors["l1.fi.w"] - tensors["l1.fi.w"]).max() < 0.1
    state = to_bert_state_dict(model)
    assert state["encoder.layer.1.intermediate.dense.weight"].shape == (64, 32)
    assert len(state) == 5 + 16 * 2


def test_bad_magic_and_truncation(tmp_path):
    bad = tmp_path / "bad.bin"
    bad.write_bytes(b"GGUF" + b"\0" * 100)
    with pytest.raises(E5S1Error, match="bad magic"):
        read_e5s1(bad)
    path, _ = make_tiny_e5s1(tmp_path / "m.bin")
    cut = tmp_path / "cut.bin"
    cut.write_bytes(path.read_bytes()[:-100])
    with pytest.raises(E5S1Error, match="past the end|truncated"):
        read_e5s1(cut)


def test_convert_loads_with_transformers_and_matches(tmp_path):
    from transformers import AutoModel, AutoTokenizer

    e5s1, _ = make_tiny_e5s1(tmp_path / "m.bin")
    tok = make_tokenizer_json(tmp_path / "tokenizer.json")
    out = tmp_path / "hf"
    out.mkdir()
    info = convert_to_hf_folder(e5s1, tok, out)
    assert {p.name for p in out.iterdir()} >= {
        "config.json",
        "model.safetensors",
        "tokenizer.json",
        "tokenizer_config.json",
    }
    model = AutoModel.from_pretrained(out, add_pooling_layer=False)
    ref = read_e5s1(e5s1).tensors
    got = model.state_dict()["encoder.layer.0.attention.self.query.weight"].numpy()
    assert np.array_equal(got, ref["l0.q.w"])
    tokenizer = AutoTokenizer.from_pretrained(out)
    batch = tokenizer(["query: mungu aliupenda ulimwengu"], return_tensors="pt")
    assert tokenizer.convert_ids_to_tokens(batch["input_ids"][0])[0] == "<s>"
    with torch.inference_mode():
        hidden = model(**batch).last_hidden_state
    assert hidden.shape[-1] == 32 and torch.isfinite(hidden).all()
    assert len(info["tensor_sha256"]) == 64
    # the digest is a function of the tensors: converting again gives the same
    out2 = tmp_path / "hf2"
    out2.mkdir()
    assert convert_to_hf_folder(e5s1, tok, out2)["tensor_sha256"] == info["tensor_sha256"]


def test_convert_rejects_mismatched_tokenizer(tmp_path):
    e5s1, _ = make_tiny_e5s1(tmp_path / "m.bin")
    vocab = tiny_vocab()
    vocab[10] = ("\u2581different", -2.0)
    tok = make_tokenizer_json(tmp_path / "tokenizer.json", vocab)
    (tmp_path / "hf").mkdir()
    with pytest.raises(E5S1Error, match="pieces differ"):
        convert_to_hf_folder(e5s1, tok, tmp_path / "hf")
    assert json.loads(tok.read_text())["model"]["type"] == "Unigram"
