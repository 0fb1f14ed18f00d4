"""One forward pass per batch giving both pooled vectors and content-token vectors.

:meth:`Encoder.encode` and :meth:`Encoder.encode_tokens` each run the model; an index
with a token store, and a MaxSim/OT query, need both from the *same* pass. Batches
are formed from **tokenised** lengths (not characters), which is what decides the
padding and therefore the cost of a batch. The loop itself (batching, tokenising, the
forward pass without gradients) is :func:`optical.encoders.encoded_batches`.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from dataclasses import dataclass

import numpy as np
from torch import nn

from optical.encoders import encoded_batches

__all__ = ["EncodedBatch", "token_counts", "iter_encoded", "encode_texts"]


@dataclass
class EncodedBatch:
    """One encoded batch.

    Attributes
    ----------
    index : numpy.ndarray, shape (b,)
        Positions of these texts in the input sequence.
    pooled : numpy.ndarray, shape (b, H), float32
        Pooled vectors (normalised when the encoder normalises).
    tokens : numpy.ndarray, shape (sum(counts), H), float32
        L2-normalised content-token vectors of the b texts, concatenated in order.
    counts : numpy.ndarray, shape (b,), int64
        Content tokens per text.
    """

    index: np.ndarray
    pooled: np.ndarray
    tokens: np.ndarray
    counts: np.ndarray

    def split_tokens(self) -> list[np.ndarray]:
        """Per-text token arrays ``[n_i, H]`` (views into ``tokens``)."""
        return np.split(self.tokens, np.cumsum(self.counts)[:-1])


def token_counts(
    encoder, texts: Sequence[str], is_query: bool, chunk: int = 1024
) -> tuple[np.ndarray, np.ndarray]:
    """Tokenised lengths (prefix and specials included) and content-token counts.

    Returns
    -------
    lengths, content : numpy.ndarray, shape (N,), int64
        After truncation to ``encoder.max_length``.
    """
    lengths = np.zeros(len(texts), dtype=np.int64)
    content = np.zeros(len(texts), dtype=np.int64)
    for start in range(0, len(texts), chunk):
        batch = encoder.tokenize(list(texts[start : start + chunk]), is_query)
        lengths[start : start + chunk] = batch.attention_mask.sum(1).numpy()
        content[start : start + chunk] = batch.content_mask.sum(1).numpy()
    return lengths, content


def iter_encoded(
    encoder,
    texts: Sequence[str],
    is_query: bool,
    batch_size: int = 64,
    with_tokens: bool = True,
    lengths: Sequence[int] | None = None,
    progress: bool = False,
    desc: str | None = None,
) -> Iterator[EncodedBatch]:
    """Encode ``texts`` in length-bucketed batches (longest first), one forward pass each.

    Parameters
    ----------
    encoder : optical.encoders.Encoder
    texts : sequence of str
    is_query : bool
        Which prefix to use.
    batch_size : int
    with_tokens : bool
        Also return content-token vectors (else ``tokens`` is empty, ``counts`` zero).
    lengths : sequence of int, optional
        Tokenised lengths from :func:`token_counts`; computed when omitted and there is
        more than one batch.
    progress : bool
        Show a tqdm bar.

    Yields
    ------
    EncodedBatch
        Batches in bucket order (``index`` says where each row belongs).
    """
    texts = list(texts)
    if len(texts) <= batch_size:
        lengths = [0] * len(texts)  # one batch, in input order
    elif lengths is None:
        lengths = token_counts(encoder, texts, is_query)[0]
    hidden_size = encoder.hidden_size
    for idx, out in encoded_batches(encoder, texts, is_query, batch_size, lengths=lengths,
                                    progress=progress, desc=desc):
        pooled = encoder.pool(out).float().cpu().numpy()
        if with_tokens:
            keep = out.content_mask.to(out.hidden.device)
            tokens = nn.functional.normalize(out.hidden[keep].float(), dim=-1).cpu().numpy()
            counts = keep.sum(1).cpu().numpy().astype(np.int64)
        else:
            tokens = np.zeros((0, hidden_size), dtype=np.float32)
            counts = np.zeros(len(idx), dtype=np.int64)
        yield EncodedBatch(np.asarray(idx, dtype=np.int64), pooled, tokens, counts)


def encode_texts(encoder, texts: Sequence[str], is_query: bool, batch_size: int = 64, *,
                 with_tokens: bool = True, progress: bool = False
                 ) -> tuple[np.ndarray, list[np.ndarray]]:
    """Pooled vectors ``[N, H]`` and per-text content-token vectors ``[n_i, H]``, input order.

    Token vectors are L2-normalised float32 (as :meth:`Encoder.encode_tokens`); the
    list is empty when ``with_tokens`` is False.
    """
    pooled = np.zeros((len(texts), encoder.hidden_size), dtype=np.float32)
    tokens: list[np.ndarray] = [np.zeros((0, encoder.hidden_size), np.float32)] * len(texts)
    for batch in iter_encoded(encoder, texts, is_query, batch_size, with_tokens, progress=progress):
        pooled[batch.index] = batch.pooled
        if with_tokens:
            for i, t in zip(batch.index, batch.split_tokens(), strict=True):
                tokens[i] = t
    return pooled, (tokens if with_tokens else [])
