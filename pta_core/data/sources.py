"""A split on disk, as the packer sees it: how many samples, a fingerprint of the files, the records.

:func:`split_source` scans the tree once (listings and ground-truth shapes only, no frame is
decoded) to count the samples and fingerprint the source; ``records(start)`` then reads them in
order, starting anywhere (a resumed pack). Memory stays independent of the dataset size for MM-Fi:
the plan keeps one small entry per sequence, never a list of files.
"""

from __future__ import annotations

import bisect
import hashlib
import itertools
import logging
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from pta_core.config import DataConfig
from pta_core.data import mars, mmfi, radhar, xrf55
from pta_core.data.records import ReadStats, Record
from pta_core.data.splits import SIDES, mmfi_split
from pta_core.skeleton import JointSet, dataset_joint_set

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
    joint_set: JointSet | None = None  # what ``pose`` holds (has_pose)


def split_source(cfg: DataConfig, side: str) -> SplitSource:
    """Scan the split that ``cfg`` names, ``side`` 'train' or 'test'."""
    if side not in SIDES:
        raise ValueError(f"unknown split side {side!r}; expected one of {SIDES}")
    root = Path(cfg.root)
    if not root.is_dir():
        raise FileNotFoundError(f"dataset root {root} does not exist (data.root)")
    readers = {"mmfi": _mmfi_source, "xrf55": _xrf55_source, "mars": _mars_source, "radhar": _radhar_source}
    if cfg.dataset not in readers:
        raise ValueError(f"unknown dataset {cfg.dataset!r}; known: {', '.join(readers)}")
    return readers[cfg.dataset](cfg, side, root)


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
        joint_set=dataset_joint_set("mmfi"),
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


def mars_parts(cfg: DataConfig, side: str, listings: list[mars.SubjectListing]) -> list[tuple[mars.SubjectListing, int]]:
    """(subject, part) pairs of one side, each with its Kinect CSV on disk. ``time_split`` (the paper's):
    train = every subject's train and validate parts (validate is the meta-val part,
    ``purify.meta_group: dataset``), test = their test parts. ``cross_subject_split``: the subjects of
    ``data.val_subjects`` (e.g. ``[subject1]``) are the test side, whole; the others train, their
    validate parts again the meta-val part."""
    known = [mars.subject_name(x.subject) for x in listings]
    if cfg.split == "time_split":
        parts = (mars.TRAIN, mars.VALIDATE) if side == "train" else (mars.TEST,)
        chosen = [(x, p) for x in listings for p in parts]
    elif cfg.split == "cross_subject_split":
        unknown = sorted(set(cfg.val_subjects) - set(known))
        if not cfg.val_subjects or unknown:
            raise ValueError(f"data.val_subjects {list(cfg.val_subjects)} must name test subjects among {known}")
        chosen = [(x, p) for x in listings if (mars.subject_name(x.subject) in cfg.val_subjects) == (side == "test")
                  for p in range(len(mars.PARTS))]
    else:
        raise ValueError(f"data.split {cfg.split!r} is not a MARS split: time_split or cross_subject_split")
    return [(x, p) for x, p in chosen if p in x.kinect]


def _mars_source(cfg: DataConfig, side: str, root: Path) -> SplitSource:
    if tuple(cfg.modalities) != ("mmwave",):
        raise ValueError(f"MARS has one sensor: data.modalities must be [mmwave], got {list(cfg.modalities)}")
    stats = ReadStats()
    listings = mars.scan_mars(root, stats)
    parts = mars_parts(cfg, side, listings)
    digest = hashlib.sha256()
    base = mars.variant_dir(root)
    for listing, part in parts:
        files = [m.path for m in listing.movements] + [listing.kinect[part]]
        files += [listing.radar_csv[part]] if part in listing.radar_csv else []
        for path in files:
            info = path.stat()
            digest.update(f"{path.relative_to(base).as_posix()}\t{info.st_size}\t{info.st_mtime_ns}\n".encode())

    # One pass now pairs and checks every frame (a mismatch fails here, before packing) and counts.
    for listing, part in parts:
        for _ in mars.part_frames(listing, part, stats):
            pass
    first = np.cumsum([0] + [listing.part_frames(part) for listing, part in parts])  # first sample of each part
    total = int(first[-1])
    log.info("MARS %s %s: %d frames from %d subject part(s) of %s", side, cfg.split, total, len(parts), base)

    def records(start: int) -> Iterator[Record]:
        index = max(bisect.bisect_right(first.tolist(), start) - 1, 0)  # skip whole parts unread
        skip = start - int(first[index])
        for listing, part in parts[index:]:
            for frame in itertools.islice(mars.part_frames(listing, part, ReadStats()), skip, None):
                meta = (frame.subject, frame.movement, frame.part, frame.frame)
                yield Record({"mmwave": frame.points}, {}, frame.joints, frame.movement - 1, meta)
            skip = 0

    return SplitSource(
        dataset="mars",
        side=side,
        root=root,
        modalities=("mmwave",),
        num_samples=total,
        fingerprint=digest.hexdigest(),
        activity_classes=mars.MOVEMENTS,
        has_pose=True,
        meta_names=("subject", "action", "part", "frame"),
        meta_labels={"part": list(mars.PARTS)},
        scan_stats=stats,
        records=records,
        joint_set=dataset_joint_set("mars"),
    )


def _radhar_source(cfg: DataConfig, side: str, root: Path) -> SplitSource:
    if tuple(cfg.modalities) != ("mmwave",):
        raise ValueError(f"RadHAR has one sensor: data.modalities must be [mmwave], got {list(cfg.modalities)}")
    stats = ReadStats()
    recordings = radhar.scan_radhar(root, side, stats)
    digest = hashlib.sha256()
    counts = []
    for recording in recordings:  # one pass: every file parses (an error fails here, before packing) and counts
        info = recording.path.stat()
        digest.update(f"{recording.path.relative_to(root).as_posix()}\t{info.st_size}\t{info.st_mtime_ns}\n".encode())
        counts.append(len(radhar.read_recording(recording, stats)))
    first = np.cumsum([0, *counts])
    log.info("RadHAR %s: %d frames in %d recordings", side, int(first[-1]), len(recordings))

    def records(start: int) -> Iterator[Record]:
        index = max(bisect.bisect_right(first.tolist(), start) - 1, 0)
        skip = start - int(first[index])
        for recording in recordings[index:]:
            for frame in radhar.read_recording(recording, ReadStats())[skip:]:
                yield Record({"mmwave": frame.points}, {}, None, frame.activity,
                             (frame.recording, frame.activity, frame.frame))
            skip = 0

    return SplitSource(
        dataset="radhar",
        side=side,
        root=root,
        modalities=("mmwave",),
        num_samples=int(first[-1]),
        fingerprint=digest.hexdigest(),
        activity_classes=radhar.ACTIVITIES,
        has_pose=False,
        meta_names=("recording", "action", "frame"),
        meta_labels={},
        scan_stats=stats,
        records=records,
    )
