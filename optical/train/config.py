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

Every setting has one name, ``section.key`` (``objective.eps``), in config files
(``[objective]`` / ``eps``, or ``"objective.eps" = ...``), in sweep specs and on the
command line. One parser (:func:`coerce`) takes each value against the field's type:

- typed values (TOML files, sweep specs, Python) must already have the field's type
  (an int is accepted for a float field); TOML has no null, so an optional setting is
  cleared with the string ``"none"``;
- command-line text (``key=value``) is read as that type: numbers (``2e-5``, ``.5``),
  ``true``/``false`` (also yes/no, on/off, 1/0), ``none`` or ``null`` for optional
  settings, strings as written (quotes optional), lists as a TOML array
  (``data.extra_train=["bible:de","bible:fr"]``) or comma-separated
  (``data.extra_train=bible:de,bible:fr``; an empty value is the empty list).

Choices and ranges are checked when the config is built (:meth:`DistillConfig.validate`),
before any model loads; an unknown key is refused with the closest known ones.
"""

from __future__ import annotations

import difflib
import json
import math
import re
import tomllib
import types
import typing
from collections.abc import Callable, Mapping, Sequence
from dataclasses import asdict, dataclass, field
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
    "GEOMETRIES",
    "MARGINALS",
    "SCHEDULES",
    "SETTINGS",
    "Text",
    "coerce",
    "check_dataset_spec",
    "flatten_settings",
    "parse_assignments",
    "load_config",
    "apply_overrides",
]

OBJECTIVES = ("optical", "mse", "infonce", "cross_entropy")
GEOMETRIES = ("center", "whiten", "raw")  # = optical.losses.GEOMETRY_KINDS (no torch import here)
MARGINALS = ("uniform", "norm")
SCHEDULES = ("linear", "cosine", "constant")
STUDENT_SIDES = ("query", "document")
PROJECTIONS = ("auto", "always", "never")


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
    def from_dict(cls, data: Mapping[str, Any]) -> DistillConfig:
        """A validated config from (nested or dotted) typed settings over the defaults."""
        return build_config(data)

    def validate(self) -> None:
        """Check choices, ranges and local paths; raise ValueError naming the setting."""
        values = flatten_settings(self.to_dict())
        for key, value in values.items():
            if value is None:
                continue
            choices = _CHOICES.get(key)
            if choices is not None and value not in choices:
                raise ValueError(f"{key} must be one of {', '.join(choices)}, got {value!r}")
            rule = _RANGES.get(key)
            if rule is not None and not rule[0](value):
                raise ValueError(f"{key} must be {rule[1]}, got {value!r}")
        if not _DEVICE.fullmatch(self.run.device):
            raise ValueError(f"run.device must be auto, cpu, cuda, cuda:<index> or mps, got {self.run.device!r}")
        if self.optim.batch_size % self.optim.grad_accum:
            raise ValueError(f"optim.batch_size ({self.optim.batch_size}) must be a multiple of "
                             f"optim.grad_accum ({self.optim.grad_accum})")
        if self.data.extra_fraction > 0 and not self.data.extra_train:
            raise ValueError("data.extra_fraction > 0 needs data.extra_train (the bitext to mix in)")
        self.check_local_paths()

    def check_local_paths(self) -> None:
        """Models given as explicit local paths (``/``, ``./``, ``../``, ``~``) must exist;
        datasets must be a known embedded dataset (``bible:<lang>``) or an existing path."""
        _check_path("model.teacher", self.model.teacher)
        _check_path("model.student", self.model.student)
        check_dataset_spec("data.train", self.data.train)
        if self.data.dev is not None:
            check_dataset_spec("data.dev", self.data.dev)
        for spec in self.data.extra_train:
            check_dataset_spec("data.extra_train", spec)

    def system_name(self) -> str:
        if self.run.name:
            return self.run.name
        return f"{self.objective.name}-{self.train_tag()}-s{self.run.seed}"

    def train_tag(self) -> str:
        """What runs on ``data.train`` are named after (``bible:sw`` -> ``sw``, ``x/sw.tsv`` -> ``sw``)."""
        from optical.dataset_spec import DatasetSpec

        return DatasetSpec.parse(self.data.train, check=False).run_tag

    def dumps(self) -> str:
        return json.dumps(self.to_dict(), indent=2, sort_keys=True)


_SECTION_TYPES = {
    "model": ModelConfig,
    "data": DataConfig,
    "objective": ObjectiveConfig,
    "optim": OptimConfig,
    "run": RunConfig,
}

#: every setting ``section.key`` -> its type hint (``int``, ``float | None``, ``list[str]``, ...)
SETTINGS: dict[str, Any] = {
    f"{section}.{name}": hint
    for section, cls in _SECTION_TYPES.items()
    for name, hint in typing.get_type_hints(cls).items()
}

_CHOICES: dict[str, tuple[str, ...]] = {
    "objective.name": OBJECTIVES,
    "objective.geometry": GEOMETRIES,
    "objective.marginals": MARGINALS,
    "optim.schedule": SCHEDULES,
    "model.student_side": STUDENT_SIDES,
    "model.projection": PROJECTIONS,
}


def _rule(test: Callable[[Any], bool], text: str) -> tuple[Callable[[Any], bool], str]:
    return test, text


_POSITIVE = _rule(lambda v: v > 0, "> 0")
_NON_NEGATIVE = _rule(lambda v: v >= 0, ">= 0")
_AT_LEAST_1 = _rule(lambda v: v >= 1, ">= 1")
_FRACTION = _rule(lambda v: 0 <= v < 1, "in [0, 1)")
_SEED = _rule(lambda v: 0 <= v < 2**32, "an integer in [0, 2**32)")
_NON_EMPTY = _rule(lambda v: bool(v.strip()), "a non-empty string")

# None (an unset optional setting) is always allowed; these check the values given
_RANGES: dict[str, tuple[Callable[[Any], bool], str]] = {
    "model.teacher": _NON_EMPTY,
    "model.student": _NON_EMPTY,
    "model.freeze_layers": _NON_NEGATIVE,
    "model.truncate_layers": _AT_LEAST_1,
    "model.max_length": _rule(lambda v: v >= 2, ">= 2"),
    "model.dropout": _FRACTION,
    "data.train": _NON_EMPTY,
    "data.extra_fraction": _FRACTION,
    "data.max_pairs": _AT_LEAST_1,
    "data.dev": _NON_EMPTY,
    "data.dev_queries": _AT_LEAST_1,
    "data.subset_seed": _SEED,
    "objective.eps": _POSITIVE,
    "objective.max_iter": _AT_LEAST_1,
    "objective.reg_m": _POSITIVE,
    "objective.mse_weight": _NON_NEGATIVE,
    "objective.anchor_weight": _NON_NEGATIVE,
    "objective.l2sp_weight": _NON_NEGATIVE,
    "objective.temperature": _POSITIVE,
    "objective.hard_negatives": _NON_NEGATIVE,
    "optim.lr": _POSITIVE,
    "optim.weight_decay": _NON_NEGATIVE,
    "optim.batch_size": _AT_LEAST_1,
    "optim.grad_accum": _AT_LEAST_1,
    "optim.epochs": _POSITIVE,
    "optim.max_steps": _AT_LEAST_1,
    "optim.warmup_ratio": _FRACTION,
    "optim.clip_norm": _NON_NEGATIVE,
    "run.out_dir": _NON_EMPTY,
    "run.seed": _SEED,
    "run.eval_every": _NON_NEGATIVE,
    "run.checkpoint_every": _NON_NEGATIVE,
    "run.name": _NON_EMPTY,
}
_DEVICE = re.compile(r"auto|cpu|mps|cuda(:\d+)?")
_LOCAL = ("/", "./", "../", "~")


def _check_path(key: str, value: str | None) -> None:
    if value and value.startswith(_LOCAL) and not Path(value).expanduser().exists():
        raise FileNotFoundError(f"{key}: no such file or folder: {value}")


def check_dataset_spec(key: str, spec: str) -> None:
    """``bible:<lang>`` / ``cldr:<lang>`` with a known language, or an existing file or folder
    (cheap: nothing is built or read)."""
    from optical.dataset_spec import DatasetSpec

    try:
        parsed = DatasetSpec.parse(spec)
    except ValueError as err:
        raise ValueError(f"{key}: {err}") from err
    if parsed.is_bitext:
        raise ValueError(f"{key}: {spec!r} names results rows (the bitext of {parsed.inner}), "
                         f"not a dataset; use {parsed.inner}")
    if parsed.is_embedded:
        return
    if not parsed.folder.exists():
        raise FileNotFoundError(f"{key}: {spec}: no such dataset folder or file "
                                "(or use bible:<lang> / cldr:<lang>)")


# ----------------------------------------------------------------------------- parsing
class Text(str):
    """Unparsed command-line text (the value of ``key=value``): :func:`coerce` reads it
    as the field's type, where any other value must already have that type."""


_NONE_WORDS = {"none", "null"}
_TRUE_WORDS = {"true", "yes", "on", "1"}
_FALSE_WORDS = {"false", "no", "off", "0"}


def _split_optional(hint: Any) -> tuple[Any, bool]:
    """``int | None`` -> (int, True); ``int`` -> (int, False)."""
    if typing.get_origin(hint) in (typing.Union, types.UnionType):
        args = [a for a in typing.get_args(hint) if a is not type(None)]
        if len(args) == 1 and len(typing.get_args(hint)) == 2:
            return args[0], True
    return hint, False


def _describe(hint: Any) -> str:
    if hint is bool:
        return "true or false"
    if hint is int:
        return "an integer"
    if hint is float:
        return "a number"
    if hint is str:
        return "a string"
    if typing.get_origin(hint) is list:
        return 'a list of strings, e.g. ["bible:de"]'
    return str(hint)


def _bad(key: str, hint: Any, optional: bool, value: Any, text: bool = False) -> ValueError:
    what = _describe(hint) + (" or none" if optional else "")
    got = f"the string {value!r}" if isinstance(value, str) and not text else repr(value)
    return ValueError(f"{key}: expected {what}, got {got}")


def coerce(key: str, value: Any, hint: Any) -> Any:
    """``value`` as the type ``hint`` of setting ``key``, or a ValueError naming both.

    A :class:`Text` value is parsed from its text (see the module docstring); any other
    value must already have the type (ints pass for floats, ``"none"`` clears an optional).
    """
    base, optional = _split_optional(hint)
    if isinstance(value, Text):
        return _from_text(key, str(value), base, optional)
    if value is None or (optional and isinstance(value, str) and value.strip().lower() in _NONE_WORDS):
        if optional:
            return None
        raise ValueError(f"{key}: expected {_describe(base)}, got none (this setting cannot be unset)")
    return _typed(key, value, base, optional)


def _typed(key: str, value: Any, base: Any, optional: bool) -> Any:
    if base is bool:
        if isinstance(value, bool):
            return value
    elif base is int:
        if isinstance(value, int) and not isinstance(value, bool):
            return value
    elif base is float:
        if isinstance(value, (int, float)) and not isinstance(value, bool):
            if not math.isfinite(value):
                raise ValueError(f"{key}: expected a finite number, got {value!r}")
            return float(value)
    elif base is str:
        if isinstance(value, str):
            return str(value)
    elif typing.get_origin(base) is list:
        if isinstance(value, (list, tuple)) and all(isinstance(v, str) for v in value):
            return [str(v) for v in value]
    else:
        raise TypeError(f"{key}: unsupported setting type {base!r}")
    raise _bad(key, base, optional, value)


def _from_text(key: str, text: str, base: Any, optional: bool) -> Any:
    s = text.strip()
    if s.lower() in _NONE_WORDS:
        if optional:
            return None
        raise ValueError(f"{key}: expected {_describe(base)}, got {s!r} (this setting cannot be unset)")
    if base is bool:
        if s.lower() in _TRUE_WORDS:
            return True
        if s.lower() in _FALSE_WORDS:
            return False
    elif base is int:
        try:
            return int(s)
        except ValueError:
            pass
    elif base is float:
        try:
            return _typed(key, float(s), float, optional)
        except ValueError as err:
            if "finite" in str(err):
                raise
    elif base is str:
        if s[:1] in {'"', "'"}:
            return _typed(key, _toml_value(key, s), str, optional)
        return s
    elif typing.get_origin(base) is list:
        if s.startswith("["):
            return _typed(key, _toml_value(key, s), base, optional)
        return [v.strip() for v in s.split(",") if v.strip()]
    raise _bad(key, base, optional, s, text=True)


def _toml_value(key: str, text: str) -> Any:
    try:
        return tomllib.loads(f"v = {text}")["v"]
    except tomllib.TOMLDecodeError as err:
        raise ValueError(f"{key}: {text!r} is not a valid TOML value ({err})") from err


def flatten_settings(data: Mapping[str, Any], prefix: str = "") -> dict[str, Any]:
    """``{"objective": {"eps": 0.1}}`` and ``{"objective.eps": 0.1}`` -> ``{"objective.eps": 0.1}``."""
    out: dict[str, Any] = {}
    for key, value in data.items():
        name = f"{prefix}{key}"
        if isinstance(value, Mapping):
            out.update(flatten_settings(value, name + "."))
        else:
            out[name] = value
    return out


def unknown_setting(key: str, known: Sequence[str] | None = None) -> ValueError:
    """The error for an unknown ``key``, with the closest known names."""
    known = list(SETTINGS if known is None else known)
    section, _, leaf = key.rpartition(".")
    in_section = [k for k in known if section and k.startswith(section + ".")]
    if in_section:  # a known section: compare the key names within it
        leaves = {k.rsplit(".", 1)[-1]: k for k in in_section}
        close = [leaves[x] for x in difflib.get_close_matches(leaf, list(leaves), n=3, cutoff=0.6)]
        if not close:
            return ValueError(f"unknown setting {key!r}; [{section}] has {', '.join(leaves)}")
    else:
        close = difflib.get_close_matches(key, known, n=3, cutoff=0.75)
        close += [k for k in known if k.rsplit(".", 1)[-1] == leaf and k not in close]
    hint = f"; did you mean {' or '.join(close[:3])}?" if close else \
        "; `optical distill --print-config` lists every setting"
    return ValueError(f"unknown setting {key!r}{hint}")


def parse_assignments(items: Sequence[str]) -> dict[str, Text]:
    """``["objective.eps=0.02", ...]`` -> ``{"objective.eps": Text("0.02")}`` (later wins)."""
    out: dict[str, Text] = {}
    for item in items:
        key, eq, value = item.partition("=")
        if not eq or not key.strip():
            raise ValueError(f"override {item!r} is not of the form section.key=value")
        out[key.strip()] = Text(value)
    return out


def build_config(settings: Mapping[str, Any], base: DistillConfig | None = None) -> DistillConfig:
    """``base`` (default: the defaults) with ``settings`` (nested or dotted; typed values or
    :class:`Text`) applied, each parsed against its field's type; then validated."""
    data = (base or DistillConfig()).to_dict()
    for key, value in flatten_settings(settings).items():
        if key not in SETTINGS:
            raise unknown_setting(key)
        section, name = key.split(".", 1)
        data[section][name] = coerce(key, value, SETTINGS[key])
    cfg = DistillConfig(**{s: cls(**data[s]) for s, cls in _SECTION_TYPES.items()})
    cfg.validate()
    return cfg


def apply_overrides(cfg: DistillConfig, overrides: Sequence[str] | Mapping[str, Any]) -> DistillConfig:
    """``cfg`` with overrides applied and re-validated: ``section.key=value`` strings (read
    as command-line text) or a mapping of typed values (sweeps: ``{"objective.eps": 0.02}``)."""
    if isinstance(overrides, Mapping):
        return build_config(overrides, cfg)
    return build_config(parse_assignments(list(overrides)), cfg)


def load_config(path: str | Path | None = None,
                overrides: Sequence[str] | Mapping[str, Any] | None = None) -> DistillConfig:
    """Defaults, then the TOML file (if any), then overrides; validated before returning."""
    data: dict[str, Any] = {}
    if path is not None:
        p = Path(path)
        if not p.is_file():
            raise FileNotFoundError(f"config file not found: {p}")
        try:
            data = tomllib.loads(p.read_text(encoding="utf-8"))
        except (tomllib.TOMLDecodeError, UnicodeDecodeError) as err:
            raise ValueError(f"{p}: not valid TOML ({err})") from err
    settings = flatten_settings(data)
    for key, value in settings.items():  # errors in the file name the file
        if key not in SETTINGS:
            raise ValueError(f"{path}: {unknown_setting(key)}")
        try:
            coerce(key, value, SETTINGS[key])
        except ValueError as err:
            raise ValueError(f"{path}: {err}") from err
    if isinstance(overrides, Mapping):
        settings.update(overrides)
    else:
        settings.update(parse_assignments(list(overrides or [])))
    return build_config(settings)


def replace(cfg: DistillConfig, **sections: dict[str, Any]) -> DistillConfig:
    """A copy with some section fields changed: ``replace(cfg, optim={"lr": 1e-5})``."""
    return build_config({name: dict(changes) for name, changes in sections.items()}, cfg)
