"""Where computation runs: the device, and multi-process training (torchrun): process group set-up,
rank queries, reductions.

``torchrun --nproc-per-node N -m pta_core.cli train ...`` sets RANK / WORLD_SIZE / LOCAL_RANK; a
plain ``pta train`` runs as a world of one without a process group. Backend: NCCL on CUDA, gloo on CPU.
"""
from __future__ import annotations

import logging
import os
from dataclasses import dataclass

import torch
import torch.distributed as dist

log = logging.getLogger(__name__)


def resolve_device(device: str) -> torch.device:
    """``auto`` → CUDA when available, else CPU; anything else as torch spells it."""
    if device == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    resolved = torch.device(device)
    if resolved.type == "cuda" and not torch.cuda.is_available():
        raise ValueError(f"device {device!r} requested but CUDA is not available")
    return resolved


@dataclass(frozen=True)
class World:
    rank: int = 0
    size: int = 1
    local_rank: int = 0

    @property
    def is_main(self) -> bool:
        return self.rank == 0

    @property
    def distributed(self) -> bool:
        return self.size > 1


def world_from_env() -> World:
    """The world torchrun describes in the environment (a world of one without it)."""
    size = int(os.environ.get("WORLD_SIZE", "1"))
    return World(rank=int(os.environ.get("RANK", "0")), size=size, local_rank=int(os.environ.get("LOCAL_RANK", "0")))


def init_distributed(device: torch.device) -> World:
    """Join the process group torchrun set up (no-op for a world of one). Returns this process's place."""
    world = world_from_env()
    if not world.distributed or dist.is_initialized():
        return world
    backend = "nccl" if device.type == "cuda" else "gloo"
    if device.type == "cuda":
        torch.cuda.set_device(world.local_rank)
    dist.init_process_group(backend=backend)
    log.info("joined process group: rank %d of %d (%s)", world.rank, world.size, backend)
    return world


def cleanup() -> None:
    if dist.is_initialized():
        dist.destroy_process_group()


def barrier() -> None:
    if dist.is_initialized():
        dist.barrier()


def all_reduce_sum(tensor: torch.Tensor) -> torch.Tensor:
    """In-place sum over ranks (identity for a world of one)."""
    if dist.is_initialized() and dist.get_world_size() > 1:
        dist.all_reduce(tensor, op=dist.ReduceOp.SUM)
    return tensor


def all_reduce_mean(tensor: torch.Tensor) -> torch.Tensor:
    """In-place mean over ranks (identity for a world of one)."""
    if dist.is_initialized() and dist.get_world_size() > 1:
        dist.all_reduce(tensor, op=dist.ReduceOp.SUM)
        tensor /= dist.get_world_size()
    return tensor


def broadcast_object(value: object, src: int = 0) -> object:
    """``value`` from rank ``src`` on every rank."""
    if not (dist.is_initialized() and dist.get_world_size() > 1):
        return value
    holder = [value]
    dist.broadcast_object_list(holder, src=src)
    return holder[0]


def gather_means(sums: dict[str, tuple[float, float]]) -> dict[str, float]:
    """Merge per-rank (sum, count) pairs by key (keys may differ between ranks) → mean per key."""
    parts = [sums]
    if dist.is_initialized() and dist.get_world_size() > 1:
        parts = [None] * dist.get_world_size()
        dist.all_gather_object(parts, sums)
    total: dict[str, list[float]] = {}
    for part in parts:
        for key, (value, count) in part.items():
            entry = total.setdefault(key, [0.0, 0.0])
            entry[0] += value
            entry[1] += count
    return {key: value / count for key, (value, count) in total.items() if count}
