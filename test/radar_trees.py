"""Tiny MARS and RadHAR trees in their repositories' formats, for the reader and tool tests.

MARS: per subject, ``radar_dataK.mat`` as MATLAB v7.3 stores it (HDF5, ``radar_data_cropped`` of shape
(8, points), columns ``Frame #, # Obj, X, Y, Z, Doppler, Intensity, Abs Time``) and the time split's
CSVs with the repository's headers. RadHAR: ``Data/<Side>/<activity>/<name>.txt`` dumps of the
driver's per-point messages, each scan in two ``point_id``-0 segments 1.5 ms apart. Values are
seeded, so trees are reproducible; tests break files afterwards to exercise the quirks.
"""
from __future__ import annotations

import math
from pathlib import Path

import numpy as np

from pta_core.data import mars

KINECT_NAMES = ("SpineBase", "SpineMid", "Neck", "Head", "ShoulderLeft", "ElbowLeft", "WristLeft", "HandLeft",
                "ShoulderRight", "ElbowRight", "WristRight", "HandRight", "HipLeft", "KneeLeft", "AnkleLeft",
                "FootLeft", "HipRight", "KneeRight", "AnkleRight", "FootRight", "SpineShoulder", "HandTipLeft",
                "ThumbLeft", "HandTipRight", "ThumbRight")
RADAR_HEADER = "Frame #,# Obj,X,Y,Z,Doppler,Intensity,Abs Time"


def mars_frames(subject: int, movement: int, frames: int) -> tuple[list[np.ndarray], np.ndarray]:
    """A movement's radar frames ((points, 8) each, MARS axes) and Kinect rows (frames, 25, 3)."""
    rng = np.random.default_rng(100 * subject + movement)
    radar, kinect = [], []
    for k in range(frames):
        centre = np.array([0.1 * subject, 1.9 + 0.01 * k, 0.3])
        count = int(rng.integers(3, 12))
        xyz = centre + rng.normal(0, 0.2, (count, 3))
        number = 1000 * movement + k
        rows = np.column_stack([np.full(count, number), np.full(count, count), np.round(xyz, 4),
                                np.round(rng.choice([-0.356, 0.0, 0.356], count), 4),
                                rng.integers(5, 200, count), np.full(count, 1.6171e9 + 0.1 * k)])
        radar.append(rows)
        kinect.append(centre + rng.normal(0, 0.3, (25, 3)))
    return radar, np.asarray(kinect)


def write_mars_tree(root: Path, subjects=(1, 2), movements=(1, 2), frames: int = 12, radar_csv=("validate", "test")) -> Path:
    """A MARS clone under ``root`` (``synced_data/woutlier/subjectN``); returns ``root``."""
    import h5py

    for subject in subjects:
        folder = Path(root) / "synced_data" / "woutlier" / f"subject{subject}"
        (folder / "timesplit").mkdir(parents=True, exist_ok=True)
        parts_radar = {p: [] for p in mars.PARTS}
        parts_kinect = {p: [] for p in mars.PARTS}
        for movement in movements:
            radar, kinect = mars_frames(subject, movement, frames)
            with h5py.File(folder / f"radar_data{movement}.mat", "w") as handle:
                handle["radar_data_cropped"] = np.concatenate(radar).T  # MATLAB stores it transposed
            sizes = mars.part_sizes(frames)
            start = 0
            for part, size in zip(mars.PARTS, sizes):
                parts_radar[part] += radar[start:start + size]
                parts_kinect[part].append(kinect[start:start + size])
                start += size
        for part in mars.PARTS:
            rows = np.concatenate(parts_kinect[part])  # (T, 25, 3) → 25 X, 25 Y, 25 Z columns
            header = ",".join(f"{name}_{axis}" for axis in "XYZ" for name in KINECT_NAMES)
            np.savetxt(folder / "timesplit" / f"kinect_data_{part}.csv", rows.transpose(0, 2, 1).reshape(len(rows), -1),
                       delimiter=",", header=header, comments="", fmt="%.5g")
            if part in radar_csv:
                np.savetxt(folder / "timesplit" / f"radar_data_{part}.csv", np.concatenate(parts_radar[part]),
                           delimiter=",", header=RADAR_HEADER, comments="", fmt="%.5g")
    return Path(root)


def radhar_message(seq: int, stamp_ns: int, point_id: int, point: np.ndarray) -> str:
    x, y, z, velocity, intensity = (float(v) for v in point)
    return (f"header: \n  seq: {seq}\n  stamp: \n    secs: {stamp_ns // 10**9}\n    nsecs: {stamp_ns % 10**9}\n"
            f"  frame_id: \"ti_mmwave\"\npoint_id: {point_id}\nx: {x}\ny: {y}\nz: {z}\n"
            f"range: {math.sqrt(x * x + y * y + z * z)}\nvelocity: {velocity}\ndoppler_bin: 8\nbearing: 0.0\n"
            f"intensity: {intensity}\n---\n")


def radhar_scans(activity: int, recording: int, scans: int) -> list[np.ndarray]:
    rng = np.random.default_rng(1000 * activity + recording)
    out = []
    for k in range(scans):
        count = int(rng.integers(4, 10))
        points = np.column_stack([1.5 + 0.2 * activity + rng.normal(0, 0.2, count), rng.normal(0, 0.2, count),
                                  rng.normal(0, 0.4, count), rng.normal(0.1 * activity, 0.1, count),
                                  rng.normal(28, 3, count)])
        out.append(np.round(points, 6) + 0.0 * k)
    return out


def write_radhar_tree(root: Path, recordings: int = 2, scans: int = 40, activities=("boxing", "walk")) -> Path:
    """A RadHAR clone under ``root``: ``recordings`` files per activity and side; returns ``root``."""
    from pta_core.data.radhar import ACTIVITIES

    for side in ("Train", "Test"):
        for name in activities:
            folder = Path(root) / "Data" / side / name
            folder.mkdir(parents=True, exist_ok=True)
            activity = ACTIVITIES.index(name)
            for recording in range(recordings):
                lines, seq, stamp = [], 0, 1_561_686_032 * 10**9
                for points in radhar_scans(activity, recording + (10 if side == "Test" else 0), scans):
                    half = len(points) // 2
                    for offset_ns, segment in ((0, points[:half]), (1_500_000, points[half:])):
                        for point_id, point in enumerate(segment):
                            lines.append(radhar_message(seq, stamp + offset_ns, point_id, point))
                            seq += 1
                    stamp += 58_200_000
                (folder / f"{name}_{recording}.txt").write_text("".join(lines))
    return Path(root)
