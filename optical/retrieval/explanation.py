"""Token-level explanation of one (query, document) match: MaxSim matches and the OT plan.

:class:`Explanation` holds everything a token-alignment heatmap needs;
:func:`explain_pair` computes it for a :class:`~.search.Retriever` (its encoders, index
and Sinkhorn settings). :meth:`Retriever.explain <.search.Retriever.explain>` is the
usual entry point.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import torch

from optical.retrieval.encoding import encode_texts
from optical.retrieval.query_checks import check_query
from optical.retrieval.scoring import cosine_matrix, maxsim_matches

__all__ = ["Explanation", "explain_pair"]


@dataclass
class Explanation:
    """Everything a token-alignment heatmap needs for one (query, document) pair.

    Attributes
    ----------
    query, doc_text : str
        The texts (``doc_id`` is None when explaining raw text).
    query_tokens, doc_tokens : list of str
        Content sub-words (no special tokens, no prefix): ``n`` and ``m`` of them.
    similarity : numpy.ndarray, shape (n, m), float32
        Cosine of every query token with every document token.
    maxsim_index : numpy.ndarray, shape (n,), int64
        Best document token of each query token (``-1`` when ``m == 0``).
    maxsim_values : numpy.ndarray, shape (n,), float32
        Its cosine; ``maxsim_score`` is their sum (the ``maxsim`` mode score).
    ot_plan : numpy.ndarray, shape (n, m), float32
        Balanced entropic OT plan (rows sum to 1/n, columns to 1/m).
    ot_cost : float
        ``<ot_plan, 1 - similarity>``; the ``ot`` mode score is ``-ot_cost``.
    ot_marginal_error : float
        L1 distance of the plan's marginals from uniform (convergence check).
    pooled_cosine : float
        Inner product of the pooled vectors (the ``pooled`` mode score).
    """

    query: str
    doc_id: str | None
    doc_text: str
    query_tokens: list[str]
    doc_tokens: list[str]
    similarity: np.ndarray
    maxsim_index: np.ndarray
    maxsim_values: np.ndarray
    maxsim_score: float
    ot_plan: np.ndarray
    ot_cost: float
    ot_eps: float
    ot_marginal_error: float
    pooled_cosine: float

    def matches(self) -> list[tuple[str, str, float]]:
        """``(query token, best document token, cosine)`` per query token."""
        return [
            (q, self.doc_tokens[j] if j >= 0 else "", float(v))
            for q, j, v in zip(
                self.query_tokens, self.maxsim_index, self.maxsim_values, strict=True
            )
        ]


def _content_tokens(encoder, text: str, is_query: bool) -> list[str]:
    batch = encoder.tokenize([text], is_query)
    real = batch.tokens[0]
    keep = batch.content_mask[0, : len(real)].tolist()
    return [t for t, k in zip(real, keep, strict=True) if k]


def explain_pair(
    retriever, query_text: str, doc_id: str | None = None, *, doc_text: str | None = None
) -> Explanation:
    """:meth:`Retriever.explain <.search.Retriever.explain>` (same parameters and errors).

    ``retriever`` supplies ``query_encoder``, ``doc_encoder``, ``index``, ``device``,
    ``ot_eps`` and ``ot_max_iter``.
    """
    from optical.ot import ot_cost, sinkhorn

    check_query(query_text)
    if (doc_id is None) == (doc_text is None):
        raise ValueError("explain needs exactly one of doc_id or doc_text")
    if doc_id is not None:
        text = retriever.index.text(retriever.index.position(doc_id))
    else:
        if not isinstance(doc_text, str):
            raise TypeError(f"doc_text must be a string, got {type(doc_text).__name__}")
        text = doc_text
    q_pooled, q_tok = encode_texts(retriever.query_encoder, [query_text], True)
    d_pooled, d_tok = encode_texts(retriever.doc_encoder, [text], False)
    q_strings = _content_tokens(retriever.query_encoder, query_text, True)
    d_strings = _content_tokens(retriever.doc_encoder, text, False)
    device = retriever.device
    q = torch.from_numpy(q_tok[0]).to(device)
    d = torch.from_numpy(d_tok[0]).to(device)
    n, m = len(q), len(d)
    with torch.inference_mode():
        sim = cosine_matrix(q, d)
        idx, val = maxsim_matches(sim)
        if n and m:
            cost = 1.0 - sim
            plan = sinkhorn(cost, eps=retriever.ot_eps, max_iter=retriever.ot_max_iter)
            total = float(ot_cost(plan, cost))
            err = float((plan.sum(1) - 1.0 / n).abs().sum() + (plan.sum(0) - 1.0 / m).abs().sum())
        else:
            plan, total, err = torch.zeros(n, m), float("nan"), 0.0
    return Explanation(
        query=query_text,
        doc_id=doc_id,
        doc_text=text,
        query_tokens=q_strings,
        doc_tokens=d_strings,
        similarity=sim.float().cpu().numpy(),
        maxsim_index=idx.cpu().numpy().astype(np.int64),
        maxsim_values=val.float().cpu().numpy(),
        maxsim_score=float(val.sum()),
        ot_plan=plan.float().cpu().numpy(),
        ot_cost=total,
        ot_eps=retriever.ot_eps,
        ot_marginal_error=err,
        pooled_cosine=float(q_pooled[0] @ d_pooled[0]),
    )
