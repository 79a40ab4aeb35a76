"""Where a run is in its data, learning-rate schedule and random streams (all resumable)."""
from __future__ import annotations

import math
from collections.abc import Iterator

from torch.utils.data import DistributedSampler, Sampler

# Independent random streams: (seed, stream, rank) → a generator seed.
STREAM_PRESENCE, STREAM_DIFFUSION, STREAM_LOADER, STREAM_META, STREAM_ACTIVITY, STREAM_UNLABELLED = 1, 2, 3, 4, 5, 6


def stream_seed(seed: int, stream: int, rank: int = 0) -> int:
    return (seed + 1_000_003 * stream + 7_919 * rank) % (2**63 - 1)


class SkipSampler(Sampler[int]):
    """A DistributedSampler that can start mid-epoch (resume): skips the first ``skip`` indices."""

    def __init__(self, base: DistributedSampler):
        self.base = base
        self.skip = 0

    def set_position(self, epoch: int, skip: int) -> None:
        self.base.set_epoch(epoch)
        self.skip = skip

    def __iter__(self) -> Iterator[int]:
        indices = list(self.base)
        return iter(indices[self.skip :])

    def __len__(self) -> int:
        return len(self.base) - self.skip


def lr_factor(schedule: str, step: int, total: int, power: float, warmup: int = 0) -> float:
    """Multiplier of the base learning rate at ``step`` of ``total``: a linear warm-up over the first
    ``warmup`` steps (from 1/warmup to 1), then ``schedule`` over the remaining steps."""
    if step < warmup:
        return (step + 1) / warmup
    progress = min((step - warmup) / max(total - warmup, 1), 1.0)
    if schedule == "poly":
        return (1.0 - progress) ** power
    if schedule == "cosine":
        return 0.5 * (1.0 + math.cos(math.pi * progress))
    return 1.0
