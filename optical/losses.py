"""Distillation and fine-tuning objectives: OPTICAL's <P, C>, pooled MSE, InfoNCE, and
cross-entropy ranking.

Math lives in pure functions over tensors; the geometry of the token space (raw,
centred, whitened) is a :class:`TokenGeometry` fitted on the teacher's tokens.

The OPTICAL objective (Huang, Yu & Allan, WSDM 2023): for a student sentence with
token vectors ``s_i`` (foreign side) and a frozen teacher sentence with token vectors
``t_j`` (English side),

.. math::

    C_{ij} = 1 - \\cos(g(s_i), g(t_j)), \\qquad
    P = \\mathrm{Sinkhorn}_\\varepsilon(C, a, b), \\qquad
    \\mathcal{L} = \\langle P, C \\rangle_F

where ``g`` is the geometry map (identity, or centring on the teacher's mean token
vector, or whitening), and ``a``, ``b`` are uniform (or norm-weighted) marginals over
the tokens that take part. With ``detach_plan`` the plan is treated as a constant
(envelope theorem: the gradient of the entropic OT value w.r.t. C is P).

Why the geometry matters: the bundled e5 model's token vectors are anisotropic
(mean cosine ~0.85 to their mean), so raw-cosine costs barely differ within a row,
the plan is nearly uniform, and <P, C> is minimised by pulling every student token
toward the mean — the student collapses. Centring removes the shared direction.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
from torch import Tensor, nn

from optical.ot import sinkhorn

__all__ = [
    "TokenGeometry",
    "cosine_cost",
    "GEOMETRY_KINDS",
    "token_marginals",
    "optical_loss",
    "OTLossOutput",
    "pooled_mse",
    "info_nce",
    "cross_entropy_ranking",
]


GEOMETRY_KINDS = ("center", "whiten", "raw")  # objective.geometry; "raw" reproduces the collapse


@dataclass
class TokenGeometry:
    """A map applied to token vectors before the cosine: ``g(x) = (x - mean) @ transform``.

    ``kind="raw"`` is the identity. Fit with :meth:`fit` on the teacher's content tokens.
    """

    kind: str = "whiten"  # one of GEOMETRY_KINDS (the recipe's default)
    mean: Tensor | None = None  # [H]
    transform: Tensor | None = None  # [H, H] (whiten only)

    def __post_init__(self) -> None:
        if self.kind not in GEOMETRY_KINDS:
            raise ValueError(f"geometry must be 'raw', 'center' or 'whiten', got {self.kind!r}")

    @classmethod
    def fit(cls, tokens: Tensor, kind: str = "whiten", shrinkage: float = 0.1) -> TokenGeometry:
        """Fit on teacher token vectors ``tokens`` [N, H] (content tokens only)."""
        if kind == "raw":
            return cls("raw")
        x = tokens.double()
        mean = x.mean(0)
        transform = None
        if kind == "whiten":
            xc = x - mean
            cov = xc.T @ xc / max(len(x) - 1, 1)
            # shrink toward a scaled identity so rare directions are not blown up
            cov = (1 - shrinkage) * cov + shrinkage * cov.diagonal().mean() * torch.eye(len(cov), dtype=cov.dtype)
            evals, evecs = torch.linalg.eigh(cov)
            transform = (evecs * evals.clamp_min(1e-8).rsqrt()) @ evecs.T
            transform = transform.float()
        return cls(kind, mean.float(), transform)

    def apply(self, x: Tensor) -> Tensor:
        if self.kind == "raw":
            return x
        out = x - self.mean.to(x.device, x.dtype)
        if self.transform is not None:
            out = out @ self.transform.to(x.device, x.dtype)
        return out

    def state(self) -> dict[str, Tensor]:
        """Tensors to checkpoint (the kind goes in the config)."""
        out = {}
        if self.mean is not None:
            out["geometry.mean"] = self.mean.detach().cpu()
        if self.transform is not None:
            out["geometry.transform"] = self.transform.detach().cpu()
        return out

    @classmethod
    def from_state(cls, kind: str, tensors: dict[str, Tensor]) -> TokenGeometry:
        return cls(kind, tensors.get("geometry.mean"), tensors.get("geometry.transform"))


def cosine_cost(x: Tensor, y: Tensor, geometry: TokenGeometry | None = None) -> Tensor:
    """``1 - cos(g(x_i), g(y_j))`` for ``x`` [B, n, H], ``y`` [B, m, H] -> [B, n, m] in [0, 2].

    >>> x = torch.tensor([[[1.0, 0.0], [0.0, 1.0]]]); y = torch.tensor([[[1.0, 0.0]]])
    >>> cosine_cost(x, y).squeeze(-1).tolist()
    [[0.0, 1.0]]
    """
    if geometry is not None:
        x, y = geometry.apply(x), geometry.apply(y)
    x = nn.functional.normalize(x.float(), dim=-1)
    y = nn.functional.normalize(y.float(), dim=-1)
    return (1.0 - x @ y.transpose(-1, -2)).clamp(0.0, 2.0)


def token_marginals(hidden: Tensor, mask: Tensor, kind: str = "uniform") -> Tensor:
    """Marginal weights [B, L] over the masked tokens (each row sums to 1).

    ``uniform``: equal mass per token; ``norm``: mass proportional to the vector norm
    (salient tokens carry more).
    """
    m = mask.to(torch.float32)
    if kind == "uniform":
        w = m
    elif kind == "norm":
        w = hidden.detach().float().norm(dim=-1) * m
    else:
        raise ValueError(f"marginals must be 'uniform' or 'norm', got {kind!r}")
    return w / w.sum(-1, keepdim=True).clamp_min(1e-12)


@dataclass
class OTLossOutput:
    loss: Tensor  # scalar, mean over the batch
    per_pair: Tensor  # [B]
    plan: Tensor  # [B, n, m]
    cost: Tensor  # [B, n, m]


def optical_loss(
    student: Tensor,
    student_mask: Tensor,
    teacher: Tensor,
    teacher_mask: Tensor,
    geometry: TokenGeometry | None = None,
    eps: float = 0.05,
    max_iter: int = 100,
    reg_m: float | None = None,
    marginals: str = "uniform",
    detach_plan: bool = True,
) -> OTLossOutput:
    """The OPTICAL objective <P, C> between student and teacher token sets.

    Parameters
    ----------
    student : Tensor [B, n, H]
        Student token vectors (foreign side).
    student_mask : Tensor [B, n] bool
        Tokens that take part (content tokens: no specials, no instruction prefix).
    teacher : Tensor [B, m, H]
        Teacher token vectors (English side), no gradient needed.
    teacher_mask : Tensor [B, m] bool
    geometry : TokenGeometry, optional
        Applied to both sides before the cosine (None = raw).
    eps, max_iter, reg_m
        Sinkhorn settings (``reg_m`` None = balanced).
    marginals : {"uniform", "norm"}
    detach_plan : bool
        Treat P as a constant (envelope gradient) instead of differentiating through
        the Sinkhorn iterations.

    Raises
    ------
    ValueError
        NaN/inf in the student or teacher vectors of real (masked-in) tokens, rather than
        a NaN loss; padded tokens may hold anything.
    """
    _check_finite_tokens(student, student_mask, teacher, teacher_mask)
    cost = cosine_cost(student, teacher.detach(), geometry)
    a = token_marginals(student, student_mask, marginals)
    b = token_marginals(teacher, teacher_mask, marginals)
    solve_on = cost.detach() if detach_plan else cost
    plan = sinkhorn(solve_on, a, b, mask_a=student_mask.bool(), mask_b=teacher_mask.bool(), eps=eps,
                    max_iter=max_iter, reg_m=reg_m)
    real = student_mask.bool().unsqueeze(-1) & teacher_mask.bool().unsqueeze(-2)
    per_pair = (plan * cost.masked_fill(~real, 0.0)).sum((-1, -2))  # 0 * NaN on padding
    return OTLossOutput(per_pair.mean(), per_pair, plan, cost)


def _check_finite_tokens(student: Tensor, student_mask: Tensor, teacher: Tensor, teacher_mask: Tensor) -> None:
    """ValueError if a real token's vector holds NaN/inf (one device sync for both sides)."""
    flags = []
    for x, mask in ((student, student_mask), (teacher, teacher_mask)):
        bad = ~torch.isfinite(x.detach()).all(-1) & mask.bool()
        flags.append(bad.any())
    for side, bad in zip(("student", "teacher"), torch.stack(flags).tolist(), strict=True):
        if bad:
            raise ValueError(
                f"{side} token vectors hold non-finite values (NaN/inf) at real tokens: the "
                "encoder diverged or its input is broken (lower optim.lr, check the model)"
            )


def pooled_mse(student: Tensor, teacher: Tensor) -> Tensor:
    """Mean squared error between pooled embeddings [B, H] (Reimers & Gurevych 2020)."""
    return nn.functional.mse_loss(student.float(), teacher.detach().float())


def info_nce(query: Tensor, target: Tensor, temperature: float = 0.05, symmetric: bool = True) -> Tensor:
    """Contrastive loss with in-batch negatives: row i of ``query`` [B, H] matches row i of ``target``.

    Vectors are L2-normalised; ``symmetric`` averages both directions.
    """
    q = nn.functional.normalize(query.float(), dim=-1)
    t = nn.functional.normalize(target.float(), dim=-1)
    logits = q @ t.T / temperature
    labels = torch.arange(len(q), device=q.device)
    loss = nn.functional.cross_entropy(logits, labels)
    if symmetric:
        loss = 0.5 * (loss + nn.functional.cross_entropy(logits.T, labels))
    return loss


def cross_entropy_ranking(
    query: Tensor, positives: Tensor, negatives: Tensor | None = None, temperature: float = 0.05
) -> Tensor:
    """Cross-entropy over candidate documents for labelled query–document pairs.

    Query i [B, H] must rank its positive document ``positives[i]`` [B, H] above the
    other queries' positives (in-batch negatives) and above ``negatives`` [B, k, H]
    (hard negatives of query i), if given. Documents come from the frozen teacher.
    """
    q = nn.functional.normalize(query.float(), dim=-1)
    p = nn.functional.normalize(positives.detach().float(), dim=-1)
    logits = q @ p.T  # [B, B]
    if negatives is not None and negatives.numel():
        n = nn.functional.normalize(negatives.detach().float(), dim=-1)
        logits = torch.cat([logits, torch.einsum("bh,bkh->bk", q, n)], dim=1)
    labels = torch.arange(len(q), device=q.device)
    return nn.functional.cross_entropy(logits / temperature, labels)
