"""MARS (An & Ogras, ACM TECS 2021) as its repository is cloned: radar point clouds with Kinect joints.

Layout (github ``SizheAn/MARS``; docs/datasets.md "MARS")::

    <root>/synced_data/<variant>/subjectN/radar_dataK.mat                 movement K's radar frames
    <root>/synced_data/<variant>/subjectN/timesplit/kinect_data_<part>.csv  one Kinect row per frame
    <root>/synced_data/<variant>/subjectN/timesplit/radar_data_<part>.csv   the same frames' points

``<part>`` is train, validate or test; ``<variant>`` ``woutlier`` (outliers kept: the paper's data,
whose frame counts are exactly the paper's 24,066 / 8,033 / 7,984) or ``wooutlier``. ``root`` may be
the clone or a ``synced_data/<variant>`` folder.

What the files say, checked on the published copy (docs/datasets.md "MARS" has the counts):

- **The time split.** Of each movement's n frames the first ⌈0.6 n⌉ are train, the next ⌈0.2 n⌉
  validate, the rest test; a part's CSV is that part of every movement, movements in order. This
  reproduces every Kinect CSV's row count and, frame by frame, every radar CSV present.
- **Radar from the .mat files.** ``radar_dataK.mat`` (MATLAB v7.3, HDF5) holds movement K's frames with
  the CSV's 8 columns (``Frame #, # Obj, X, Y, Z, Doppler, Intensity, Abs Time``), full precision. The
  train radar CSVs are over 4 MiB and absent from some copies; the .mat files are not: they give
  every part's radar frames. Where a part's radar CSV exists, each of its frames must equal the .mat
  frame at the same position (points, values to the CSV's 5 digits), or the read fails naming it.
- **Quirks, counted** (:class:`~pta_core.data.records.ReadStats`): a part's Kinect CSV missing
  (its radar frames are then unpaired: ``unpaired_radar_frames``), ``radar_csv_missing``,
  ``renumbered_frames`` (a radar CSV numbers a frame unlike the .mat: subject 4's movements 5-9),
  ``object_count_mismatch`` (``# Obj`` is not the frame's point count), ``duplicate_frame_numbers``
  and ``frames_without_points``.
- **Axes.** MARS gives points and joints in the TI radar's own frame (x right, y along the boresight,
  z up; the subject about 2 m away, the radar 1 m above the floor). The reader maps both to
  :data:`REFERENCE_FRAME`, the ``ti_mmwave`` frame of TI's ROS drivers (REP-103: x forward, y left,
  z up): (x, y, z) → (y, −x, z), the map ``ti_mmwave_rospkg`` applies to its points.
- **Intensity.** MARS's ``Intensity`` is the IWR1443's linear peak value (integers 2–1127); the reader
  turns it into dB as TI's ROS driver publishes it for SDK 2.x radars, 10·log10(peak + 1)
  (``DataHandlerClass.cpp``), the unit of the project's radar intensity. Doppler is in m/s.
- **Joints.** The 19 Kinect joints the paper scores (:data:`~pta_core.skeleton.KINECT_19`; its
  ``labels_test.npy`` equals the test CSVs' columns in this order), in metres.
"""
from __future__ import annotations

import functools
import math
import re
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from pta_core.data.records import ReadStats
from pta_core.errors import DataFormatError

MOVEMENTS: tuple[str, ...] = (
    "Left upper limb extension",
    "Right upper limb extension",
    "Both upper limb extension",
    "Left front lunge",
    "Right front lunge",
    "Squat",
    "Left side lunge",
    "Right side lunge",
    "Left limb extension",
    "Right limb extension",
)
PARTS: tuple[str, ...] = ("train", "validate", "test")
TRAIN, VALIDATE, TEST = range(3)
VARIANTS: tuple[str, ...] = ("woutlier", "wooutlier")
REFERENCE_FRAME = "ti_mmwave"
FRAME_PERIOD_S = 0.1  # the radar's frame rate, about 10 Hz (Abs Time: 832 frames in 88.7 s)
RADAR_COLUMNS = 8  # Frame #, # Obj, X, Y, Z, Doppler, Intensity, Abs Time
KINECT_JOINTS = 25
# Kinect columns of the 19 scored joints (the 25 Kinect v2 joints without HandLeft, HandRight,
# HandTipLeft, ThumbLeft, HandTipRight, ThumbRight).
SCORED = (0, 1, 2, 3, 4, 5, 6, 8, 9, 10, 12, 13, 14, 15, 16, 17, 18, 19, 20)
# MARS radar frame → ti_mmwave: x' = y, y' = -x, z' = z (rows: new axes in old coordinates).
TO_REFERENCE = np.array([[0.0, 1.0, 0.0], [-1.0, 0.0, 0.0], [0.0, 0.0, 1.0]])
_SUBJECT = re.compile(r"^subject(\d+)$")
_MOVEMENT = re.compile(r"^radar_data(\d+)\.mat$")


def part_sizes(frames: int) -> tuple[int, int, int]:
    """(train, validate, test) frames of a movement of ``frames`` frames: ⌈0.6 n⌉, ⌈0.2 n⌉, the rest."""
    train = math.ceil(0.6 * frames)
    validate = min(math.ceil(0.2 * frames), frames - train)
    return train, validate, frames - train - validate


def variant_dir(root: Path) -> Path:
    """The folder of subject folders: ``root`` itself, or ``root/synced_data/woutlier`` (the paper's)."""
    root = Path(root)
    if any(_SUBJECT.match(p.name) for p in root.iterdir() if p.is_dir()):
        return root
    candidate = root / "synced_data" / VARIANTS[0]
    if candidate.is_dir():
        return candidate
    raise FileNotFoundError(
        f"{root} is neither a MARS clone (synced_data/{VARIANTS[0]}/subjectN) nor a folder of subjectN folders"
    )


@dataclass(frozen=True)
class Movement:
    subject: int
    number: int  # K of radar_dataK.mat, 1-based
    path: Path
    frames: int


@dataclass(frozen=True)
class SubjectListing:
    subject: int
    path: Path
    movements: tuple[Movement, ...]  # in movement order
    kinect: dict[int, Path]  # part → Kinect CSV present on disk
    radar_csv: dict[int, Path]  # part → radar CSV present on disk

    def part_frames(self, part: int) -> int:
        return sum(part_sizes(m.frames)[part] for m in self.movements)


def subject_name(subject: int) -> str:
    return f"subject{subject}"


def scan_mars(root: Path, stats: ReadStats) -> list[SubjectListing]:
    """Every subject folder under ``root`` (see :func:`variant_dir`) with its movements and split CSVs."""
    base = variant_dir(root)
    listings = []
    for folder in sorted((p for p in base.iterdir() if p.is_dir() and _SUBJECT.match(p.name)),
                         key=lambda p: int(_SUBJECT.match(p.name).group(1))):
        subject = int(_SUBJECT.match(folder.name).group(1))
        movements = []
        for path in sorted((p for p in folder.iterdir() if _MOVEMENT.match(p.name)),
                           key=lambda p: int(_MOVEMENT.match(p.name).group(1))):
            number = int(_MOVEMENT.match(path.name).group(1))
            if not 1 <= number <= len(MOVEMENTS):
                raise DataFormatError(path, f"movement {number} is not one of MARS's 1..{len(MOVEMENTS)}")
            movements.append(Movement(subject, number, path, len(read_movement(path))))
        if not movements:
            stats.count("subjects_without_radar")
            continue
        split_dir = folder / "timesplit"
        kinect = {p: split_dir / f"kinect_data_{name}.csv" for p, name in enumerate(PARTS)}
        radar = {p: split_dir / f"radar_data_{name}.csv" for p, name in enumerate(PARTS)}
        listing = SubjectListing(subject, folder, tuple(movements),
                                 {p: f for p, f in kinect.items() if f.is_file()},
                                 {p: f for p, f in radar.items() if f.is_file()})
        for part in range(len(PARTS)):
            if part not in listing.kinect:
                stats.count("kinect_csv_missing")
                stats.count("unpaired_radar_frames", listing.part_frames(part))
            if part not in listing.radar_csv:
                stats.count("radar_csv_missing")
        listings.append(listing)
    if not listings:
        raise FileNotFoundError(f"no MARS subject with radar_dataK.mat files under {base}")
    return listings


@functools.lru_cache(maxsize=2)  # readers that jump around a movement (pta stats) read it once
def read_movement(path: Path) -> tuple[np.ndarray, ...]:
    """``radar_dataK.mat`` → its frames, each (points, 8) float64 in file order (the CSV's columns)."""
    import h5py  # MATLAB v7.3 files are HDF5

    try:
        with h5py.File(path, "r") as handle:
            data = np.asarray(handle["radar_data_cropped"], dtype=np.float64).T
    except (OSError, KeyError) as err:
        raise DataFormatError(path, f"not a MARS radar file (HDF5 with radar_data_cropped): {err}") from None
    return tuple(split_frames(data, path))


@functools.lru_cache(maxsize=2)
def read_radar_csv(path: Path) -> tuple[np.ndarray, ...]:
    """A split's radar CSV → its frames, each (points, 8)."""
    try:
        data = np.loadtxt(path, delimiter=",", skiprows=1, ndmin=2)
    except ValueError as err:
        raise DataFormatError(path, f"not a MARS radar CSV: {err}") from None
    return tuple(split_frames(data, path))


def split_frames(data: np.ndarray, path: Path) -> list[np.ndarray]:
    """Rows of points → frames, cut where ``Frame #`` changes."""
    if data.ndim != 2 or data.shape[1] != RADAR_COLUMNS or not len(data):
        raise DataFormatError(path, f"expected rows of {RADAR_COLUMNS} columns, got shape {data.shape}")
    if not np.isfinite(data[:, :7]).all():
        raise DataFormatError(path, "non-finite radar values")
    cuts = np.flatnonzero(np.diff(data[:, 0]) != 0) + 1
    return np.split(data, cuts)


@functools.lru_cache(maxsize=2)
def read_kinect(path: Path) -> np.ndarray:
    """A split's Kinect CSV → (T, 19, 3) metres in :data:`REFERENCE_FRAME` (the scored joints)."""
    try:
        data = np.loadtxt(path, delimiter=",", skiprows=1, ndmin=2)
    except ValueError as err:
        raise DataFormatError(path, f"not a MARS Kinect CSV: {err}") from None
    if data.shape[1] != 3 * KINECT_JOINTS:
        raise DataFormatError(path, f"expected {3 * KINECT_JOINTS} columns (25 X, 25 Y, 25 Z), got {data.shape[1]}")
    if not np.isfinite(data).all():
        raise DataFormatError(path, "non-finite joint coordinates")
    joints = data.reshape(-1, 3, KINECT_JOINTS).transpose(0, 2, 1)[:, SCORED]  # (T, 19, 3) MARS axes
    return to_reference(joints)


def intensity_db(peak: np.ndarray) -> np.ndarray:
    """A TI SDK 2.x radar's linear peak value → dB, as ``ti_mmwave_rospkg`` publishes it."""
    return 10.0 * np.log10(np.maximum(peak, 0.0) + 1.0)


def to_reference(xyz: np.ndarray) -> np.ndarray:
    """MARS radar axes → :data:`REFERENCE_FRAME` (last axis x, y, z)."""
    return xyz @ TO_REFERENCE.T


@dataclass(frozen=True)
class MarsFrame:
    subject: int
    movement: int  # 1-based
    part: int  # TRAIN, VALIDATE or TEST
    frame: int  # position in the movement, 0-based
    points: np.ndarray  # (N, 5) x, y, z (REFERENCE_FRAME, m), Doppler (m/s), intensity (dB)
    joints: np.ndarray  # (19, 3) metres, REFERENCE_FRAME
    time_s: float  # the radar's Abs Time (s)


def part_frames(listing: SubjectListing, part: int, stats: ReadStats) -> Iterator[MarsFrame]:
    """One part of one subject, paired: the .mat frames of that part, movement by movement, with
    the part's Kinect rows in order (checked against the part's radar CSV where there is one)."""
    joints = read_kinect(listing.kinect[part])
    expected = listing.part_frames(part)
    if len(joints) != expected:
        raise DataFormatError(listing.kinect[part], f"{len(joints)} rows, but the movements' {PARTS[part]} parts "
                              f"have {expected} frames (⌈0.6 n⌉ / ⌈0.2 n⌉ / rest of each movement)")
    checked = iter(read_radar_csv(listing.radar_csv[part])) if part in listing.radar_csv else None
    row = 0
    for movement in listing.movements:
        frames = read_movement(movement.path)
        start = sum(part_sizes(movement.frames)[:part])
        numbers = [int(f[0, 0]) for f in frames]
        stats.count("duplicate_frame_numbers", len(numbers) - len(set(numbers)))
        for index in range(start, start + part_sizes(movement.frames)[part]):
            frame = frames[index]
            if checked is not None:
                _check_same_frame(next(checked, None), frame, listing.radar_csv[part], movement, index, stats)
            if int(round(frame[0, 1])) != len(frame):
                stats.count("object_count_mismatch")
            points = np.column_stack([to_reference(frame[:, 2:5]), frame[:, 5], intensity_db(frame[:, 6])])
            if not len(points):
                stats.count("frames_without_points")
            stats.count(f"frames_{PARTS[part]}")
            yield MarsFrame(listing.subject, movement.number, part, index, points, joints[row], float(frame[0, 7]))
            row += 1
    if checked is not None and next(checked, None) is not None:
        raise DataFormatError(listing.radar_csv[part], f"more frames than the movements' {PARTS[part]} parts have")


def _check_same_frame(csv: np.ndarray | None, mat: np.ndarray, path: Path, movement: Movement, index: int,
                      stats: ReadStats) -> None:
    where = f"movement {movement.number} frame {index}"
    if csv is None:
        raise DataFormatError(path, f"ends before {where} of {movement.path.name}")
    # The CSV keeps 5 significant digits of the .mat's values.
    if csv.shape != mat.shape or not np.allclose(csv[:, 2:7], mat[:, 2:7], rtol=1e-4, atol=6e-5):
        raise DataFormatError(path, f"{where}: its points differ from {movement.path.name}'s")
    if int(csv[0, 0]) != int(mat[0, 0]):
        stats.count("renumbered_frames")
    stats.count("frames_checked_against_radar_csv")
