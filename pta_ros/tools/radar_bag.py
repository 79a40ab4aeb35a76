"""MARS or RadHAR recordings → rosbag2, as TI's ROS driver would have recorded them (``radar_to_bag``).

The radar goes on ``/ti_mmwave/radar_scan_pcl`` as ``ti_mmwave_rospkg`` publishes it: a
``sensor_msgs/PointCloud2`` of ``pcl::PointXYZI`` points (x, y, z at bytes 0, 4, 8, intensity in dB at
16, 32-byte points), frame ``ti_mmwave`` (x forward, y left, z up), one cloud a radar frame. The
radar-lab driver's cloud has no velocity; ``--velocity`` adds it (float32 at byte 20, in the padding),
as the forks that publish Doppler do. Ground truth goes beside it, stamped like its frame: MARS's 19
Kinect joints on ``/ground_truth/skeleton`` (PoseArray, metres, ``ti_mmwave``), RadHAR's activity on
``/ground_truth/activity`` (DiagnosticArray: ``activity``, ``recording``, ``frame``).

Recordings follow each other with :data:`GAP_S` of silence, longer than a 2-s activity window, so no
window spans two. Within one, frames keep their recorded spacing (MARS's ``Abs Time``, RadHAR's
header stamps). The bag is written under a temporary name and renamed when complete.

    radar_to_bag {mars|radhar} ROOT OUT [--split time_split|cross_subject_split] [--subjects subject1,...]
        [--side test|train] [--velocity] [--storage mcap|sqlite3] [--version 8|9]
"""
from __future__ import annotations

import argparse
import contextlib
import logging
import shutil
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
from diagnostic_msgs.msg import DiagnosticArray, DiagnosticStatus, KeyValue
from rclpy.serialization import serialize_message
from rosbags.interfaces import QosDurability
from rosbags.rosbag2 import Writer
from sensor_msgs.msg import PointCloud2, PointField

from pta_core.config import DataConfig
from pta_core.data import mars, radhar
from pta_core.data.records import ReadStats
from pta_core.data.sources import mars_parts
from pta_ros.conversions import make_header, numpy_to_posearray
from pta_ros.launch_plan import ACTIVITY_TRUTH_TOPIC, GROUND_TRUTH_TOPIC
from pta_ros.tools.bag import DEFAULT_START_NS, STORAGES, TYPESTORE, _qos

log = logging.getLogger(__name__)

RADAR_TOPIC = "/ti_mmwave/radar_scan_pcl"
FRAME_ID = "ti_mmwave"
GAP_S = 3.0
POINT_STEP = 32  # pcl::PointXYZI: x, y, z, padding, intensity, padding


@dataclass(frozen=True)
class RadarFrame:
    recording: int
    frame: int  # position in its recording
    offset_ns: int  # time since its recording's first frame
    points: np.ndarray  # (N, 5) x, y, z, velocity, intensity in ti_mmwave
    joints: np.ndarray | None = None  # MARS
    activity: str | None = None  # RadHAR


@dataclass
class RadarBagStats:
    recordings: int = 0
    frames: int = 0
    messages: dict[str, int] = field(default_factory=dict)
    seconds: float = 0.0


def ti_mmwave_cloud(points: np.ndarray, header, velocity: bool = False) -> PointCloud2:
    """``ti_mmwave_rospkg``'s ``radar_scan_pcl`` layout (see the module docstring) for (N, 5) points."""
    points = np.asarray(points, dtype=np.float32)
    rows = np.zeros((len(points), POINT_STEP // 4), dtype="<f4")
    rows[:, [0, 1, 2]] = points[:, :3]
    rows[:, 4] = points[:, 4]
    fields = [PointField(name=n, offset=o, datatype=PointField.FLOAT32, count=1)
              for n, o in (("x", 0), ("y", 4), ("z", 8), ("intensity", 16))]
    if velocity:
        rows[:, 5] = points[:, 3]
        fields.append(PointField(name="velocity", offset=20, datatype=PointField.FLOAT32, count=1))
    msg = PointCloud2(header=header, height=1, width=len(points), fields=fields, is_bigendian=False,
                      point_step=POINT_STEP, row_step=POINT_STEP * len(points), is_dense=True)
    msg.data = rows.tobytes()
    return msg


def activity_truth(label: str, recording: int, frame: int, header) -> DiagnosticArray:
    values = [KeyValue(key="activity", value=label), KeyValue(key="recording", value=str(recording)),
              KeyValue(key="frame", value=str(frame))]
    return DiagnosticArray(header=header, status=[DiagnosticStatus(name="ground_truth", values=values)])


def mars_frames(root: Path, split: str, subjects: tuple[str, ...], side: str) -> Iterator[RadarFrame]:
    """The side's frames of the MARS split, a recording per (subject, movement, part)."""
    stats = ReadStats()
    cfg = DataConfig(dataset="mars", root=str(root), modalities=("mmwave",), split=split, val_subjects=subjects)
    recording, key, index, first = -1, None, 0, 0.0
    for listing, part in mars_parts(cfg, side, mars.scan_mars(root, stats)):
        for frame in mars.part_frames(listing, part, stats):
            if (frame.subject, frame.movement, frame.part) != key:
                key, recording, index, first = (frame.subject, frame.movement, frame.part), recording + 1, 0, frame.time_s
            yield RadarFrame(recording, index, int(round((frame.time_s - first) * 1e9)), frame.points, joints=frame.joints)
            index += 1


def radhar_frames(root: Path, side: str) -> Iterator[RadarFrame]:
    stats = ReadStats()
    for recording in radhar.scan_radhar(root, side, stats):
        frames = radhar.read_recording(recording, stats)
        for frame in frames:
            yield RadarFrame(recording.number, frame.frame, frame.stamp_ns - frames[0].stamp_ns, frame.points,
                             activity=radhar.ACTIVITIES[frame.activity])


def convert(frames: Iterator[RadarFrame], out: Path, *, velocity: bool = False, storage: str = "mcap", version: int = 9,
            start_ns: int = DEFAULT_START_NS) -> RadarBagStats:
    """Write ``frames`` (recording by recording) into one bag at ``out`` (never overwritten)."""
    out = Path(out)
    if storage not in STORAGES:
        raise ValueError(f"unknown storage {storage!r}; known: {sorted(STORAGES)}")
    if version not in (8, 9):
        raise ValueError("bag version must be 8 (Humble) or 9 (Jazzy and later)")
    if out.exists():
        raise FileExistsError(f"{out} exists; bags are never overwritten")
    staging = out.with_name(f".{out.name}.partial")
    shutil.rmtree(staging, ignore_errors=True)
    staging.mkdir(parents=True)
    partial = staging / out.name
    stats, started = RadarBagStats(), time.perf_counter()
    writer = Writer(partial, version=version, storage_plugin=STORAGES[storage])
    qos = [_qos(QosDurability.VOLATILE, 10)]
    try:
        writer.open()
        radar = writer.add_connection(RADAR_TOPIC, "sensor_msgs/msg/PointCloud2", typestore=TYPESTORE,
                                      offered_qos_profiles=qos)
        truth: dict[str, object] = {}
        recording, base, last = None, start_ns, start_ns
        for frame in frames:
            if frame.recording != recording:
                recording = frame.recording
                base = last + int(GAP_S * 1e9) if stats.frames else start_ns
                stats.recordings += 1
            stamp = base + frame.offset_ns
            last = stamp
            header = make_header(stamp, FRAME_ID)
            messages = [(RADAR_TOPIC, radar, ti_mmwave_cloud(frame.points, header, velocity))]
            if frame.joints is not None:
                if GROUND_TRUTH_TOPIC not in truth:
                    truth[GROUND_TRUTH_TOPIC] = writer.add_connection(
                        GROUND_TRUTH_TOPIC, "geometry_msgs/msg/PoseArray", typestore=TYPESTORE, offered_qos_profiles=qos)
                messages.append((GROUND_TRUTH_TOPIC, truth[GROUND_TRUTH_TOPIC], numpy_to_posearray(frame.joints, header)))
            if frame.activity is not None:
                if ACTIVITY_TRUTH_TOPIC not in truth:
                    truth[ACTIVITY_TRUTH_TOPIC] = writer.add_connection(
                        ACTIVITY_TRUTH_TOPIC, "diagnostic_msgs/msg/DiagnosticArray", typestore=TYPESTORE,
                        offered_qos_profiles=qos)
                messages.append((ACTIVITY_TRUTH_TOPIC, truth[ACTIVITY_TRUTH_TOPIC],
                                 activity_truth(frame.activity, frame.recording, frame.frame, header)))
            for topic, connection, msg in messages:
                writer.write(connection, stamp, serialize_message(msg))
                stats.messages[topic] = stats.messages.get(topic, 0) + 1
            stats.frames += 1
        writer.close()
    except BaseException:
        with contextlib.suppress(Exception):
            writer.abort()
        shutil.rmtree(staging, ignore_errors=True)
        raise
    if stats.frames == 0:
        shutil.rmtree(staging, ignore_errors=True)
        raise ValueError("no frame to write: check the root and the split")
    partial.rename(out)
    staging.rmdir()
    stats.seconds = time.perf_counter() - started
    return stats


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="radar_to_bag", description=__doc__.splitlines()[0])
    parser.add_argument("dataset", choices=("mars", "radhar"))
    parser.add_argument("root", help="the dataset's repository as cloned")
    parser.add_argument("out", help="bag directory to create (must not exist)")
    parser.add_argument("--side", choices=("test", "train"), default="test")
    parser.add_argument("--split", default="time_split", help="MARS: time_split (default) or cross_subject_split")
    parser.add_argument("--subjects", default="", help="MARS cross_subject_split: the held-out subjects, e.g. subject1")
    parser.add_argument("--velocity", action="store_true", help="add the velocity field (the driver forks' layout)")
    parser.add_argument("--storage", choices=sorted(STORAGES), default="mcap")
    parser.add_argument("--version", type=int, choices=(8, 9), default=9)
    return parser


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(levelname)s %(name)s: %(message)s")
    root = Path(args.root)
    try:
        if args.dataset == "mars":
            subjects = tuple(s for s in args.subjects.split(",") if s)
            frames = mars_frames(root, args.split, subjects, args.side)
        else:
            frames = radhar_frames(root, args.side)
        stats = convert(frames, Path(args.out), velocity=args.velocity, storage=args.storage, version=args.version)
    except (ValueError, OSError) as err:  # DataFormatError is a ValueError
        print(f"radar_to_bag: {err}", file=sys.stderr)
        return 2
    print(f"{args.out}: {stats.recordings} recordings, {stats.frames} frames, {stats.messages} in {stats.seconds:.1f} s")
    return 0


if __name__ == "__main__":
    sys.exit(main())
