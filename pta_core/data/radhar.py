"""RadHAR (Singh et al., mmNets 2019) as its repository is cloned: five activities seen by a TI radar.

Layout (github ``nesl/RadHAR``; docs/datasets.md "RadHAR")::

    <root>/Data/{Train,Test}/{boxing,jack,jump,squats,walk}/<recording>.txt

Each file is about 20 s recorded through ``ti_mmwave_rospkg``: its per-point ``RadarScan`` messages as
text, separated by ``---`` (``header {seq, stamp {secs, nsecs}, frame_id}``, ``point_id``, ``x``, ``y``,
``z``, ``range``, ``velocity``, ``doppler_bin``, ``bearing``, ``intensity``). ``point_id: 0`` starts a
frame (about 30 a second). The points are already in the driver's ``ti_mmwave`` frame (x forward,
y left, z up) with intensity in dB: the project's radar conventions, kept as they are.

**Frames are the radar's scans.** ``point_id`` restarts at 0 about 30 times a second, and the
authors' ``DataPreprocessing/voxels.py`` cuts frames there (their 2-s window is 60 such frames). The
stamps say those are half-scans: segments arrive in pairs 1-2 ms apart, one pair every 58 ms (of
16,217 intervals between segments, 7,218 were under 5 ms and 8,999 between 55 and 65 ms; none in
between), the radar running at 17.2 Hz. A frame here is one scan: a segment starting within
:data:`SCAN_GAP_S` of the previous one joins it (``half_scans_joined``). A 2-s window is then
:data:`WINDOW_FRAMES` scans, as the live driver publishes them, one cloud a scan.

A frame's sample is its points (x, y, z, velocity, intensity); its label the recording's activity;
its stamp the scan's first point's header stamp. Quirks, counted: ``points_before_first_frame`` (a
file that does not start at ``point_id: 0``), ``point_id_gaps`` (segments whose ids skip some: the
driver drops points outside its angle limits but keeps their ids), ``stamps_backwards`` (a scan
stamped before the previous one) and ``empty_recordings``.
"""
from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from pta_core.data.records import ReadStats
from pta_core.errors import DataFormatError

ACTIVITIES: tuple[str, ...] = ("boxing", "jack", "jump", "squats", "walk")
SIDES = {"train": "Train", "test": "Test"}
REFERENCE_FRAME = "ti_mmwave"
FRAME_PERIOD_S = 0.0582  # the radar's scan period (median interval between scans)
WINDOW_FRAMES = 34  # 2 s of scans, the authors' window length
SCAN_GAP_S = 0.02  # a point_id-0 segment this soon after the previous one is the same scan's second half
FIELDS = ("point_id", "x", "y", "z", "velocity", "intensity")
_VALUE = re.compile(r"^ *(secs|nsecs|point_id|x|y|z|velocity|intensity): *(\S+) *$", re.MULTILINE)


@dataclass(frozen=True)
class Recording:
    path: Path
    activity: int  # index into ACTIVITIES
    number: int  # position among the side's recordings (sorted paths): the recording id


@dataclass(frozen=True)
class RadharFrame:
    recording: int
    activity: int
    frame: int  # 0-based position in the recording
    stamp_ns: int
    points: np.ndarray  # (N, 5) x, y, z (ti_mmwave, m), velocity (m/s), intensity (dB)


def scan_radhar(root: Path, side: str, stats: ReadStats) -> list[Recording]:
    """The side's recordings, every activity folder, in sorted order (a missing folder is counted)."""
    base = Path(root) / "Data" / SIDES[side]
    if not base.is_dir():
        raise FileNotFoundError(f"{base} does not exist: data.root must be the RadHAR clone (Data/Train, Data/Test)")
    recordings = []
    for activity, name in enumerate(ACTIVITIES):
        folder = base / name
        if not folder.is_dir():
            stats.count("activity_folders_missing")
            continue
        for path in sorted(folder.glob("*.txt")):
            recordings.append(Recording(path, activity, len(recordings)))
    if not recordings:
        raise FileNotFoundError(f"no RadHAR recording (*.txt) under {base}")
    stats.count("recordings", len(recordings))
    return recordings


def read_recording(recording: Recording, stats: ReadStats) -> list[RadharFrame]:
    """One recording's frames (see the module docstring)."""
    path = recording.path
    try:
        text = path.read_text(encoding="utf-8", errors="strict")
    except (OSError, UnicodeDecodeError) as err:
        raise DataFormatError(path, f"cannot read: {err}") from None
    keys, values = [], []
    for key, value in _VALUE.findall(text):
        keys.append(key)
        values.append(value)
    if not keys:
        stats.count("empty_recordings")
        return []
    try:
        numbers = np.asarray(values, dtype=np.float64)
    except ValueError as err:
        raise DataFormatError(path, f"a value is not a number: {err}") from None
    # Every message holds secs, nsecs and the six fields, in this order.
    order = ("secs", "nsecs", *FIELDS)
    if len(keys) % len(order) or any(keys[i] != order[i % len(order)] for i in range(len(keys))):
        raise DataFormatError(path, f"messages do not each hold {', '.join(order)} in that order")
    table = numbers.reshape(-1, len(order))
    if not np.isfinite(table).all():
        raise DataFormatError(path, "non-finite values")
    starts = np.flatnonzero(table[:, 2] == 0)
    if len(starts) == 0:
        raise DataFormatError(path, "no point_id 0: no frame starts")
    if starts[0] > 0:
        stats.count("points_before_first_frame", int(starts[0]))
    scans: list[tuple[int, list[np.ndarray]]] = []  # (stamp of the scan's first segment, its segments)
    previous = None
    for start, stop in zip(starts, [*starts[1:], len(table)]):
        rows = table[start:stop]
        if not np.array_equal(rows[:, 2], np.arange(len(rows))):
            stats.count("point_id_gaps")
        stamp = int(rows[0, 0]) * 1_000_000_000 + int(rows[0, 1])
        if previous is not None and stamp < previous:
            stats.count("stamps_backwards")
        if scans and 0 <= stamp - scans[-1][0] < SCAN_GAP_S * 1e9:
            scans[-1][1].append(rows[:, 3:8])
            stats.count("half_scans_joined")
        else:
            scans.append((stamp, [rows[:, 3:8]]))
        previous = stamp
    frames = [RadharFrame(recording.number, recording.activity, index, stamp, np.concatenate(parts))
              for index, (stamp, parts) in enumerate(scans)]
    stats.count("frames", len(frames))
    return frames
