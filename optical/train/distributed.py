"""Scale-out through torch.distributed: the same entry point runs alone or under
``torchrun --nproc_per_node=N`` (NCCL on GPU, gloo on CPU)."""

from __future__ import annotations

import os
from dataclasses import dataclass

import torch
import torch.distributed as dist

__all__ = ["DistInfo", "init_distributed", "resolve_device", "all_reduce_mean", "barrier", "cleanup"]


@dataclass(frozen=True)
class DistInfo:
    rank: int = 0
    world_size: int = 1
    local_rank: int = 0

    @property
    def enabled(self) -> bool:
        return self.world_size > 1

    @property
    def is_main(self) -> bool:
        return self.rank == 0


def resolve_device(spec: str, info: DistInfo) -> torch.device:
    """``auto``: this process's GPU when CUDA is available, else CPU; checked by
    :func:`optical.encoders.resolve_device` (one clear error for a device this machine lacks)."""
    from optical.encoders import resolve_device as check_device

    try:
        device = check_device(spec)
        if device.type == "cuda" and device.index is None and info.enabled:
            device = check_device(f"cuda:{info.local_rank}")  # this process's GPU
    except ValueError as err:
        raise ValueError(f"run.{err}") from None
    if device.type == "cuda":
        torch.cuda.set_device(device)
    return device


def init_distributed() -> DistInfo:
    """Join the process group when launched by torchrun (``WORLD_SIZE`` > 1)."""
    world = int(os.environ.get("WORLD_SIZE", "1"))
    if world <= 1:
        return DistInfo()
    info = DistInfo(int(os.environ["RANK"]), world, int(os.environ.get("LOCAL_RANK", "0")))
    if not dist.is_initialized():
        backend = "nccl" if torch.cuda.is_available() else "gloo"
        dist.init_process_group(backend=backend)
    return info


def all_reduce_mean(value: torch.Tensor, info: DistInfo) -> torch.Tensor:
    if not info.enabled:
        return value
    out = value.detach().clone()
    dist.all_reduce(out, op=dist.ReduceOp.SUM)
    return out / info.world_size


def barrier(info: DistInfo) -> None:
    if info.enabled:
        dist.barrier()


def cleanup(info: DistInfo) -> None:
    if info.enabled and dist.is_initialized():
        dist.destroy_process_group()
