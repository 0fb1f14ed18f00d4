"""Token alignment of one sentence pair by entropic OT, as OPTICAL's loss sees it.

The student reads the foreign sentence (with the query prefix) and the teacher the
English one (query prefix as in training, or the document prefix); the cost is
``1 - cos(g(s_i), g(t_j))`` over the tokens that take part (content tokens, optionally
the special tokens and the instruction prefix), ``g`` the geometry (raw, centred on
the teacher's mean token vector, or centred and whitened, as in training); the Sinkhorn
plan is the soft alignment and ``<P, C>`` the OT cost (the training loss for this pair).

About 400 lines, one job: every piece here (options, tokens taking part, tokenizer check,
geometry fit, plan links) is a step of aligning one sentence pair for the alignment explorer.
"""

from __future__ import annotations

import hashlib
import json
import math
import numbers
from collections.abc import Sequence
from dataclasses import dataclass, field, fields, replace

import numpy as np
import torch

from optical.app.locking import MODEL_LOCK
from optical.losses import GEOMETRY_KINDS, TokenGeometry, cosine_cost
from optical.ot import sinkhorn
from optical.train.config import DEFAULT_GEOMETRY

__all__ = [
    "AlignOptions",
    "Alignment",
    "check_compatible",
    "SentenceTokens",
    "align",
    "fit_center",
    "fit_geometry",
    "DEFAULT_GEOMETRY",
    "GEOMETRIES",
    "plan_links",
    "sentence_tokens",
    "tokenizer_fingerprint",
]

LINK_RULES = ("argmax", "mutual", "threshold")
MAX_LENGTH = 8192  # tokens per sentence (the encoder's own limit applies as well)
MAX_ITER = 100_000  # Sinkhorn iterations
GEOMETRIES = GEOMETRY_KINDS  # as objective.geometry in training (default: DEFAULT_GEOMETRY, too)


@dataclass(frozen=True)
class AlignOptions:
    """How to align: Sinkhorn settings, geometry, tokens that take part, link rule.

    ``reg_m`` None is balanced OT; a float relaxes both marginals (unbalanced OT).
    ``geometry`` defaults to training's (``"whiten"``, :data:`DEFAULT_GEOMETRY`).
    ``threshold`` (rule ``threshold``): smallest share of a source token's mass a link
    must carry.
    """

    eps: float = 0.05
    reg_m: float | None = None
    max_iter: int = 200
    geometry: str = DEFAULT_GEOMETRY
    special_tokens: bool = False
    prefix_tokens: bool = False
    target_as_query: bool = True
    link_rule: str = "argmax"
    threshold: float = 0.3
    max_length: int = 256

    def __post_init__(self) -> None:
        if not (_is_number(self.eps) and 0 < self.eps < math.inf):
            raise ValueError(f"eps must be a positive finite number, got {self.eps!r}")
        if self.reg_m is not None and not (_is_number(self.reg_m) and self.reg_m > 0):
            raise ValueError(f"reg_m must be None (balanced) or a number > 0, got {self.reg_m!r}")
        if not (_is_int(self.max_iter) and 1 <= self.max_iter <= MAX_ITER):
            raise ValueError(
                f"max_iter must be an integer in [1, {MAX_ITER}], got {self.max_iter!r}"
            )
        if not (_is_int(self.max_length) and 1 <= self.max_length <= MAX_LENGTH):
            raise ValueError(
                f"max_length must be an integer in [1, {MAX_LENGTH}] (tokens), "
                f"got {self.max_length!r}"
            )
        if self.geometry not in GEOMETRIES:
            raise ValueError(f"geometry must be one of {GEOMETRIES}, got {self.geometry!r}")
        if self.link_rule not in LINK_RULES:
            raise ValueError(f"link_rule must be one of {LINK_RULES}, got {self.link_rule!r}")
        if not (_is_number(self.threshold) and 0 < self.threshold <= 1):
            raise ValueError(f"threshold must be a number in (0, 1], got {self.threshold!r}")
        for name in ("special_tokens", "prefix_tokens", "target_as_query"):
            if not isinstance(getattr(self, name), bool):
                raise ValueError(f"{name} must be True or False, got {getattr(self, name)!r}")


def _is_number(x: object) -> bool:
    return isinstance(x, numbers.Real) and not isinstance(x, bool) and not math.isnan(x)


def _is_int(x: object) -> bool:
    return isinstance(x, numbers.Integral) and not isinstance(x, bool)


@dataclass
class SentenceTokens:
    """The tokens of one sentence that take part, with their raw hidden vectors.

    ``kinds`` is ``content``, ``special`` or ``prefix`` per token; ``n_all`` counts every
    real token after truncation and ``truncated`` says the encoder's limit cut the text.
    """

    tokens: list[str]
    kinds: list[str]
    hidden: torch.Tensor  # [k, H] float32
    n_all: int
    truncated: bool


@dataclass
class Alignment:
    """Cost matrix, transport plan and its reading as links for one sentence pair."""

    source: str
    target: str
    student: str
    teacher: str
    src_tokens: list[str]
    tgt_tokens: list[str]
    src_kinds: list[str]
    tgt_kinds: list[str]
    cost: np.ndarray  # [n, m]
    plan: np.ndarray  # [n, m]
    ot_cost: float
    mass: float
    links: list[tuple[int, int, float]]
    options: AlignOptions
    truncated: tuple[bool, bool] = (False, False)
    notes: list[str] = field(default_factory=list)

    @property
    def shape(self) -> tuple[int, int]:
        return self.cost.shape


def _check_text(text: object, what: str) -> str:
    if not isinstance(text, str):
        raise ValueError(f"the {what} must be a string, got {type(text).__name__}")
    if not text.strip():
        raise ValueError(f"the {what} is empty: type a sentence")
    return text


def tokenizer_fingerprint(tokenizer) -> str:
    """A hash of the tokenizer's definition (vocabulary, normaliser, pre-tokeniser, specials;
    not its truncation/padding state), cached on the tokenizer object."""
    cached = getattr(tokenizer, "_optical_tokenizer_fingerprint", None)
    if cached:
        return cached
    backend = getattr(tokenizer, "backend_tokenizer", None)
    if backend is not None:
        # truncation / padding are call-time state (a saved copy records its last use);
        # Unigram scores may lose float digits in a save/load round trip: pieces only
        spec = {k: v for k, v in json.loads(backend.to_str()).items()
                if k not in ("truncation", "padding")}  # fmt: skip
        model = dict(spec.get("model") or {})
        vocab = model.get("vocab")
        if isinstance(vocab, list):
            model["vocab"] = [p[0] if isinstance(p, list) else p for p in vocab]
        spec["model"] = model
        text = json.dumps(spec, sort_keys=True)
    else:  # slow tokenizers: the vocabulary and the special tokens
        vocab = sorted(tokenizer.get_vocab().items())
        text = repr((vocab, sorted(map(str, tokenizer.all_special_tokens))))
    digest = hashlib.sha256(text.encode("utf-8")).hexdigest()[:16]
    try:
        tokenizer._optical_tokenizer_fingerprint = digest
    except AttributeError:
        pass
    return digest


def check_compatible(student, teacher) -> None:
    """ValueError unless ``student`` and ``teacher`` can be aligned token by token.

    Their vectors must have the same width, and both must use the same tokenizer: the
    plan's rows and columns are labelled with each side's tokens and the geometry is
    fitted on the teacher's, so two vocabularies would label the plan wrongly even when
    the widths match.
    """
    if student.hidden_size != teacher.hidden_size:
        raise ValueError(
            f"{student.name_or_path} gives {student.hidden_size}-d and {teacher.name_or_path} "
            f"{teacher.hidden_size}-d token vectors: not comparable"
        )
    if student.tokenizer is teacher.tokenizer:
        return
    s_fp, t_fp = tokenizer_fingerprint(student.tokenizer), tokenizer_fingerprint(teacher.tokenizer)
    if s_fp != t_fp:
        s_n, t_n = len(student.tokenizer), len(teacher.tokenizer)
        raise ValueError(
            f"{student.name_or_path} and {teacher.name_or_path} use different tokenizers "
            f"({s_n} vs {t_n} pieces, fingerprints {s_fp} vs {t_fp}): the alignment needs a "
            "student and a teacher that share one tokenizer"
        )


def sentence_tokens(encoder, text: str, is_query: bool, options: AlignOptions) -> SentenceTokens:
    """Tokenise and encode ``text``; keep the tokens ``options`` lets take part."""
    with MODEL_LOCK, torch.inference_mode():
        batch = encoder.tokenize(
            [text], is_query, max_length=min(options.max_length, encoder.max_length)
        )
        out = encoder(batch)
        full = encoder.tokenizer(encoder.prefix(is_query) + text, verbose=False)["input_ids"]
    real = batch.attention_mask[0].bool()
    ids = batch.input_ids[0][real].tolist()
    content = batch.content_mask[0][real].tolist()
    specials = set(encoder.tokenizer.all_special_ids)
    kinds = [
        "content" if c else ("special" if i in specials else "prefix")
        for i, c in zip(ids, content, strict=True)
    ]
    allowed = (
        {"content"}
        | ({"special"} if options.special_tokens else set())
        | ({"prefix"} if options.prefix_tokens else set())
    )
    keep = [k in allowed for k in kinds]
    hidden = out.hidden[0][real].float().cpu()[torch.tensor(keep, dtype=torch.bool)]
    tokens = [t for t, k in zip(batch.tokens[0], keep, strict=True) if k]
    return SentenceTokens(
        tokens,
        [k for k, ok in zip(kinds, keep, strict=True) if ok],
        hidden,
        len(ids),
        len(full) > len(ids),
    )


def fit_center(
    teacher,
    sentences: Sequence[str],
    is_query: bool = True,
    max_length: int = 256,
    batch_size: int = 16,
) -> TokenGeometry:
    """Centre on the teacher's mean content-token vector over ``sentences`` (as training does)."""
    return fit_geometry(teacher, sentences, "center", is_query, max_length, batch_size)


def fit_geometry(
    teacher,
    sentences: Sequence[str],
    kind: str = DEFAULT_GEOMETRY,
    is_query: bool = True,
    max_length: int = 256,
    batch_size: int = 16,
) -> TokenGeometry:
    """Fit the token geometry ``kind`` ("center" or "whiten") on the teacher's content
    tokens of ``sentences``, as training does."""
    if not (_is_int(max_length) and 1 <= max_length <= MAX_LENGTH):
        raise ValueError(f"max_length must be an integer in [1, {MAX_LENGTH}], got {max_length!r}")
    if not (_is_int(batch_size) and batch_size >= 1):
        raise ValueError(f"batch_size must be an integer >= 1, got {batch_size!r}")
    if isinstance(sentences, str):
        raise ValueError("sentences must be a list of strings, not one string")
    sentences = [s for s in sentences if isinstance(s, str) and s.strip()]
    if not sentences:
        raise ValueError("fitting the geometry needs at least one non-empty sentence")
    parts = []
    for start in range(0, len(sentences), batch_size):
        with MODEL_LOCK, torch.inference_mode():
            batch = teacher.tokenize(
                sentences[start : start + batch_size],
                is_query,
                max_length=min(max_length, teacher.max_length),
            )
            out = teacher(batch)
            parts.append(out.hidden[out.content_mask.to(out.hidden.device)].float().cpu())
    return TokenGeometry.fit(torch.cat(parts), kind)


def plan_links(
    plan: np.ndarray, rule: str = "argmax", threshold: float = 0.3
) -> list[tuple[int, int, float]]:
    """Read a plan as links ``(i, j, share)``; ``share`` = ``P_ij / sum_j P_ij``.

    ``argmax``: each source token to its heaviest target; ``mutual``: only pairs that
    are each other's argmax; ``threshold``: every pair carrying at least ``threshold``
    of its source token's mass.
    """
    if rule not in LINK_RULES:
        raise ValueError(f"rule must be one of {LINK_RULES}, got {rule!r}")
    if rule == "threshold" and not (_is_number(threshold) and 0 < threshold <= 1):
        raise ValueError(f"threshold must be a number in (0, 1], got {threshold!r}")
    plan = np.asarray(plan, dtype=np.float64)
    if plan.ndim != 2:
        raise ValueError(f"plan must be a 2-d (n, m) array, got shape {plan.shape}")
    if plan.size == 0:
        return []
    share = plan / np.maximum(plan.sum(1, keepdims=True), 1e-300)
    best_j = plan.argmax(1)
    if rule == "threshold":
        rows, cols = np.nonzero(share >= threshold)
        return [(int(i), int(j), float(share[i, j])) for i, j in zip(rows, cols, strict=True)]
    links = [(i, int(j), float(share[i, j])) for i, j in enumerate(best_j)]
    if rule == "mutual":
        best_i = plan.argmax(0)
        links = [(i, j, s) for i, j, s in links if best_i[j] == i]
    return links


def align(
    student,
    teacher,
    source: str,
    target: str,
    options: AlignOptions | None = None,
    geometry: TokenGeometry | None = None,
    **overrides: object,
) -> Alignment:
    """Align ``source`` (student, query side) with ``target`` (teacher) by entropic OT.

    Parameters
    ----------
    student, teacher : optical.encoders.Encoder
        Read the foreign and the English sentence (the same model for zero-shot).
    source, target : str
    options : AlignOptions
    geometry : TokenGeometry, optional
        Used when ``options.geometry`` is "center" or "whiten" (see :func:`fit_geometry`);
        without it the pair's own teacher tokens are the sample.
    **overrides
        Fields of :class:`AlignOptions` replacing those of ``options``
        (``align(s, t, src, tgt, eps=0.1, max_length=64)``); validated alike.

    Raises
    ------
    ValueError
        Empty sentence, no token takes part on one side, or a student and a teacher of
        different widths or tokenizers (:func:`check_compatible`).
    """
    options = AlignOptions() if options is None else options
    if not isinstance(options, AlignOptions):
        raise ValueError(f"options must be an AlignOptions, got {type(options).__name__}")
    if overrides:
        unknown = sorted(set(overrides) - {f.name for f in fields(AlignOptions)})
        if unknown:
            known = ", ".join(f.name for f in fields(AlignOptions))
            raise ValueError(f"unknown alignment option(s) {unknown}; known: {known}")
        options = replace(options, **overrides)
    if geometry is not None and not isinstance(geometry, TokenGeometry):
        raise ValueError(
            f"geometry must be a fitted TokenGeometry or None, got {type(geometry).__name__} "
            "(choose the kind with AlignOptions(geometry=...))"
        )
    _check_text(source, "source sentence")
    _check_text(target, "target sentence")
    check_compatible(student, teacher)
    src = sentence_tokens(student, source, True, options)
    tgt = sentence_tokens(teacher, target, options.target_as_query, options)
    for side, toks in (("source", src), ("target", tgt)):
        if not toks.tokens:
            raise ValueError(
                f"no token of the {side} sentence takes part: allow special or prefix tokens"
            )
    notes = []
    geo = None
    if options.geometry != "raw":
        if geometry is None:
            geometry = TokenGeometry.fit(tgt.hidden, options.geometry)
            sample = "mean token" if options.geometry == "center" else "mean and covariance"
            notes.append(
                f"geometry ({options.geometry}) fitted on this target sentence's own {sample} "
                "(no bitext sample)"
            )
        geo = geometry
    cost = cosine_cost(src.hidden[None], tgt.hidden[None], geo)[0].double()
    plan = sinkhorn(
        cost, eps=float(options.eps), max_iter=int(options.max_iter), reg_m=options.reg_m
    )
    for side, toks in (("source", src), ("target", tgt)):
        if toks.truncated:
            notes.append(
                f"the {side} sentence was cut to {toks.n_all} tokens (the encoder's limit)"
            )
    plan_np, cost_np = plan.numpy(), cost.numpy()
    return Alignment(
        source=source,
        target=target,
        student=student.name_or_path,
        teacher=teacher.name_or_path,
        src_tokens=src.tokens,
        tgt_tokens=tgt.tokens,
        src_kinds=src.kinds,
        tgt_kinds=tgt.kinds,
        cost=cost_np.astype(np.float32),
        plan=plan_np.astype(np.float32),
        ot_cost=float((plan * cost).sum()),
        mass=float(plan.sum()),
        links=plan_links(plan_np, options.link_rule, options.threshold),
        options=options,
        truncated=(src.truncated, tgt.truncated),
        notes=notes,
    )
