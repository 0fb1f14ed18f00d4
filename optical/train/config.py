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
command line. One parser (:func:`optical.train.config_values.coerce`) takes each value
against the field's type: typed values (TOML files, sweep specs, Python) must already have
it, command-line text is read as it (the rules are in :mod:`optical.train.config_values`).

Choices and ranges are checked when the config is built (:meth:`DistillConfig.validate`),
before any model loads; an unknown key is refused with the closest known ones.

Defaults follow the recipe of ``configs/optical_sw.toml``: in particular
``objective.geometry`` defaults to ``"whiten"`` (:data:`DEFAULT_GEOMETRY`: centre, then
whiten with the teacher's token covariance, the best setting on the dev split); ``"center"``
(centring only, the feasibility recipe) and ``"raw"`` (plain cosines, which collapse) are
chosen explicitly. Sweeps whose committed numbers were made with the earlier default
pin ``"objective.geometry" = "center"`` in their spec.

Settings that were removed (:data:`RETIRED_SETTINGS`) are handled in one place,
:func:`migrate_settings`, applied to every input of :func:`build_config` (config files,
overrides, a run folder's stored ``config.json`` read back with
:meth:`DistillConfig.from_dict`): the value older code wrote by default is dropped without a
word, any other value is refused with an error naming the key.
"""

from __future__ import annotations

import json
import re
import typing
from collections.abc import Mapping, Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from optical.train.config_values import (
    AT_LEAST_1,
    FRACTION,
    NON_EMPTY,
    NON_NEGATIVE,
    POSITIVE,
    SEED,
    Rule,
    Text,
    check_choices_and_ranges,
    coerce,
    flatten_settings,
    parse_assignments,
    read_toml,
    rule,
    unknown_setting,
)

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
    "DEFAULT_GEOMETRY",
    "RETIRED_SETTINGS",
    "check_dataset_spec",
    "migrate_settings",
    "load_config",
    "apply_overrides",
]

OBJECTIVES = ("optical", "mse", "infonce", "cross_entropy")
GEOMETRIES = ("center", "whiten", "raw")  # = optical.losses.GEOMETRY_KINDS (no torch import here)
DEFAULT_GEOMETRY = "whiten"  # the recipe's (configs/optical_sw.toml); also the app's default
MARGINALS = ("uniform", "norm")
SCHEDULES = ("linear", "cosine", "constant")
STUDENT_SIDES = ("query", "document")
PROJECTIONS = ("auto", "always", "never")
LABEL_KINDS = ("translation", "xref")  # data.labels


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
    # objective cross_entropy on bible:<lang>: which labelled pairs stand in for query-passage labels:
    # "translation" (a foreign OT verse and its English verse) or "xref" (a foreign OT verse and an
    # English OT verse it is cross-referenced with: relevance, not translation; bible-xref's pairs)
    labels: str = "translation"


@dataclass
class ObjectiveConfig:
    name: str = "optical"
    # OPTICAL
    eps: float = 0.05
    max_iter: int = 100
    reg_m: float | None = None  # None = balanced OT; a float = KL-relaxed (unbalanced)
    geometry: str = DEFAULT_GEOMETRY  # "whiten" (the recipe) | "center" (centring only) | "raw" (collapses)
    marginals: str = "uniform"  # "uniform" | "norm"
    detach_plan: bool = True
    # extra terms, added with weights
    mse_weight: float = 0.0  # pooled MSE added to the main objective
    anchor_weight: float = 0.0  # English->English term (student on the English side vs teacher): anti-forgetting
    l2sp_weight: float = 0.0  # ||theta - theta_0||^2 toward the initial weights: anti-forgetting
    # contrastive / cross-entropy
    temperature: float = 0.05


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
        """A validated config from (nested or dotted) typed settings over the defaults, e.g.
        a run folder's stored ``config.json`` (retired settings migrated: :func:`migrate_settings`)."""
        return build_config(data)

    def validate(self) -> None:
        """Check choices, ranges and local paths; raise ValueError naming the setting."""
        check_choices_and_ranges(flatten_settings(self.to_dict()), _CHOICES, _RANGES)
        if not _DEVICE.fullmatch(self.run.device):
            raise ValueError(f"run.device must be auto, cpu, cuda, cuda:<index> or mps, got {self.run.device!r}")
        if self.optim.batch_size % self.optim.grad_accum:
            raise ValueError(f"optim.batch_size ({self.optim.batch_size}) must be a multiple of "
                             f"optim.grad_accum ({self.optim.grad_accum})")
        if self.data.extra_fraction > 0 and not self.data.extra_train:
            raise ValueError("data.extra_fraction > 0 needs data.extra_train (the bitext to mix in)")
        if self.data.labels != "translation":
            from optical.dataset_spec import DatasetSpec

            if self.objective.name != "cross_entropy":
                raise ValueError(f"data.labels = {self.data.labels!r} applies to objective cross_entropy only "
                                 f"(this run's objective is {self.objective.name})")
            if DatasetSpec.parse(self.data.train, check=False).family != "bible":
                raise ValueError(f"data.labels = {self.data.labels!r} needs data.train = bible:<lang> "
                                 f"(got {self.data.train!r}); a BEIR folder's labels are its qrels/train.tsv")
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
    "data.labels": LABEL_KINDS,
}


# None (an unset optional setting) is always allowed; these check the values given
_RANGES: dict[str, Rule] = {
    "model.teacher": NON_EMPTY,
    "model.student": NON_EMPTY,
    "model.freeze_layers": NON_NEGATIVE,
    "model.truncate_layers": AT_LEAST_1,
    "model.max_length": rule(lambda v: v >= 2, ">= 2"),
    "model.dropout": FRACTION,
    "data.train": NON_EMPTY,
    "data.extra_fraction": FRACTION,
    "data.max_pairs": AT_LEAST_1,
    "data.dev": NON_EMPTY,
    "data.dev_queries": AT_LEAST_1,
    "data.subset_seed": SEED,
    "objective.eps": POSITIVE,
    "objective.max_iter": AT_LEAST_1,
    "objective.reg_m": POSITIVE,
    "objective.mse_weight": NON_NEGATIVE,
    "objective.anchor_weight": NON_NEGATIVE,
    "objective.l2sp_weight": NON_NEGATIVE,
    "objective.temperature": POSITIVE,
    "optim.lr": POSITIVE,
    "optim.weight_decay": NON_NEGATIVE,
    "optim.batch_size": AT_LEAST_1,
    "optim.grad_accum": AT_LEAST_1,
    "optim.epochs": POSITIVE,
    "optim.max_steps": AT_LEAST_1,
    "optim.warmup_ratio": FRACTION,
    "optim.clip_norm": NON_NEGATIVE,
    "run.out_dir": NON_EMPTY,
    "run.seed": SEED,
    "run.eval_every": NON_NEGATIVE,
    "run.checkpoint_every": NON_NEGATIVE,
    "run.name": NON_EMPTY,
}
_DEVICE = re.compile(r"auto|cpu|mps|cuda(:\d+)?")


@dataclass(frozen=True)
class RetiredSetting:
    """A setting that no longer exists: its type and the value older code wrote by default."""

    hint: Any
    default: Any
    why: str


#: settings removed from the config, still found in what older code wrote (a run folder's
#: ``config.json``, a checkpoint, a result row's config, an old config file or command line)
RETIRED_SETTINGS: dict[str, RetiredSetting] = {
    "objective.hard_negatives": RetiredSetting(
        int, 0, "it was never read (no hard-negative mining is implemented), so it had no effect"
    ),
}


def migrate_settings(settings: Mapping[str, Any]) -> dict[str, Any]:
    """Flat ``section.key`` settings with the retired ones removed (:data:`RETIRED_SETTINGS`).

    A retired key with the value older code wrote by default is dropped; any other value is
    refused with a ValueError naming the key, since setting it never had the effect it
    promised (a run's results do not depend on it).
    """
    out: dict[str, Any] = {}
    for key, value in settings.items():
        retired = RETIRED_SETTINGS.get(key)
        if retired is None:
            out[key] = value
            continue
        try:
            same = coerce(key, value, retired.hint) == retired.default
        except ValueError:
            same = False
        if not same:
            shown = str(value).strip() if isinstance(value, Text) else repr(value)
            raise ValueError(
                f"{key} = {shown}: this setting was removed; {retired.why}. Remove it from the "
                f"config (its old default, {retired.default!r}, is still accepted and ignored)"
            )
    return out
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
                                "(or use bible:<lang> / bible-xref:<lang> / cldr:<lang>)")


def build_config(settings: Mapping[str, Any], base: DistillConfig | None = None) -> DistillConfig:
    """``base`` (default: the defaults) with ``settings`` (nested or dotted; typed values or
    :class:`Text`) applied, each parsed against its field's type; then validated."""
    data = (base or DistillConfig()).to_dict()
    for key, value in migrate_settings(flatten_settings(settings)).items():
        if key not in SETTINGS:
            raise unknown_setting(key, SETTINGS)
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
    data = read_toml(path) if path is not None else {}
    try:
        settings = migrate_settings(flatten_settings(data))
    except ValueError as err:
        raise ValueError(f"{path}: {err}") from err
    for key, value in settings.items():  # errors in the file name the file
        if key not in SETTINGS:
            raise ValueError(f"{path}: {unknown_setting(key, SETTINGS)}")
        try:
            coerce(key, value, SETTINGS[key])
        except ValueError as err:
            raise ValueError(f"{path}: {err}") from err
    if isinstance(overrides, Mapping):
        settings.update(overrides)
    else:
        settings.update(parse_assignments(list(overrides or [])))
    return build_config(settings)

