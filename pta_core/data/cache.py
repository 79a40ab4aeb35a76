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

from tqdm import tqdm

from pta_core.config import DataConfig
from pta_core.data.blocks import (
    RowFile,
    array_specs,
    iter_blocks,
    plan_blocks,
    release_buffers,
    row_bytes,
    write_block,
)
from pta_core.data.packed import FORMAT_VERSION, MANIFEST, PackedSplit
from pta_core.data.records import ReadStats
from pta_core.data.sources import SplitSource, split_source
from pta_core.errors import DataFormatError
from pta_core.io import atomic_write_text
from pta_core.modalities import get_modality

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
    elif cfg.dataset == "mars":
        key.update(split=cfg.split, val_subjects=list(cfg.val_subjects))
    elif cfg.dataset == "radhar":
        pass  # its split is the repository's Train / Test folders
    else:
        key.update(scenes=list(cfg.scenes), train_repetitions=cfg.train_repetitions)
    return json.loads(json.dumps(key))  # tuples → lists, as the manifest stores it


def cache_path(cfg: DataConfig, side: str) -> Path:
    digest = hashlib.sha256(json.dumps(cache_key(cfg, side), sort_keys=True).encode()).hexdigest()
    return Path(cfg.cache_dir) / f"{cfg.dataset}-{side}-{digest[:16]}"


def open_split(
    cfg: DataConfig, side: str, *, rebuild: bool = False, progress: bool = True, workers: int = 1
) -> PackedSplit:
    """Open the packed ``side`` ('train' or 'test') of the split ``cfg`` names, packing it first if it
    is missing, incomplete, stale (source files changed) or ``rebuild`` is set.

    ``workers`` > 1 packs in that many processes. When the dataset root is gone but a complete
    cache exists, the cache is opened unverified.
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
        pack(source, cfg, final, key, progress=progress, fresh=rebuild, workers=workers)
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


def pack(
    source: SplitSource,
    cfg: DataConfig,
    final: Path,
    key: dict[str, Any],
    *,
    progress: bool = True,
    fresh: bool = False,
    workers: int = 1,
    on_chunk: Callable[[int], None] | None = None,
    chunk_bytes: int = CHUNK_BYTES,
) -> None:
    """Write ``source`` into the cache folder ``final`` (see the module docstring).

    An interrupted pack of the same config and source is resumed unless ``fresh``. ``workers`` > 1
    builds blocks in that many forked processes (same arrays as one process).
    ``on_chunk(rows_done)`` runs after each journaled block (progress reporting).

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
    create = journal["done"] == 0
    files = {
        name: RowFile(partial / f, shape, dtype, create=create) for name, (f, shape, dtype) in specs.items()
    }
    if create:
        atomic_write_text(partial / JOURNAL, json.dumps(journal))
    stats = ReadStats.from_dict(journal["stats"])
    # Up to workers + 1 blocks are in flight: share the byte budget so memory stays ≈ chunk_bytes.
    budget = chunk_bytes // (workers + 1) if workers > 1 else chunk_bytes
    rows = int(max(1, min(4096, budget // max(row_bytes(specs), 1))))
    blocks = plan_blocks(journal["done"], source.num_samples, rows)
    started = time.monotonic()
    bar = tqdm(
        total=source.num_samples,
        initial=journal["done"],
        unit="sample",
        disable=not progress,
        desc=f"pack {source.side}",
    )
    try:
        with bar:
            for (start, stop), buffers, block_stats in iter_blocks(source, cfg, specs, blocks, workers):
                write_block(files, start, buffers)
                stats.merge(block_stats)
                journal.update(done=stop, stats=stats.to_dict())
                atomic_write_text(partial / JOURNAL, json.dumps(journal))
                bar.update(stop - start)
                if on_chunk is not None:
                    on_chunk(stop)
    finally:
        release_buffers()
        for handle in files.values():
            handle.close()
    manifest = _manifest(source, cfg, key, specs, stats, time.monotonic() - started)
    atomic_write_text(partial / MANIFEST, json.dumps(manifest, indent=1))
    (partial / JOURNAL).unlink()
    _replace_dir(partial, final)


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
        "joints": list(source.joint_set.joints) if source.joint_set is not None else [],
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
