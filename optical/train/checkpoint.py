"""Checkpoints that resume exactly and never unpickle anything.

A checkpoint is a folder ``<run>/checkpoint/`` with

- ``weights.safetensors``: the student's trainable parameters (+ projection);
- ``optimizer.safetensors``: every optimizer state tensor, keyed by parameter name;
- ``rng.safetensors``: the torch CPU (and CUDA) generator states;
- ``state.json``: step, epoch, best dev score, optimizer hyper-parameters, numpy and
  Python RNG states, the full config.

It is written into a temporary folder and swapped in whole (:func:`atomic_dir`), so
a crash or a full disk while saving leaves the previous checkpoint intact.
"""

from __future__ import annotations

import json
import random
from pathlib import Path
from typing import Any

import numpy as np
import torch
from torch import nn

from optical.paths import atomic_dir

__all__ = ["save_checkpoint", "load_checkpoint", "find_checkpoint", "capture_rng", "restore_rng"]

CHECKPOINT = "checkpoint"


def capture_rng() -> tuple[dict[str, torch.Tensor], dict[str, Any]]:
    tensors = {"torch_cpu": torch.get_rng_state()}
    if torch.cuda.is_available():
        for i, state in enumerate(torch.cuda.get_rng_state_all()):
            tensors[f"torch_cuda_{i}"] = state
    np_state = np.random.get_state(legacy=False)
    py_state = random.getstate()
    return tensors, {"numpy": np_state, "python": [py_state[0], list(py_state[1]), py_state[2]]}


def restore_rng(tensors: dict[str, torch.Tensor], states: dict[str, Any]) -> None:
    torch.set_rng_state(tensors["torch_cpu"])
    cuda = [tensors[k] for k in sorted(tensors) if k.startswith("torch_cuda_")]
    if cuda and torch.cuda.is_available():
        torch.cuda.set_rng_state_all(cuda)
    np.random.set_state(states["numpy"])
    version, internal, gauss = states["python"]
    random.setstate((version, tuple(internal), gauss))


def _trainable_state(model: nn.Module) -> dict[str, torch.Tensor]:
    return {n: p.detach().cpu().contiguous() for n, p in model.named_parameters() if p.requires_grad}


def _optimizer_state(optimizer: torch.optim.Optimizer, names: dict[int, str]) -> tuple[dict, dict]:
    tensors: dict[str, torch.Tensor] = {}
    scalars: dict[str, dict[str, Any]] = {}
    for param, state in optimizer.state.items():
        name = names[id(param)]
        for key, value in state.items():
            if torch.is_tensor(value):
                tensors[f"{name}::{key}"] = value.detach().cpu().contiguous()
            else:
                scalars.setdefault(name, {})[key] = value
    groups = [{k: v for k, v in g.items() if k != "params"} for g in optimizer.param_groups]
    return tensors, {"groups": groups, "scalars": scalars}


def save_checkpoint(
    run_dir: str | Path,
    model: nn.Module,
    optimizer: torch.optim.Optimizer,
    state: dict[str, Any],
) -> Path:
    """Atomically write a checkpoint of ``model`` (trainable parameters) and ``optimizer``."""
    from safetensors.torch import save_file

    names = {id(p): n for n, p in model.named_parameters()}
    opt_tensors, opt_meta = _optimizer_state(optimizer, names)
    rng_tensors, rng_states = capture_rng()
    target = Path(run_dir) / CHECKPOINT
    with atomic_dir(target) as tmp:
        save_file(_trainable_state(model), str(tmp / "weights.safetensors"))
        save_file(opt_tensors, str(tmp / "optimizer.safetensors"))
        save_file(rng_tensors, str(tmp / "rng.safetensors"))
        payload = dict(state) | {"optimizer": opt_meta, "rng": rng_states}
        (tmp / "state.json").write_text(json.dumps(payload, indent=1, default=_json_default))
        (tmp / "COMPLETE").write_text("ok\n")
    return target


def _json_default(obj: Any) -> Any:
    if isinstance(obj, np.ndarray):
        return obj.tolist()
    if isinstance(obj, (np.integer, np.floating)):
        return obj.item()
    if isinstance(obj, tuple):
        return list(obj)
    raise TypeError(f"cannot store {type(obj).__name__} in state.json")


def find_checkpoint(run_dir: str | Path) -> Path | None:
    """The last complete checkpoint, including one left beside a swap interrupted by a crash."""
    run_dir = Path(run_dir)
    main = run_dir / CHECKPOINT
    if (main / "COMPLETE").is_file():
        return main
    leftovers = sorted(run_dir.glob(f".{CHECKPOINT}.old.*"), key=lambda p: p.stat().st_mtime, reverse=True)
    return next((p for p in leftovers if (p / "COMPLETE").is_file()), None)


def load_checkpoint(path: str | Path, model: nn.Module, optimizer: torch.optim.Optimizer) -> dict[str, Any]:
    """Restore model parameters, optimizer state and RNG from ``path``; return ``state.json``."""
    from safetensors.torch import load_file

    path = Path(path)
    state = json.loads((path / "state.json").read_text())
    weights = load_file(str(path / "weights.safetensors"))
    params = dict(model.named_parameters())
    missing = [n for n, p in params.items() if p.requires_grad and n not in weights]
    if missing:
        raise ValueError(f"checkpoint {path} does not match this model (missing {missing[:3]}...)")
    with torch.no_grad():
        for name, value in weights.items():
            if name not in params:
                raise ValueError(f"checkpoint {path} has a parameter {name!r} this model lacks")
            params[name].copy_(value.to(params[name].device))
    opt_tensors = load_file(str(path / "optimizer.safetensors"))
    meta = state["optimizer"]
    for group, saved in zip(optimizer.param_groups, meta["groups"], strict=True):
        group.update(saved)
    optimizer.state.clear()
    by_name = {n: p for n, p in model.named_parameters()}
    for key, value in opt_tensors.items():
        name, _, field = key.partition("::")
        p = by_name[name]
        optimizer.state[p][field] = value.to(p.device)
    for name, scalars in meta["scalars"].items():
        optimizer.state[by_name[name]].update(scalars)
    restore_rng(load_file(str(path / "rng.safetensors")), state["rng"])
    return state
