"""Distillation settings: one dataclass per concern, read from TOML, overridable with
``section.key=value``, saved whole with every checkpoint and result.

A config file looks like ``configs/optical_sw.toml``::

    [model]
    teacher = "bundled:multilingual-e5-small"
    [data]
    train = "bible:sw"
    max_pairs = 2000
    [objective]
    name = "optical"
    eps = 0.05
"""

from __future__ import annotations

import dataclasses
import json
import tomllib
from dataclasses import asdict, dataclass, field, fields
from pathlib import Path
from typing import Any

__all__ = [
    "ModelConfig",
    "DataConfig",
    "ObjectiveConfig",
    "OptimConfig",
    "RunConfig",
    "DistillConfig",
    "OBJECTIVES",
    "load_config",
    "apply_overrides",
]

OBJECTIVES = ("optical", "mse", "infonce", "cross_entropy")


@dataclass
class ModelConfig:
    teacher: str = "bundled:multilingual-e5-small"
    student: str | None = None  # None: initialised from the teacher
    student_side: str = "query"  # "query": foreign queries -> English docs; "document": the reverse
    freeze_embeddings: bool = True  # the word-embedding matrix is ~80% of e5-small's parameters
    freeze_layers: int = 0  # bottom k transformer layers frozen
    truncate_layers: int | None = None  # keep only the bottom k layers of the student (smaller model)
    projection: str = "auto"  # "auto" (when hidden sizes differ) | "always" | "never"
    max_length: int = 64
    dropout: float | None = None  # None: the model's own (0.1 for BERT)


@dataclass
class DataConfig:
    train: str = "bible:sw"  # dataset spec or a bitext TSV (objective cross_entropy: BEIR dir or bible:<lang>)
    extra_train: list[str] = field(default_factory=list)  # more bitext mixed in (e.g. replay of bible:de)
    extra_fraction: float = 0.0  # share of each batch drawn from extra_train
    max_pairs: int | None = 2000  # pairs (or labelled queries) used; None = all
    dev: str | None = None  # dataset for dev retrieval (default: `train` when it is embedded)
    dev_queries: int = 200  # dev queries used in periodic evaluation
    subset_seed: int = 0  # which pairs are drawn (independent of the training seed)


@dataclass
class ObjectiveConfig:
    name: str = "optical"
    # OPTICAL
    eps: float = 0.05
    max_iter: int = 100
    reg_m: float | None = None  # None = balanced OT; a float = KL-relaxed (unbalanced)
    geometry: str = "center"  # "raw" reproduces the collapse; "center" | "whiten" fix it
    marginals: str = "uniform"  # "uniform" | "norm"
    detach_plan: bool = True
    # extra terms, added with weights
    mse_weight: float = 0.0  # pooled MSE added to the main objective
    anchor_weight: float = 0.0  # English->English term (student on the English side vs teacher): anti-forgetting
    l2sp_weight: float = 0.0  # ||theta - theta_0||^2 toward the initial weights: anti-forgetting
    # contrastive / cross-entropy
    temperature: float = 0.05
    hard_negatives: int = 0  # cross_entropy: teacher-mined hard negatives per query


@dataclass
class OptimConfig:
    lr: float = 2e-5
    weight_decay: float = 0.01
    batch_size: int = 32  # global batch (split over processes)
    grad_accum: int = 1
    epochs: float = 1.0
    max_steps: int | None = None
    warmup_ratio: float = 0.1
    schedule: str = "linear"  # "linear" | "cosine" | "constant"
    clip_norm: float = 1.0


@dataclass
class RunConfig:
    out_dir: str = "runs/distill"
    seed: int = 0
    eval_every: int = 0  # steps; 0 = only at the end
    keep_best: bool = True  # keep the student with the best dev MRR@10
    checkpoint_every: int = 50  # steps; 0 = only at the end
    device: str = "auto"  # "auto" | "cpu" | "cuda" | "cuda:1" ...
    bf16: bool = True  # autocast on CUDA (CPU stays fp32)
    deterministic: bool = True
    progress: bool = True
    name: str | None = None  # system name in results (default: derived)


@dataclass
class DistillConfig:
    model: ModelConfig = field(default_factory=ModelConfig)
    data: DataConfig = field(default_factory=DataConfig)
    objective: ObjectiveConfig = field(default_factory=ObjectiveConfig)
    optim: OptimConfig = field(default_factory=OptimConfig)
    run: RunConfig = field(default_factory=RunConfig)

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> DistillConfig:
        sections = {f.name: f.type for f in fields(cls)}
        unknown = set(data) - set(sections)
        if unknown:
            raise ValueError(f"unknown config section(s): {', '.join(sorted(unknown))} "
                             f"(known: {', '.join(sections)})")
        kwargs = {}
        for f in fields(cls):
            section_cls = _SECTION_TYPES[f.name]
            values = data.get(f.name, {})
            known = {sf.name for sf in fields(section_cls)}
            bad = set(values) - known
            if bad:
                raise ValueError(f"unknown key(s) in [{f.name}]: {', '.join(sorted(bad))} "
                                 f"(known: {', '.join(sorted(known))})")
            kwargs[f.name] = section_cls(**values)
        cfg = cls(**kwargs)
        cfg.validate()
        return cfg

    def validate(self) -> None:
        if self.objective.name not in OBJECTIVES:
            raise ValueError(f"objective.name must be one of {', '.join(OBJECTIVES)}, got {self.objective.name!r}")
        if self.model.student_side not in {"query", "document"}:
            raise ValueError(f"model.student_side must be 'query' or 'document', got {self.model.student_side!r}")
        if self.model.projection not in {"auto", "always", "never"}:
            raise ValueError(f"model.projection must be auto/always/never, got {self.model.projection!r}")
        if self.optim.batch_size < 1 or self.optim.grad_accum < 1:
            raise ValueError("optim.batch_size and optim.grad_accum must be >= 1")
        if self.optim.batch_size % self.optim.grad_accum:
            raise ValueError("optim.batch_size must be a multiple of optim.grad_accum")
        if self.objective.eps <= 0:
            raise ValueError(f"objective.eps must be > 0, got {self.objective.eps}")
        if not 0 <= self.data.extra_fraction < 1:
            raise ValueError("data.extra_fraction must be in [0, 1)")
        if self.optim.schedule not in {"linear", "cosine", "constant"}:
            raise ValueError(f"optim.schedule must be linear/cosine/constant, got {self.optim.schedule!r}")

    def system_name(self) -> str:
        if self.run.name:
            return self.run.name
        lang = self.data.train.split(":", 1)[-1] if ":" in self.data.train else Path(self.data.train).stem
        return f"{self.objective.name}-{lang}-s{self.run.seed}"

    def dumps(self) -> str:
        return json.dumps(self.to_dict(), indent=2, sort_keys=True)


_SECTION_TYPES = {
    "model": ModelConfig,
    "data": DataConfig,
    "objective": ObjectiveConfig,
    "optim": OptimConfig,
    "run": RunConfig,
}


def _parse_value(text: str, current: Any, key: str) -> Any:
    """Parse an override value, guided by the current value's type."""
    low = text.strip()
    if low.lower() in {"none", "null"}:
        return None
    if isinstance(current, bool):
        if low.lower() in {"true", "1", "yes", "on"}:
            return True
        if low.lower() in {"false", "0", "no", "off"}:
            return False
        raise ValueError(f"{key}: expected true/false, got {text!r}")
    if isinstance(current, list):
        return [v.strip() for v in low.split(",") if v.strip()]
    try:  # TOML literal: numbers, quoted strings, arrays
        return tomllib.loads(f"v = {low}")["v"]
    except tomllib.TOMLDecodeError:
        return low


def apply_overrides(cfg: DistillConfig, overrides: list[str]) -> DistillConfig:
    """Apply ``section.key=value`` overrides (e.g. ``objective.eps=0.02``) and re-validate."""
    data = cfg.to_dict()
    for item in overrides:
        if "=" not in item:
            raise ValueError(f"override {item!r} is not of the form section.key=value")
        path, value = item.split("=", 1)
        section, _, key = path.strip().partition(".")
        if section not in data or key not in data[section]:
            known = ", ".join(f"{s}.{k}" for s in data for k in data[s])
            raise ValueError(f"unknown setting {path!r}; known settings: {known}")
        data[section][key] = _parse_value(value, data[section][key], path)
    return DistillConfig.from_dict(data)


def load_config(path: str | Path | None = None, overrides: list[str] | None = None) -> DistillConfig:
    """Defaults, then the TOML file (if any), then overrides."""
    data: dict[str, Any] = {}
    if path is not None:
        p = Path(path)
        if not p.is_file():
            raise FileNotFoundError(f"config file not found: {p}")
        try:
            data = tomllib.loads(p.read_text(encoding="utf-8"))
        except tomllib.TOMLDecodeError as err:
            raise ValueError(f"{p}: not valid TOML ({err})") from err
    cfg = DistillConfig.from_dict(data)
    return apply_overrides(cfg, overrides or [])


def replace(cfg: DistillConfig, **sections: dict[str, Any]) -> DistillConfig:
    """A copy with some section fields changed: ``replace(cfg, optim={"lr": 1e-5})``."""
    out = dataclasses.replace(cfg)
    for name, changes in sections.items():
        setattr(out, name, dataclasses.replace(getattr(cfg, name), **changes))
    out.validate()
    return out
