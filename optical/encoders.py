"""Hugging Face encoders with the conventions retrieval and distillation need.

One code path for every model: ``from_pretrained(resolve_model(name))`` accepts a
bundled name (``bundled:multilingual-e5-small``), a Hugging Face id or a local
folder; the device follows the model's parameters (move it with ``.to(device)``).

An :class:`Encoder` knows its instruction prefixes (e5's ``query: `` /
``passage: ``), pools token vectors (mean over real tokens by default, then L2
normalisation) and says which tokens carry content: special tokens and the prefix
are excluded from ``content_mask`` (the tokens that take part in token alignment).

:func:`encoded_batches` is the one batched encoding loop (batching, tokenising, the
forward pass without gradients); every path that encodes many texts runs through it.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch
from torch import Tensor, nn

from optical.assets.models import encoder_conventions, resolve_model
from optical.hf import load_automodel, load_tokenizer

__all__ = [
    "Encoder",
    "TokenBatch",
    "TokenOutput",
    "encoded_batches",
    "mean_pool",
    "length_buckets",
    "load_encoder",
    "resolve_device",
]


@dataclass
class TokenBatch:
    """Tokenised texts. ``content_mask`` marks tokens that are neither special nor prefix."""

    input_ids: Tensor  # [B, L]
    attention_mask: Tensor  # [B, L]
    content_mask: Tensor  # [B, L] bool
    tokens: list[list[str]]  # sub-word strings per text (unpadded)

    def to(self, device: torch.device | str) -> TokenBatch:
        return TokenBatch(
            self.input_ids.to(device),
            self.attention_mask.to(device),
            self.content_mask.to(device),
            self.tokens,
        )

    def model_inputs(self) -> dict[str, Tensor]:
        return {"input_ids": self.input_ids, "attention_mask": self.attention_mask}


@dataclass
class TokenOutput:
    hidden: Tensor  # [B, L, H] last hidden states
    attention_mask: Tensor  # [B, L]
    content_mask: Tensor  # [B, L] bool


def mean_pool(hidden: Tensor, mask: Tensor) -> Tensor:
    """Mean of ``hidden`` [B, L, H] over positions where ``mask`` [B, L] is set -> [B, H]."""
    m = mask.to(hidden.dtype).unsqueeze(-1)
    return (hidden * m).sum(1) / m.sum(1).clamp_min(1.0)


def length_buckets(lengths: Sequence[int], batch_size: int) -> Iterator[list[int]]:
    """Indices grouped into batches of similar length (longest first), to cut padding."""
    order = np.argsort(-np.asarray(lengths, dtype=np.int64), kind="stable")
    for start in range(0, len(order), batch_size):
        yield order[start : start + batch_size].tolist()


class Encoder(nn.Module):
    """A transformer encoder plus tokenizer, pooling and prefix conventions.

    Parameters
    ----------
    name_or_path
        Bundled name, Hugging Face id or local folder.
    query_prefix, doc_prefix
        Instruction prefixes; ``None`` takes the model's convention (e5: ``query: `` /
        ``passage: ``; others: none).
    pooling
        ``"mean"`` (over real tokens, prefix included as e5 does) or ``"cls"``.
    normalize
        L2-normalise pooled vectors.
    max_length
        Token limit per text (longer texts are truncated; capped at the model's limit).
    """

    def __init__(
        self,
        name_or_path: str,
        query_prefix: str | None = None,
        doc_prefix: str | None = None,
        pooling: str = "mean",
        normalize: bool = True,
        max_length: int = 256,
        model: nn.Module | None = None,
        tokenizer=None,
    ) -> None:
        super().__init__()
        if pooling not in {"mean", "cls"}:
            raise ValueError(f"pooling must be 'mean' or 'cls', got {pooling!r}")
        self.name_or_path = str(name_or_path)
        path = resolve_model(self.name_or_path)
        conv = encoder_conventions(self.name_or_path)
        self.query_prefix = conv["query_prefix"] if query_prefix is None else query_prefix
        self.doc_prefix = conv["doc_prefix"] if doc_prefix is None else doc_prefix
        self.tokenizer = tokenizer if tokenizer is not None else load_tokenizer(path)
        if not getattr(self.tokenizer, "is_fast", False):
            raise ValueError(
                f"{name_or_path}: optical needs a fast (Rust) tokenizer for token offsets"
            )
        self.model = model if model is not None else load_automodel(path)
        self.projection: nn.Linear | None = _load_projection(path)
        limit = getattr(self.model.config, "max_position_embeddings", max_length) or max_length
        self.max_length = int(min(max_length, limit))
        self.pooling = pooling
        self.normalize = normalize

    # ------------------------------------------------------------------ basics
    @property
    def device(self) -> torch.device:
        return next(self.model.parameters()).device

    @property
    def hidden_size(self) -> int:
        """Size of the output vectors (the projection's, when there is one)."""
        if self.projection is not None:
            return int(self.projection.out_features)
        return int(self.model.config.hidden_size)

    def set_projection(self, projection: nn.Linear | None) -> None:
        """Map token vectors into another space (a student's bridge to its teacher)."""
        if projection is not None:
            projection = projection.to(self.device)
        self.projection = projection

    def prefix(self, is_query: bool) -> str:
        return self.query_prefix if is_query else self.doc_prefix

    def settings(self) -> dict:
        """What determines this encoder's vectors (stored with indexes and runs)."""
        return {
            "name_or_path": self.name_or_path,
            "query_prefix": self.query_prefix,
            "doc_prefix": self.doc_prefix,
            "pooling": self.pooling,
            "normalize": self.normalize,
            "max_length": self.max_length,
        }

    # -------------------------------------------------------------- tokenising
    def tokenize(
        self, texts: Sequence[str], is_query: bool, max_length: int | None = None
    ) -> TokenBatch:
        """Tokenise with the prefix; mark content tokens (not special, not prefix)."""
        if isinstance(texts, str):
            raise TypeError("tokenize expects a sequence of strings, not a single string")
        prefix = self.prefix(is_query)
        enc = self.tokenizer(
            [prefix + t for t in texts],
            padding=True,
            truncation=True,
            max_length=max_length or self.max_length,
            return_offsets_mapping=True,
            return_special_tokens_mask=True,
            return_tensors="pt",
        )
        offsets = enc["offset_mapping"]  # [B, L, 2]
        plen = len(prefix.rstrip())
        special = enc["special_tokens_mask"].bool()
        real = enc["attention_mask"].bool()
        in_prefix = offsets[..., 0] < plen if plen else torch.zeros_like(real)
        content = real & ~special & ~in_prefix
        tokens = [
            self.tokenizer.convert_ids_to_tokens(ids[m].tolist())
            for ids, m in zip(enc["input_ids"], real, strict=True)
        ]
        return TokenBatch(enc["input_ids"], enc["attention_mask"], content, tokens)

    # ----------------------------------------------------------------- forward
    def forward(self, batch: TokenBatch) -> TokenOutput:
        batch = batch.to(self.device)
        hidden = self.model(**batch.model_inputs()).last_hidden_state
        if self.projection is not None:
            hidden = self.projection(hidden)
        return TokenOutput(hidden, batch.attention_mask, batch.content_mask)

    def pool(self, out: TokenOutput) -> Tensor:
        """Pooled sentence vectors [B, H] (fp32)."""
        hidden = out.hidden.float()
        pooled = hidden[:, 0] if self.pooling == "cls" else mean_pool(hidden, out.attention_mask)
        return nn.functional.normalize(pooled, dim=-1) if self.normalize else pooled

    # ---------------------------------------------------------------- encoding
    def encode(self, texts: Sequence[str], is_query: bool, batch_size: int = 64, *,
               progress: bool = False, desc: str | None = None) -> np.ndarray:
        """Pooled vectors [N, H] (float32) in the input order; length-bucketed, no grad."""
        vectors = np.zeros((len(texts), self.hidden_size), dtype=np.float32)
        for idx, out in encoded_batches(self, texts, is_query, batch_size, progress=progress,
                                        desc=desc, leave=False):
            vectors[idx] = self.pool(out).cpu().numpy()
        return vectors

    def encode_tokens(self, texts: Sequence[str], is_query: bool, batch_size: int = 64, *,
                      progress: bool = False, content_only: bool = True,
                      desc: str | None = None) -> list[np.ndarray]:
        """Per-text token vectors (L2-normalised, float32), content tokens only by default."""
        result: list[np.ndarray] = [np.zeros((0, self.hidden_size), np.float32)] * len(texts)
        for idx, out in encoded_batches(self, texts, is_query, batch_size, progress=progress,
                                        desc=desc, leave=False):
            keep = out.content_mask if content_only else out.attention_mask.bool()
            hidden = nn.functional.normalize(out.hidden.float(), dim=-1).cpu().numpy()
            keep_np = keep.cpu().numpy()
            for row, i in enumerate(idx):
                result[i] = hidden[row][keep_np[row]]
        return result


def encoded_batches(
    encoder: Encoder,
    texts: Sequence[str],
    is_query: bool,
    batch_size: int = 64,
    *,
    lengths: Sequence[int] | None = None,
    max_length: int | None = None,
    progress: bool = False,
    desc: str | None = None,
    leave: bool = True,
) -> Iterator[tuple[list[int], TokenOutput]]:
    """The one batched encoding loop: batch ``texts``, tokenise, run the model, yield outputs.

    Every path that encodes many texts goes through here (:meth:`Encoder.encode`,
    :meth:`Encoder.encode_tokens`, :func:`optical.retrieval.encoding.iter_encoded`, the
    teacher cache); each turns the :class:`TokenOutput` of a batch into what it keeps.

    Parameters
    ----------
    encoder : Encoder
    texts : sequence of str
    is_query : bool
        Which prefix to use.
    batch_size : int
        Texts per forward pass (>= 1).
    lengths : sequence of int, optional
        What the batches are bucketed by (:func:`length_buckets`: longest first, ties in
        input order, so equal lengths keep the input order); default the character
        lengths, a cheap proxy for token counts.
    max_length : int, optional
        Token limit per text (default ``encoder.max_length``).
    progress, desc, leave
        A tqdm bar (off unless ``progress``), its label, and whether it stays when done.

    Yields
    ------
    (list of int, TokenOutput)
        The positions of the batch's texts in ``texts``, and the model's outputs for them.
        The forward passes run in eval mode (restored afterwards, module by module) and
        under :func:`torch.inference_mode`.
    """
    from tqdm.auto import tqdm

    texts = list(texts)
    if not texts:
        return
    if batch_size < 1:
        raise ValueError(f"batch_size must be >= 1, got {batch_size}")
    if lengths is None:
        lengths = [len(t) for t in texts]
    batches = list(length_buckets(lengths, batch_size))
    modes = [(m, m.training) for m in encoder.modules()]
    encoder.eval()
    try:
        with torch.inference_mode():
            bar = tqdm(batches, desc=desc or "encoding", unit="batch", disable=not progress,
                       leave=leave)
            for idx in bar:
                yield idx, encoder(encoder.tokenize([texts[i] for i in idx], is_query, max_length))
    finally:
        for module, training in modes:
            module.training = training


def _load_projection(path: str) -> nn.Linear | None:
    """The projection saved beside a distilled student, if any."""
    file = Path(path) / "optical_projection.safetensors"
    if not file.is_file():
        return None
    from safetensors.torch import load_file

    state = load_file(str(file))
    out_features, in_features = state["weight"].shape
    proj = nn.Linear(in_features, out_features, bias="bias" in state)
    proj.load_state_dict(state)
    return proj


DEVICE_TYPES = ("cpu", "cuda", "mps")


def resolve_device(device: str | torch.device | None = None) -> torch.device:
    """The torch device for a device string, checked before anything loads.

    ``None``, ``""`` or ``"auto"``: CUDA when a GPU is visible, else CPU. ``cpu``, ``cuda``,
    ``cuda:N`` and ``mps`` are accepted when this torch build and machine have them;
    anything else raises ``ValueError`` with one line saying why.
    """
    if isinstance(device, torch.device):
        spec = str(device)
    else:
        spec = str(device or "auto").strip().lower()
    if spec == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    try:
        dev = torch.device(spec)
    except (RuntimeError, ValueError):
        raise ValueError(
            f"device {device!r}: not a device (expected auto, cpu, cuda, cuda:N or mps)"
        ) from None
    if dev.type not in DEVICE_TYPES:
        raise ValueError(f"device {device!r}: unsupported (expected auto, cpu, cuda, cuda:N or mps)")
    if dev.type == "cuda":
        if torch.version.cuda is None and getattr(torch.version, "hip", None) is None:
            raise ValueError(
                f"device {device!r}: CUDA requested but this torch build ({torch.__version__}) has no "
                "CUDA; use --device cpu or install a CUDA build of torch"
            )
        count = torch.cuda.device_count() if torch.cuda.is_available() else 0
        if count == 0:
            raise ValueError(
                f"device {device!r}: CUDA requested but no GPU is visible (check the driver and "
                "CUDA_VISIBLE_DEVICES); use --device cpu"
            )
        if dev.index is not None and dev.index >= count:
            raise ValueError(f"device {device!r}: only {count} GPU(s) visible (cuda:0..cuda:{count - 1})")
    if dev.type == "mps":
        if not torch.backends.mps.is_built():
            raise ValueError(f"device {device!r}: MPS requested but this torch build has no MPS support")
        if not torch.backends.mps.is_available():
            raise ValueError(f"device {device!r}: MPS requested but no MPS device is available")
    return dev


def load_encoder(name_or_path: str, device: str | torch.device | None = None, **kwargs) -> Encoder:
    """An :class:`Encoder` on ``device`` (see :func:`resolve_device`; default: CUDA when
    available, else CPU). The device is checked before the model loads."""
    dev = resolve_device(device)
    return Encoder(name_or_path, **kwargs).to(dev)
