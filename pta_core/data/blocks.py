"""Rows of a packed split, built block by block: read, preprocess, place into row buffers.

A block is a range of sample indices ``[start, stop)``. :func:`iter_blocks` yields finished blocks
in order, built in this process or by ``workers`` forked processes (at most ``workers + 1`` blocks
in flight, so memory stays bounded by the block size whatever the dataset size). Preprocessing is
each modality's own ``preprocess``; a modality it rejects (``InvalidInput``) is absent there.
"""

from __future__ import annotations

import multiprocessing
import os
from collections import deque
from collections.abc import Iterator, Sequence
from concurrent.futures import Future, ProcessPoolExecutor
from pathlib import Path
from typing import Any

import numpy as np
import torch

from pta_core.config import DataConfig
from pta_core.data.packed import input_file, meta_file
from pta_core.data.records import MISSING, ReadStats, Record
from pta_core.data.sources import SplitSource
from pta_core.errors import DataFormatError, InvalidInput
from pta_core.modalities import get_modality

Specs = dict[str, tuple[str, tuple[int, ...], np.dtype]]  # array name → (file, shape, dtype)
Block = tuple[int, int]


def array_specs(source: SplitSource, cfg: DataConfig) -> Specs:
    """name → (file, shape, dtype) of every array of the packed split."""
    n = source.num_samples
    specs: Specs = {}
    for m in source.modalities:
        for f, spec in get_modality(m).input_fields(cfg.preprocess).items():
            specs[f"input.{m}.{f}"] = (input_file(m, f), (n, *spec.shape), np.dtype(spec.dtype))
    specs["present"] = ("present.npy", (n, len(source.modalities)), np.dtype(bool))
    if source.has_pose:
        specs["pose"] = ("pose.npy", (n, len(source.joint_set), 3), np.dtype(np.float32))
    specs["activity"] = ("activity.npy", (n,), np.dtype(np.int64))
    for name in source.meta_names:
        specs[f"meta.{name}"] = (meta_file(name), (n,), np.dtype(np.int32))
    return specs


def row_bytes(specs: Specs) -> int:
    return sum(int(np.prod(shape[1:], dtype=np.int64)) * dtype.itemsize for _, shape, dtype in specs.values())


def plan_blocks(start: int, stop: int, rows: int) -> list[Block]:
    return [(s, min(s + rows, stop)) for s in range(start, stop, rows)]


def build_block(
    source: SplitSource, cfg: DataConfig, specs: Specs, block: Block
) -> tuple[dict[str, np.ndarray], ReadStats]:
    """Rows ``block`` of every array, and the counts (absence reasons, ``present.<m>``) they add.

    The returned arrays are reused by the next call in this process: consume them before that.

    Raises:
        DataFormatError: a corrupt file (not lenient), or fewer/more samples than scanned.
    """
    start, stop = block
    buffers = _row_buffers(specs, stop - start)
    stats = ReadStats()
    records = source.records(start)
    for i in range(stop - start):
        record = next(records, None)
        if record is None:
            raise DataFormatError(
                source.root, f"the source changed while packing (ended at sample {start + i})"
            )
        _fill_row(record, i, buffers, source, cfg, stats)
    if stop == source.num_samples and next(records, None) is not None:
        raise DataFormatError(source.root, "the source changed while packing (more samples than scanned)")
    return buffers, stats


_BUFFERS: dict[str, np.ndarray] = {}


def _row_buffers(specs: Specs, rows: int) -> dict[str, np.ndarray]:
    """Zeroed row buffers, reused from block to block: allocating fresh ones per block lets the
    allocator's heap creep (measured by bench/bench_pack_memory.py)."""
    out = {}
    for name, (_, shape, dtype) in specs.items():
        cached = _BUFFERS.get(name)
        if cached is None or cached.shape[1:] != shape[1:] or cached.dtype != dtype or len(cached) < rows:
            cached = _BUFFERS[name] = np.zeros((rows, *shape[1:]), dtype)
        view = cached[:rows]
        view.fill(0)
        out[name] = view
    for name in set(_BUFFERS) - set(specs):
        del _BUFFERS[name]
    return out


def release_buffers() -> None:
    """Free the reused row buffers (after a pack, so a training process does not keep them)."""
    _BUFFERS.clear()


def _fill_row(
    record: Record,
    i: int,
    buffers: dict[str, np.ndarray],
    source: SplitSource,
    cfg: DataConfig,
    stats: ReadStats,
) -> None:
    for column, m in enumerate(source.modalities):
        modality = get_modality(m)
        sample = None
        if record.raw[m] is None:
            stats.count_absent(m, record.absent.get(m, MISSING))
        else:
            try:
                sample = modality.preprocess(record.raw[m], cfg.preprocess)
            except InvalidInput as err:
                stats.count_absent(m, f"invalid_{err.reason}")
        if sample is None:
            continue  # the row stays zero and present False
        for f, spec in modality.input_fields(cfg.preprocess).items():
            value = np.asarray(sample[f])
            if value.shape != spec.shape:  # a modality bug, not a data problem: fail loudly
                raise RuntimeError(
                    f"{m}.preprocess returned {f} of shape {value.shape}; input_fields say {spec.shape}"
                )
            buffers[f"input.{m}.{f}"][i] = value
        buffers["present"][i, column] = True
        stats.count("present." + m)
    if source.has_pose:
        buffers["pose"][i] = record.pose
    buffers["activity"][i] = record.activity
    for name, value in zip(source.meta_names, record.meta):
        buffers[f"meta.{name}"][i] = value


# Set in the parent before forking the workers; they inherit it (the source holds closures).
_WORKER_JOB: tuple[SplitSource, DataConfig, Specs] | None = None


def _worker_init() -> None:
    torch.set_num_threads(1)  # one process per core; also avoids OpenMP pools inherited through fork


def _worker_block(block: Block) -> tuple[dict[str, np.ndarray], ReadStats]:
    assert _WORKER_JOB is not None
    return build_block(*_WORKER_JOB, block)


def iter_blocks(
    source: SplitSource, cfg: DataConfig, specs: Specs, blocks: Sequence[Block], workers: int = 1
) -> Iterator[tuple[Block, dict[str, np.ndarray], ReadStats]]:
    """Build ``blocks`` in order: here when ``workers`` ≤ 1, else in that many forked processes."""
    if workers <= 1 or len(blocks) <= 1:
        for block in blocks:
            yield (block, *build_block(source, cfg, specs, block))
        return
    global _WORKER_JOB
    _WORKER_JOB = (source, cfg, specs)
    context = multiprocessing.get_context("fork")
    pending: deque[tuple[Block, Future]] = deque()
    with ProcessPoolExecutor(workers, mp_context=context, initializer=_worker_init) as pool:
        try:
            for block in blocks:
                pending.append((block, pool.submit(_worker_block, block)))
                if len(pending) > workers:
                    done, future = pending.popleft()
                    yield (done, *future.result())
            while pending:
                done, future = pending.popleft()
                yield (done, *future.result())
        finally:
            for _, future in pending:
                future.cancel()
            _WORKER_JOB = None


class RowFile:
    """A preallocated ``.npy`` file written row-range by row-range with ``pwrite`` (no mapping kept,
    so written pages stay in the page cache, not in this process's memory)."""

    def __init__(self, path: Path, shape: tuple[int, ...], dtype: np.dtype, *, create: bool):
        if create:
            array = np.lib.format.open_memmap(path, mode="w+", dtype=dtype, shape=shape)
        else:
            array = np.load(path, mmap_mode="r", allow_pickle=False)  # maps, touches no page
            if array.shape != tuple(shape) or array.dtype != dtype:
                raise DataFormatError(
                    path, f"partial array is {array.shape} {array.dtype}, expected {shape} {dtype}"
                )
        self.offset = array.offset
        del array
        self.row_bytes = int(np.prod(shape[1:], dtype=np.int64)) * dtype.itemsize
        self.dtype = dtype
        self.fd = os.open(path, os.O_RDWR)

    def write(self, start: int, rows: np.ndarray) -> None:
        data = np.ascontiguousarray(rows, dtype=self.dtype).tobytes()
        written = os.pwrite(self.fd, data, self.offset + start * self.row_bytes)
        if written != len(data):
            raise OSError(f"short write ({written} of {len(data)} bytes)")

    def sync(self) -> None:
        os.fsync(self.fd)

    def close(self) -> None:
        os.fsync(self.fd)
        os.close(self.fd)


def write_block(files: dict[str, RowFile], start: int, buffers: dict[str, Any]) -> None:
    """Write a block's rows, then fsync, so the rows are on disk before a journal says they exist."""
    for name, handle in files.items():
        handle.write(start, buffers[name])
    for handle in files.values():
        handle.sync()
