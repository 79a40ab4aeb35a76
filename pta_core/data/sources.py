"""A split on disk, as the packer sees it: how many samples, a fingerprint of the files, the records.

:func:`split_source` scans the tree once (listings and ground-truth shapes only, no frame is
decoded) to count the samples and fingerprint the source; ``records(start)`` then reads them in
order, starting anywhere (a resumed pack). Memory stays independent of the dataset size for MM-Fi:
the plan keeps one small entry per sequence, never a list of files.
"""

from __future__ import annotations

import bisect
import hashlib
import logging
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path

from pta_core.config import DataConfig
from pta_core.data import mmfi, xrf55
from pta_core.data.records import ReadStats, Record
from pta_core.data.splits import SIDES, mmfi_split

log = logging.getLogger(__name__)


@dataclass
class SplitSource:
    """One side of a split on disk.

    ``fingerprint`` is a SHA-256 over (relative path, size, mtime) of every file the split reads:
    touching or replacing a file changes it, stray files do not.
    """

    dataset: str
    side: str
    root: Path
    modalities: tuple[str, ...]
    num_samples: int
    fingerprint: str
    activity_classes: tuple[str, ...]
    has_pose: bool
    meta_names: tuple[str, ...]
    meta_labels: dict[str, list[str]]  # code → name tables for coded metadata (e.g. XRF55 scenes)
    scan_stats: ReadStats
    records: Callable[[int], Iterator[Record]] = field(repr=False)


def split_source(cfg: DataConfig, side: str) -> SplitSource:
    """Scan the split that ``cfg`` names, ``side`` 'train' or 'test'."""
    if side not in SIDES:
        raise ValueError(f"unknown split side {side!r}; expected one of {SIDES}")
    root = Path(cfg.root)
    if not root.is_dir():
        raise FileNotFoundError(f"dataset root {root} does not exist (data.root)")
    if cfg.dataset == "mmfi":
        return _mmfi_source(cfg, side, root)
    if cfg.dataset == "xrf55":
        return _xrf55_source(cfg, side, root)
    raise ValueError(f"unknown dataset {cfg.dataset!r}")


def _mmfi_source(cfg: DataConfig, side: str, root: Path) -> SplitSource:
    modalities = mmfi.check_modalities(cfg.modalities)
    pairs = mmfi_split(cfg).side(side)
    stats = ReadStats()
    digest = hashlib.sha256()
    present: list[tuple[str, str]] = []
    first_frame: list[int] = []  # sample index of each present sequence's first frame
    total = 0
    for listing in mmfi.scan_sequences(root, pairs, modalities, lenient=cfg.lenient, stats=stats):
        for line in listing.fingerprint_lines(root):
            digest.update(line.encode())
        present.append((listing.subject, listing.action))
        first_frame.append(total)
        total += listing.num_frames
    missing = len(pairs) - len(present)
    log.info(
        "MM-Fi %s %s/%s: %d of %d sequences on disk (%d missing or skipped), %d frames",
        side, cfg.protocol, cfg.split, len(present), len(pairs), missing, total,
    )  # fmt: skip
    if stats.events["stray_files"]:
        log.info("ignored %d stray file(s) in modality folders", stats.events["stray_files"])
    stats.count("sequences_in_split", len(pairs))

    def records(start: int) -> Iterator[Record]:
        # Jump to the sequence holding `start` without listing the ones before it.
        seq = max(bisect.bisect_right(first_frame, start) - 1, 0)
        offset = start - first_frame[seq] if first_frame else start
        frames = mmfi.iter_frames(root, present[seq:], modalities, lenient=cfg.lenient, start=offset)
        for frame in frames:
            meta = (int(frame.environment[1:]), int(frame.subject[1:]), int(frame.action[1:]), frame.frame)
            yield Record(frame.raw, frame.absent, frame.pose, frame.activity, meta)

    return SplitSource(
        dataset="mmfi",
        side=side,
        root=root,
        modalities=modalities,
        num_samples=total,
        fingerprint=digest.hexdigest(),
        activity_classes=mmfi.MMFI_ACTIONS,
        has_pose=True,
        meta_names=("environment", "subject", "action", "frame"),
        meta_labels={},
        scan_stats=stats,
        records=records,
    )


def _xrf55_source(cfg: DataConfig, side: str, root: Path) -> SplitSource:
    modalities = xrf55.check_modalities(cfg.modalities)
    if not cfg.scenes:
        raise ValueError("data.scenes is empty: name the XRF55 scene(s) to read, e.g. [Scene1]")
    stats = ReadStats()
    files = xrf55.scan_xrf55(root, cfg.scenes, modalities, lenient=cfg.lenient, stats=stats)
    keys = xrf55.split_keys(list(files), side, cfg.train_repetitions)
    digest = hashlib.sha256()
    for key in keys:
        for name in sorted(files[key]):
            entry = files[key][name]
            digest.update(
                f"{entry.path.relative_to(root).as_posix()}\t{entry.size}\t{entry.mtime_ns}\n".encode()
            )
    log.info("XRF55 %s %s: %d samples (of %d on disk)", side, list(cfg.scenes), len(keys), len(files))
    if stats.events["stray_files"]:
        log.info("ignored %d stray file(s) in modality folders", stats.events["stray_files"])

    def records(start: int) -> Iterator[Record]:
        for sample in xrf55.iter_samples(files, keys[start:], cfg.scenes, modalities, lenient=cfg.lenient):
            key = sample.key
            meta = (key.scene, key.volunteer, key.action, key.repetition)
            yield Record(sample.raw, sample.absent, None, sample.activity, meta)

    return SplitSource(
        dataset="xrf55",
        side=side,
        root=root,
        modalities=modalities,
        num_samples=len(keys),
        fingerprint=digest.hexdigest(),
        activity_classes=xrf55.XRF55_CLASSES,
        has_pose=False,
        meta_names=("scene", "subject", "action", "repetition"),
        meta_labels={"scene": list(cfg.scenes)},
        scan_stats=stats,
        records=records,
    )
