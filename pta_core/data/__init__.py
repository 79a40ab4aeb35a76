"""Data layer: MM-Fi and XRF55 readers, official splits, packed memory-mapped caches, PyTorch batches.

Typical use::

    split = open_split(cfg.data, "train")          # packs once, then reopens
    loader = make_loader(PackedDataset(split), 16, shuffle=True)
"""

from pta_core.data.cache import cache_path, open_split
from pta_core.data.dataset import PackedDataset, collate, make_loader
from pta_core.data.mmfi import (
    MMFI_ACTIONS,
    MMFiFrame,
    MMFiSequence,
    iter_frames,
    iter_sequences,
    read_sequence,
)
from pta_core.data.packed import PackedSplit
from pta_core.data.splits import mmfi_split
from pta_core.data.xrf55 import XRF55_CLASSES

__all__ = [
    "MMFI_ACTIONS",
    "XRF55_CLASSES",
    "MMFiFrame",
    "MMFiSequence",
    "PackedDataset",
    "PackedSplit",
    "cache_path",
    "collate",
    "iter_frames",
    "iter_sequences",
    "make_loader",
    "mmfi_split",
    "open_split",
    "read_sequence",
]
