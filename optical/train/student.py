"""The trainable student: an :class:`~optical.encoders.Encoder`, optionally truncated and
partly frozen, with a learned projection into the teacher's space when sizes differ.

A saved student is a Hugging Face folder (``from_pretrained`` loads it) plus
``optical_asset.json`` (prefix conventions) and, when there is one,
``optical_projection.safetensors`` (applied by :class:`~optical.encoders.Encoder`).
"""

from __future__ import annotations

import json
from pathlib import Path

import torch
from torch import nn

from optical.encoders import Encoder
from optical.hf import quiet_transformers
from optical.paths import atomic_dir

__all__ = ["freeze_parameters", "truncate_layers", "check_tokenizer_coverage", "save_student", "build_student"]


def _layers(model: nn.Module) -> nn.ModuleList:
    for path in ("encoder.layer", "layer", "transformer.layer", "encoder.layers"):
        obj = model
        for part in path.split("."):
            obj = getattr(obj, part, None)
            if obj is None:
                break
        if isinstance(obj, nn.ModuleList):
            return obj
    raise ValueError(f"{type(model).__name__}: cannot find its transformer layers to freeze/truncate")


def freeze_parameters(model: nn.Module, embeddings: bool, bottom_layers: int) -> tuple[int, int]:
    """Freeze the word-embedding matrix and/or the bottom ``bottom_layers`` layers.

    Returns (trainable, total) parameter counts.
    """
    if embeddings:
        model.get_input_embeddings().weight.requires_grad_(False)
    if bottom_layers:
        layers = _layers(model)
        if bottom_layers > len(layers):
            raise ValueError(f"freeze_layers={bottom_layers} but the model has {len(layers)} layers")
        for layer in layers[:bottom_layers]:
            layer.requires_grad_(False)
    total = sum(p.numel() for p in model.parameters())
    trainable = sum(p.numel() for p in model.parameters() if p.requires_grad)
    return trainable, total


def truncate_layers(model: nn.Module, keep: int) -> None:
    """Keep only the bottom ``keep`` transformer layers (a smaller model of the same family)."""
    layers = _layers(model)
    if not 1 <= keep <= len(layers):
        raise ValueError(f"truncate_layers must be in 1..{len(layers)}, got {keep}")
    del layers[keep:]
    model.config.num_hidden_layers = keep


def check_tokenizer_coverage(encoder: Encoder, texts: list[str], max_unknown: float = 0.2) -> float:
    """Share of [UNK] pieces when the student tokenises ``texts``; raise if above ``max_unknown``.

    An English-only WordPiece student cannot represent Amharic: better a clear error
    before training than a model trained on [UNK].
    """
    tok = encoder.tokenizer
    unk = tok.unk_token_id
    if unk is None or not texts:
        return 0.0
    ids = tok(list(texts[:200]), add_special_tokens=False)["input_ids"]
    n = sum(len(x) for x in ids)
    share = sum(i == unk for x in ids for i in x) / max(n, 1)
    if share > max_unknown:
        raise ValueError(
            f"the student's tokenizer ({encoder.name_or_path}) maps {share:.0%} of the source-language "
            "pieces to its unknown token: it cannot represent this language; pick a multilingual student"
        )
    return share


def build_student(
    name_or_path: str,
    teacher_hidden: int,
    projection: str = "auto",
    max_length: int = 64,
    freeze_embeddings: bool = True,
    freeze_layers: int = 0,
    truncate: int | None = None,
    dropout: float | None = None,
    query_prefix: str | None = None,
    doc_prefix: str | None = None,
) -> Encoder:
    """Load a student encoder, set it up for training, attach a projection if needed."""
    student = Encoder(name_or_path, max_length=max_length, query_prefix=query_prefix, doc_prefix=doc_prefix)
    if dropout is not None:
        for module in student.model.modules():
            if isinstance(module, nn.Dropout):
                module.p = dropout
    if truncate is not None:
        truncate_layers(student.model, truncate)
    freeze_parameters(student.model, freeze_embeddings, freeze_layers)
    need = student.hidden_size != teacher_hidden
    if projection == "never" and need:
        raise ValueError(
            f"student hidden size {student.hidden_size} differs from the teacher's {teacher_hidden}: "
            "set model.projection = 'auto' to learn a projection"
        )
    if projection == "always" or (projection == "auto" and need):
        student.set_projection(nn.Linear(student.hidden_size, teacher_hidden))
    return student


def save_student(student: Encoder, out_dir: str | Path, extra: dict | None = None) -> Path:
    """Write the student as a Hugging Face folder (atomically) loadable by ``from_pretrained``."""
    from safetensors.torch import save_file

    out_dir = Path(out_dir)
    with atomic_dir(out_dir) as tmp:
        with quiet_transformers():
            student.model.save_pretrained(tmp)
            student.tokenizer.save_pretrained(tmp)
        if student.projection is not None:
            state = {k: v.detach().cpu().contiguous() for k, v in student.projection.state_dict().items()}
            save_file(state, str(tmp / "optical_projection.safetensors"))
        manifest = {
            "encoder": {
                "query_prefix": student.query_prefix,
                "doc_prefix": student.doc_prefix,
                "pooling": student.pooling,
                "normalize": student.normalize,
            },
            "student_of": extra or {},
        }
        (tmp / "optical_asset.json").write_text(json.dumps(manifest, indent=2))
    return out_dir


def parameter_distance(model: nn.Module, reference: dict[str, torch.Tensor]) -> torch.Tensor:
    """Sum of squared differences to ``reference`` over trainable parameters (L2-SP)."""
    total = None
    for name, p in model.named_parameters():
        if p.requires_grad and name in reference:
            d = (p - reference[name].to(p.device, p.dtype)).pow(2).sum()
            total = d if total is None else total + d
    return total if total is not None else torch.zeros(())
