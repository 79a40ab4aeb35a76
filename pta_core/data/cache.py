"""Pack a dataset split into memory-mapped arrays once; reopen it while the source is unchanged.

``open_split(cfg, side)`` is the entry point. The cache folder is
``<cfg.cache_dir>/<dataset>-<side>-<key>``, ``key`` a hash of everything that shapes the arrays
(root, split, modalities, preprocessing, format version), so configs never share a folder. The
manifest also records a fingerprint of the source files; a changed fingerprint means stale → rebuilt.

Packing streams samples through each modality's ``preprocess`` (never reimplemented here) into
preallocated ``.npy`` files with positioned writes, so memory stays bounded by one chunk whatever
the dataset size. It builds in ``<folder>.partial`` and journals progress after every chunk
(``progress.json``: rows done, counts); an interrupted pack resumes from the journal when the
config and fingerprint still match, and the folder is renamed into place only after the manifest
is written, so a half-built cache is never mistaken for a complete one. A file lock serialises
concurrent packers (e.g. several ranks of one job).

Deviation from the toolbox: in frame mode it drops a frame when any selected modality's file is
empty; here every frame is kept, with ``present`` False for the empty modality.
"""

from __future__ import annotations

import contextlib
import dataclasses
import fcntl
import hashlib
import json
import logging
import os
import shutil
import time
from collections import Counter
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import numpy as np
from tqdm import tqdm

from pta_core.config import DataConfig
from pta_core.data.packed import FORMAT_VERSION, MANIFEST, PackedSplit, input_file, meta_file
from pta_core.data.records import ReadStats, Record
from pta_core.data.sources import SplitSource, split_source
from pta_core.errors import DataFormatError, InvalidInput
from pta_core.io import atomic_write_text
from pta_core.modalities import get_modality
from pta_core.skeleton import NUM_JOINTS

log = logging.getLogger(__name__)

JOURNAL = "progress.json"
CHUNK_BYTES = 32 * 2**20  # rows buffered between writes (bounds the packer's memory)


def cache_key(cfg: DataConfig, side: str) -> dict[str, Any]:
    """The config fields that shape a packed split (and nothing else)."""
    key: dict[str, Any] = {
        "format_version": FORMAT_VERSION,
        "dataset": cfg.dataset,
        "side": side,
        "root": str(Path(cfg.root).resolve()),
        "modalities": list(cfg.modalities),
        "lenient": cfg.lenient,
        "preprocess": dataclasses.asdict(cfg.preprocess),
    }
    if cfg.dataset == "mmfi":
        key.update(protocol=cfg.protocol, split=cfg.split)
        if cfg.split == "random_split":
            key.update(split_ratio=cfg.split_ratio, split_seed=cfg.split_seed)
        if cfg.split in ("cross_subject_split", "manual_split"):
            key.update(train_subjects=list(cfg.train_subjects), val_subjects=list(cfg.val_subjects))
        if cfg.split == "manual_split":
            key.update(train_actions=list(cfg.train_actions), val_actions=list(cfg.val_actions))
    else:
        key.update(scenes=list(cfg.scenes), train_repetitions=cfg.train_repetitions)
    return json.loads(json.dumps(key))  # tuples → lists, as the manifest stores it


def cache_path(cfg: DataConfig, side: str) -> Path:
    digest = hashlib.sha256(json.dumps(cache_key(cfg, side), sort_keys=True).encode()).hexdigest()
    return Path(cfg.cache_dir) / f"{cfg.dataset}-{side}-{digest[:16]}"


def open_split(cfg: DataConfig, side: str, *, rebuild: bool = False, progress: bool = True) -> PackedSplit:
    """Open the packed ``side`` ('train' or 'test') of the split ``cfg`` names, packing it first if it
    is missing, incomplete, stale (source files changed) or ``rebuild`` is set.

    When the dataset root is gone but a complete cache exists, the cache is opened unverified.
    """
    final = cache_path(cfg, side)
    key = cache_key(cfg, side)
    if not Path(cfg.root).is_dir() and not (final / MANIFEST).is_file():
        raise FileNotFoundError(
            f"dataset root {cfg.root} does not exist (data.root) and {final} holds no cache"
        )
    with _locked(final):
        if not Path(cfg.root).is_dir() and not rebuild and _complete(final, key):
            log.warning(
                "dataset root %s is absent: opening cache %s without checking the source", cfg.root, final
            )
            return PackedSplit(final)
        source = split_source(cfg, side)
        reason = "rebuild requested" if rebuild else _stale_reason(final, key, source.fingerprint)
        if reason is None:
            log.info("using packed %s split %s (%d samples)", side, final, source.num_samples)
            return PackedSplit(final)
        log.info("packing %s split into %s (%s)", side, final, reason)
        pack(source, cfg, final, key, progress=progress, fresh=rebuild)
    return PackedSplit(final)


def _complete(final: Path, key: dict[str, Any]) -> bool:
    try:
        with open(final / MANIFEST) as handle:
            manifest = json.load(handle)
    except (OSError, ValueError):
        return False
    return manifest.get("key") == key


def _stale_reason(final: Path, key: dict[str, Any], fingerprint: str) -> str | None:
    if not (final / MANIFEST).is_file():
        return "no complete cache"
    try:
        split = PackedSplit(final)
    except DataFormatError as err:
        return f"unreadable cache: {err}"
    if split.manifest.get("key") != key:
        return "the cache was built for another configuration"
    if split.manifest.get("source_fingerprint") != fingerprint:
        return "the source files changed"
    return None


@contextlib.contextmanager
def _locked(final: Path) -> Iterator[None]:
    final.parent.mkdir(parents=True, exist_ok=True)
    with open(final.parent / f".{final.name}.lock", "w") as handle:
        fcntl.flock(handle, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)


# ---------------------------------------------------------------------------------------------
# Packing


def array_specs(source: SplitSource, cfg: DataConfig) -> dict[str, tuple[str, tuple[int, ...], np.dtype]]:
    """name → (file, shape, dtype) of every array of the packed split."""
    n = source.num_samples
    specs: dict[str, tuple[str, tuple[int, ...], np.dtype]] = {}
    for m in source.modalities:
        for f, spec in get_modality(m).input_fields(cfg.preprocess).items():
            specs[f"input.{m}.{f}"] = (input_file(m, f), (n, *spec.shape), np.dtype(spec.dtype))
    specs["present"] = ("present.npy", (n, len(source.modalities)), np.dtype(bool))
    if source.has_pose:
        specs["pose"] = ("pose.npy", (n, NUM_JOINTS, 3), np.dtype(np.float32))
    specs["activity"] = ("activity.npy", (n,), np.dtype(np.int64))
    for name in source.meta_names:
        specs[f"meta.{name}"] = (meta_file(name), (n,), np.dtype(np.int32))
    return specs


class _RowFile:
    """A preallocated ``.npy`` file written row-range by row-range with ``pwrite`` (no mapping kept,
    so written pages stay in the page cache, not in this process's memory)."""

    def __init__(self, path: Path, shape: tuple[int, ...], dtype: np.dtype, *, create: bool):
        if create:
            array = np.lib.format.open_memmap(path, mode="w+", dtype=dtype, shape=shape)
            offset = array.offset
            del array
        else:
            array = np.load(path, mmap_mode="r", allow_pickle=False)  # maps, touches no page
            if array.shape != tuple(shape) or array.dtype != dtype:
                raise DataFormatError(
                    path, f"partial array is {array.shape} {array.dtype}, expected {shape} {dtype}"
                )
            offset = array.offset
            del array
        self.offset = offset
        self.row_bytes = int(np.prod(shape[1:], dtype=np.int64)) * dtype.itemsize
        self.dtype = dtype
        self.fd = os.open(path, os.O_RDWR)

    def write(self, start: int, rows: np.ndarray) -> None:
        data = np.ascontiguousarray(rows, dtype=self.dtype).tobytes()
        written = os.pwrite(self.fd, data, self.offset + start * self.row_bytes)
        if written != len(data):
            raise OSError(f"short write ({written} of {len(data)} bytes)")

    def close(self) -> None:
        os.fsync(self.fd)
        os.close(self.fd)


def pack(
    source: SplitSource,
    cfg: DataConfig,
    final: Path,
    key: dict[str, Any],
    *,
    progress: bool = True,
    fresh: bool = False,
    on_chunk: Callable[[int], None] | None = None,
    chunk_bytes: int = CHUNK_BYTES,
) -> None:
    """Write ``source`` into the cache folder ``final`` (see the module docstring).

    An interrupted pack of the same config and source is resumed unless ``fresh``.
    ``on_chunk(rows_done)`` runs after each journaled chunk (progress reporting).

    Raises:
        DataFormatError: a corrupt file (not lenient), or the source changed while packing.
        ValueError: the split has no sample on disk.
    """
    if source.num_samples == 0:
        raise ValueError(
            f"the {source.side} split has no sample under {source.root}: check data.root and the split settings"
        )
    specs = array_specs(source, cfg)
    partial = final.with_name(final.name + ".partial")
    journal = None if fresh else _read_journal(partial, key, source)
    if journal is None:
        shutil.rmtree(partial, ignore_errors=True)
        partial.mkdir(parents=True)
        journal = {
            "key": key,
            "fingerprint": source.fingerprint,
            "num_samples": source.num_samples,
            "done": 0,
        }
        journal["stats"] = ReadStats().to_dict()
    else:
        log.info("resuming an interrupted pack at sample %d of %d", journal["done"], source.num_samples)
    files = {
        name: _RowFile(partial / f, shape, dtype, create=journal["done"] == 0)
        for name, (f, shape, dtype) in specs.items()
    }
    if journal["done"] == 0:
        atomic_write_text(partial / JOURNAL, json.dumps(journal))
    stats = ReadStats.from_dict(journal["stats"])
    started = time.monotonic()
    try:
        _fill(source, cfg, specs, files, journal, stats, partial, progress, on_chunk, chunk_bytes)
    finally:
        for handle in files.values():
            handle.close()
    manifest = _manifest(source, cfg, key, specs, stats, time.monotonic() - started)
    atomic_write_text(partial / MANIFEST, json.dumps(manifest, indent=1))
    (partial / JOURNAL).unlink()
    _replace_dir(partial, final)


def _fill(source, cfg, specs, files, journal, stats, partial, progress, on_chunk, chunk_bytes) -> None:
    row_bytes = sum(
        int(np.prod(shape[1:], dtype=np.int64)) * dtype.itemsize for _, shape, dtype in specs.values()
    )
    rows = int(max(1, min(4096, chunk_bytes // max(row_bytes, 1))))
    buffers = {name: np.zeros((rows, *shape[1:]), dtype) for name, (_, shape, dtype) in specs.items()}
    done = journal["done"]
    filled = 0
    bar = tqdm(
        total=source.num_samples,
        initial=done,
        unit="sample",
        disable=not progress,
        desc=f"pack {source.side}",
    )
    with bar:
        for record in source.records(done):
            if done + filled >= source.num_samples:
                raise DataFormatError(
                    source.root, "the source changed while packing (more samples than scanned)"
                )
            _fill_row(record, filled, buffers, source, cfg, stats)
            filled += 1
            if filled == rows:
                done = _flush(files, buffers, done, filled, journal, stats, partial)
                bar.update(filled)
                filled = 0
                if on_chunk is not None:
                    on_chunk(done)
        if filled:
            done = _flush(files, buffers, done, filled, journal, stats, partial)
            bar.update(filled)
            if on_chunk is not None:
                on_chunk(done)
    if done != source.num_samples:
        raise DataFormatError(
            source.root, f"the source changed while packing ({done} of {source.num_samples} samples read)"
        )


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
        fields = modality.input_fields(cfg.preprocess)
        sample = None
        raw = record.raw[m]
        if raw is None:
            stats.count_absent(m, record.absent.get(m, "missing"))
        else:
            try:
                sample = modality.preprocess(raw, cfg.preprocess)
            except InvalidInput as err:
                stats.count_absent(m, f"invalid_{err.reason}")
        for f, spec in fields.items():
            target = buffers[f"input.{m}.{f}"]
            if sample is None:
                target[i] = 0
                continue
            value = np.asarray(sample[f])
            if value.shape != spec.shape:  # a modality bug, not a data problem: fail loudly
                raise RuntimeError(
                    f"{m}.preprocess returned {f} of shape {value.shape}, its input_fields say {spec.shape}"
                )
            target[i] = value
        buffers["present"][i, column] = sample is not None
        if sample is not None:
            stats.count("present." + m)
    if source.has_pose:
        buffers["pose"][i] = record.pose
    buffers["activity"][i] = record.activity
    for name, value in zip(source.meta_names, record.meta):
        buffers[f"meta.{name}"][i] = value


def _flush(files, buffers, done: int, filled: int, journal: dict, stats: ReadStats, partial: Path) -> int:
    for name, handle in files.items():
        handle.write(done, buffers[name][:filled])
    for handle in files.values():
        os.fsync(handle.fd)  # rows reach the disk before the journal says they exist
    journal["done"] = done + filled
    journal["stats"] = stats.to_dict()
    atomic_write_text(partial / JOURNAL, json.dumps(journal))
    return done + filled


def _read_journal(partial: Path, key: dict[str, Any], source: SplitSource) -> dict[str, Any] | None:
    """The journal of an interrupted pack of the same config and source, or None (start over)."""
    try:
        journal = json.loads((partial / JOURNAL).read_text())
    except (OSError, ValueError):
        return None
    same = (
        journal.get("key") == key
        and journal.get("fingerprint") == source.fingerprint
        and journal.get("num_samples") == source.num_samples
        and isinstance(journal.get("done"), int)
        and 0 < journal["done"] <= source.num_samples
    )
    if not same:
        log.info("discarding an interrupted pack of another config or source in %s", partial)
        return None
    return journal


def _manifest(source, cfg, key, specs, stats: ReadStats, seconds: float) -> dict[str, Any]:
    absent = {m: dict(stats.absent.get(m, Counter())) for m in source.modalities}
    present = {m: int(stats.events.get("present." + m, 0)) for m in source.modalities}
    return {
        "format_version": FORMAT_VERSION,
        "dataset": source.dataset,
        "side": source.side,
        "source_root": str(source.root.resolve()),
        "source_fingerprint": source.fingerprint,
        "key": key,
        "modalities": list(source.modalities),
        "activity_classes": list(source.activity_classes),
        "has_pose": source.has_pose,
        "meta_names": list(source.meta_names),
        "meta_labels": source.meta_labels,
        "num_samples": source.num_samples,
        "fields": {m: list(get_modality(m).input_fields(cfg.preprocess)) for m in source.modalities},
        "arrays": {
            name: {"file": f, "shape": list(shape), "dtype": dtype.str}
            for name, (f, shape, dtype) in specs.items()
        },
        "counts": {"scan": source.scan_stats.to_dict()["events"], "present": present, "absent": absent},
        "preprocess": dataclasses.asdict(cfg.preprocess),
        "pack_seconds": round(seconds, 3),
    }


def _replace_dir(partial: Path, final: Path) -> None:
    """Move the finished build into place; an old (stale) cache is renamed away first, then deleted."""
    old = final.with_name(final.name + ".old")
    shutil.rmtree(old, ignore_errors=True)
    if final.exists():
        os.replace(final, old)
    os.replace(partial, final)
    _fsync_dir(final.parent)
    shutil.rmtree(old, ignore_errors=True)


def _fsync_dir(path: Path) -> None:
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)
