"""PyTorch access to a packed split: the batch format every trainer and evaluator consumes.

::

    batch = {
      "inputs": {modality: {field: Tensor (B, *field_shape)}},  # every modality, zero-filled where absent
      "present": BoolTensor (B, M),       # M in split.modalities order
      "pose": FloatTensor (B, 17, 3),     # metres; only when split.has_pose
      "activity": LongTensor (B,),
      "index": LongTensor (B,),           # sample index within the split given to PackedDataset
    }

Reading is batched: the DataLoader hands a whole index list to :meth:`PackedDataset.__getitems__`,
which reads each array with one fancy-indexed memmap read instead of B per-item copies.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np
import torch
from torch.utils.data import DataLoader, Dataset

from pta_core.data.packed import PackedSplit
from pta_core.training.seeding import worker_init_fn


class PackedDataset(Dataset):
    """Map-style dataset over rows of a :class:`PackedSplit` (all rows, or ``indices``).

    ``dataset[i]`` is one unbatched sample (numpy); ``dataset.__getitems__(list)`` a gathered batch.
    Use :func:`collate` (or :func:`make_loader`) as the DataLoader's ``collate_fn``.
    """

    def __init__(self, split: PackedSplit, indices: Sequence[int] | np.ndarray | None = None):
        self.split = split
        self.indices = (
            np.arange(len(split), dtype=np.int64) if indices is None else np.asarray(indices, dtype=np.int64)
        )
        if self.indices.ndim != 1 or (
            self.indices.size and (self.indices.min() < 0 or self.indices.max() >= len(split))
        ):
            raise IndexError(f"indices must be a 1-D array within 0..{len(split) - 1}")

    def __len__(self) -> int:
        return len(self.indices)

    def __getitem__(self, item: int) -> dict[str, Any]:
        batch = self.split.gather(self.indices[[item]])
        return _unbatch(batch)

    def __getitems__(self, items: Sequence[int]) -> dict[str, Any]:
        return self.split.gather(self.indices[np.asarray(items, dtype=np.int64)])


def _unbatch(batch: Mapping[str, Any]) -> dict[str, Any]:
    return {k: _unbatch(v) if isinstance(v, Mapping) else v[0] for k, v in batch.items()}


def _stack(items: Sequence[Mapping[str, Any]]) -> dict[str, Any]:
    first = items[0]
    return {
        k: _stack([item[k] for item in items])
        if isinstance(first[k], Mapping)
        else np.stack([item[k] for item in items])
        for k in first
    }


def _to_tensors(batch: Mapping[str, Any]) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for key, value in batch.items():
        if isinstance(value, Mapping):
            out[key] = _to_tensors(value)
        else:
            array = np.asarray(value)
            if not array.flags.writeable:  # memmap rows: copy rather than share a read-only buffer
                array = array.copy()
            out[key] = torch.from_numpy(array)
    return out


def collate(batch: Mapping[str, Any] | Sequence[Mapping[str, Any]]) -> dict[str, Any]:
    """A gathered batch (from ``__getitems__``) or a list of samples (from ``__getitem__``) → tensors.

    dtypes: inputs float32 (masks bool), ``present`` bool, ``pose`` float32 metres, ``activity`` and
    ``index`` int64.
    """
    if isinstance(batch, Mapping):
        return _to_tensors(batch)
    if not batch:
        raise ValueError("cannot collate an empty batch")
    return _to_tensors(_stack(batch))


def make_loader(
    dataset: PackedDataset,
    batch_size: int,
    *,
    shuffle: bool,
    drop_last: bool = False,
    generator: torch.Generator | None = None,
    num_workers: int = 0,
) -> DataLoader:
    """A DataLoader wired for batched memmap reads (``collate``; seeded workers)."""
    return DataLoader(
        dataset,
        batch_size=batch_size,
        shuffle=shuffle,
        drop_last=drop_last,
        generator=generator,
        collate_fn=collate,
        num_workers=num_workers,
        worker_init_fn=worker_init_fn if num_workers else None,
        persistent_workers=num_workers > 0,
    )
