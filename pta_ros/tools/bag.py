"""MM-Fi (real or generated) → rosbag2 (mcap or sqlite3, bag version 8 or 9) with ``rosbags``.

Topics are the sensing node's inputs (``pta_ros.inputs.SENSORS``) plus the ground truth skeleton
(``/ground_truth/skeleton``, PoseArray, H36M order, metres) and ``/tf_static`` for the rig. MM-Fi has
no timestamps: frame k of the i-th sequence is stamped ``start + i·(T·period + gap) + (k−1)·period``.
A frame whose file is missing, empty (0 bytes) or unreadable (lenient) becomes a missing message, so
sensor dropouts in the data replay faithfully. The bag is written under a temporary name and renamed
when complete: an interrupted conversion never leaves a bag that looks complete.

Messages are built with the node's own converters (``pta_ros.conversions``) and serialised with
rclpy's CDR, which rosbags reads and writes unchanged; ``/tf_static`` (``tf2_msgs`` has no PyPI wheel)
is built with the rosbags typestore.
"""
from __future__ import annotations

import argparse
import contextlib
import logging
import shutil
import sys
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import yaml
from rclpy.serialization import serialize_message
from rosbags.interfaces import Qos, QosDurability, QosHistory, QosLiveliness, QosReliability, QosTime
from rosbags.rosbag2 import StoragePlugin, Writer
from rosbags.typesys import Stores, get_typestore
from sensor_msgs.msg import CameraInfo
from tqdm import tqdm

from pta_core.data import mmfi
from pta_core.data.records import ReadStats
from pta_core.simulator import RIG_FILENAME
from pta_core.simulator.manifest import ros_transforms
from pta_ros.conversions import make_header, numpy_to_image, numpy_to_pointcloud2, numpy_to_posearray
from pta_ros.frames import read_rig
from pta_ros.inputs import LIDAR_FIELDS, RADAR_FIELDS, SENSOR_BY_MODALITY, SENSORS, camera_info_topic

log = logging.getLogger(__name__)

GROUND_TRUTH_TOPIC = "/ground_truth/skeleton"
TF_STATIC_TOPIC = "/tf_static"
DEFAULT_FRAME_PERIOD_S = 0.1  # MM-Fi is commonly quoted at 10 Hz; the toolbox documents no rate
DEFAULT_START_NS = 1_700_000_000 * 10**9
SEQUENCE_GAP_S = 0.5  # silence between sequences (< the node's max_age_s: sensors stay live across it)
STORAGES = {"mcap": StoragePlugin.MCAP, "sqlite3": StoragePlugin.SQLITE3}
# Frame ids: the node's defaults (config/sensing.yaml frame_ids), as the rig names them (config/rig.yaml).
FRAME_IDS = {spec.modality: spec.frame_id for spec in SENSORS}
GROUND_TRUTH_FRAME = "camera_depth_optical_frame"
RIG_FILE = RIG_FILENAME
TYPESTORE = get_typestore(Stores.ROS2_KILTED)


def _qos(durability: QosDurability, depth: int) -> Qos:
    zero = QosTime(0, 0)
    return Qos(QosHistory.KEEP_LAST, depth, QosReliability.RELIABLE, durability, zero, zero,
               QosLiveliness.AUTOMATIC, zero, False)


@dataclass
class ConversionStats:
    messages: dict[str, int] = field(default_factory=dict)
    absent: dict[str, dict[str, int]] = field(default_factory=dict)  # topic → reason → count
    sequences: int = 0
    frames: int = 0
    seconds: float = 0.0
    bytes: int = 0

    def count_absent(self, topic: str, reason: str) -> None:
        reasons = self.absent.setdefault(topic, {})
        reasons[reason] = reasons.get(reason, 0) + 1


# ---------------------------------------------------------------------------------------------
# One frame → messages


def _keypoints(raw: np.ndarray, header) -> object:
    kp = np.asarray(raw, dtype=np.float64)
    conf = kp[:, 2] if kp.shape[1] == 3 else np.ones(len(kp))
    return numpy_to_posearray(np.column_stack([kp[:, 0], kp[:, 1], conf]), header)


def _csi(raw: np.ndarray, header) -> object:
    # Raw CSIamp, antenna-major rows (ros2-conventions.md §5.3); inf handling is the node's preprocessing.
    antennas, subcarriers, packets = np.shape(raw)
    return numpy_to_image(np.asarray(raw, np.float32).reshape(antennas * subcarriers, packets), "32FC1", header)


ENCODERS: dict[str, Callable[[np.ndarray, object], object]] = {
    "rgb": _keypoints,
    "depth": lambda raw, header: numpy_to_image(raw, "16UC1", header),
    "mmwave": lambda raw, header: numpy_to_pointcloud2(raw, RADAR_FIELDS, header),
    "lidar": lambda raw, header: numpy_to_pointcloud2(raw, LIDAR_FIELDS, header),
    "wifi-csi": _csi,
}


def ros_type_name(cls: type) -> str:
    """rclpy message class → ``pkg/msg/Type``."""
    return f"{cls.__module__.split('.')[0]}/msg/{cls.__name__}"


def topic_of(modality: str) -> str:
    return "/" + SENSOR_BY_MODALITY[modality].topic


# ---------------------------------------------------------------------------------------------
# Rig → /tf_static


def yaml_transforms(rig_file: Path) -> list[dict]:
    """A rig YAML's transforms (config/rig.yaml's form) as (parent, child, xyz, xyzw)."""
    return [edge.describe() for edge in read_rig(rig_file)]


def rig_transforms(root: Path, environment: str, default_rig: Path | None) -> list[dict]:
    """Transforms (parent, child, xyz, quaternion xyzw) of the rig: the generated tree's own rig for
    ``environment`` when present, else ``default_rig`` (config/rig.yaml), else none."""
    rig_file = root / RIG_FILE
    if rig_file.is_file():
        return ros_transforms(yaml.safe_load(rig_file.read_text())["rig"]["environments"][environment])
    if default_rig is not None and default_rig.is_file():
        return yaml_transforms(default_rig)
    return []


def rig_cameras(root: Path, environment: str) -> dict[str, dict]:
    """Modality → the intrinsics (width, height, fx, fy, cx, cy) of its camera in the generated tree's rig
    for ``environment``; {} for a tree without a rig file (the real MM-Fi publishes none)."""
    rig_file = root / RIG_FILE
    if not rig_file.is_file():
        return {}
    intrinsics = yaml.safe_load(rig_file.read_text())["rig"]["environments"][environment].get("intrinsics", {})
    return {m: intrinsics[FRAME_IDS[m]] for m in ("rgb", "depth") if FRAME_IDS[m] in intrinsics}


def camera_info_message(camera: dict, header) -> CameraInfo:
    """A rectified pinhole camera's CameraInfo (no distortion; P = K with no baseline)."""
    fx, fy, cx, cy = (float(camera[k]) for k in ("fx", "fy", "cx", "cy"))
    return CameraInfo(header=header, width=int(camera["width"]), height=int(camera["height"]),
                      distortion_model="plumb_bob", d=[0.0] * 5,
                      k=[fx, 0.0, cx, 0.0, fy, cy, 0.0, 0.0, 1.0], r=[1.0, 0.0, 0.0, 0.0, 1.0, 0.0, 0.0, 0.0, 1.0],
                      p=[fx, 0.0, cx, 0.0, 0.0, fy, cy, 0.0, 0.0, 0.0, 1.0, 0.0])


def tf_static_message(transforms: list[dict], stamp_ns: int) -> bytes:
    t = TYPESTORE.types
    sec, nanosec = divmod(stamp_ns, 10**9)
    items = [
        t["geometry_msgs/msg/TransformStamped"](
            header=t["std_msgs/msg/Header"](stamp=t["builtin_interfaces/msg/Time"](sec=sec, nanosec=nanosec),
                                            frame_id=tr["parent"]),
            child_frame_id=tr["child"],
            transform=t["geometry_msgs/msg/Transform"](
                translation=t["geometry_msgs/msg/Vector3"](x=float(tr["xyz"][0]), y=float(tr["xyz"][1]), z=float(tr["xyz"][2])),
                rotation=t["geometry_msgs/msg/Quaternion"](x=float(tr["xyzw"][0]), y=float(tr["xyzw"][1]),
                                                           z=float(tr["xyzw"][2]), w=float(tr["xyzw"][3])),
            ),
        )
        for tr in transforms
    ]
    return bytes(TYPESTORE.serialize_cdr(t["tf2_msgs/msg/TFMessage"](transforms=items), "tf2_msgs/msg/TFMessage"))


# ---------------------------------------------------------------------------------------------
# The conversion


def convert(
    root: str | Path,
    out: str | Path,
    sequences: Sequence[tuple[str, str]],
    *,
    modalities: Sequence[str] = ("rgb", "depth", "mmwave", "lidar", "wifi-csi"),
    storage: str = "mcap",
    version: int = 9,
    frame_period_s: float = DEFAULT_FRAME_PERIOD_S,
    start_ns: int = DEFAULT_START_NS,
    ground_truth: bool = True,
    tf_static: bool = True,
    default_rig: Path | None = None,
    lenient: bool = False,
    progress: bool = True,
) -> ConversionStats:
    """Write the given (subject, action) sequences of an MM-Fi tree into one bag at ``out``.

    Raises:
        FileExistsError: ``out`` exists (bags are never overwritten).
        ValueError: an unknown storage, version or modality; no sequence of the list on disk.
        DataFormatError: a corrupt file (unless ``lenient``), naming it.
    """
    root, out = Path(root), Path(out)
    if storage not in STORAGES:
        raise ValueError(f"unknown storage {storage!r}; known: {sorted(STORAGES)}")
    if version not in (8, 9):
        raise ValueError("bag version must be 8 (Humble) or 9 (Jazzy and later)")
    unknown = [m for m in modalities if m not in ENCODERS]
    if unknown:
        raise ValueError(f"modalities {unknown} have no ROS topic; known: {sorted(ENCODERS)}")
    if not frame_period_s > 0:
        raise ValueError("frame period must be positive")
    if out.exists():
        raise FileExistsError(f"{out} exists; bags are never overwritten")
    # Written as <parent>/.<name>.partial/<name> (rosbags names the storage file after the folder)
    # and moved into place when complete.
    staging = out.with_name(f".{out.name}.partial")
    shutil.rmtree(staging, ignore_errors=True)  # the leftover of an interrupted conversion
    staging.mkdir(parents=True)
    partial = staging / out.name
    stats, read_stats = ConversionStats(), ReadStats()
    started = time.perf_counter()
    listings = list(mmfi.scan_sequences(root, sequences, modalities, lenient=lenient, stats=read_stats))
    if not listings:
        raise ValueError(f"none of the {len(sequences)} requested sequences is on disk under {root}")
    writer = Writer(partial, version=version, storage_plugin=STORAGES[storage])
    writer.set_custom_data("pta_ros.source", str(root.resolve()))
    writer.set_custom_data("pta_ros.frame_period_s", repr(frame_period_s))
    writer.set_custom_data("pta_ros.sequences", ",".join(f"{s.subject}/{s.action}" for s in listings))
    sensor_qos = _qos(QosDurability.VOLATILE, 10)
    try:
        writer.open()
        connections = {
            m: writer.add_connection(topic_of(m), ros_type_name(SENSOR_BY_MODALITY[m].msg_type),
                                     typestore=TYPESTORE, offered_qos_profiles=[sensor_qos])
            for m in modalities
        }
        gt_conn = (writer.add_connection(GROUND_TRUTH_TOPIC, "geometry_msgs/msg/PoseArray", typestore=TYPESTORE,
                                         offered_qos_profiles=[sensor_qos]) if ground_truth else None)
        tf_conn = (writer.add_connection(TF_STATIC_TOPIC, "tf2_msgs/msg/TFMessage", typestore=TYPESTORE,
                                         offered_qos_profiles=[_qos(QosDurability.TRANSIENT_LOCAL, 1)])
                   if tf_static else None)
        # Each camera's intrinsics beside its topic (image_transport naming), where the tree's rig has them.
        info_conns = {m: writer.add_connection(camera_info_topic(topic_of(m)), "sensor_msgs/msg/CameraInfo",
                                               typestore=TYPESTORE, offered_qos_profiles=[sensor_qos])
                      for m in ("rgb", "depth") if m in modalities and (root / RIG_FILE).is_file()}
        total = sum(listing.num_frames for listing in listings)
        bar = tqdm(total=total, unit="frame", desc="mmfi→bag", disable=not progress)
        seq_start = start_ns
        for listing in listings:
            if tf_conn is not None:
                transforms = rig_transforms(root, listing.environment, default_rig)
                if transforms:
                    writer.write(tf_conn, seq_start, tf_static_message(transforms, seq_start))
            cameras = rig_cameras(root, listing.environment) if info_conns else {}
            for frame in mmfi.iter_frames(root, [(listing.subject, listing.action)], modalities, lenient=lenient):
                stamp = seq_start + int(round((frame.frame - 1) * frame_period_s * 1e9))
                for modality, camera in cameras.items():
                    info = camera_info_message(camera, make_header(stamp, FRAME_IDS[modality]))
                    writer.write(info_conns[modality], stamp, serialize_message(info))
                for modality in modalities:
                    topic = topic_of(modality)
                    raw = frame.raw[modality]
                    if raw is None:
                        stats.count_absent(topic, frame.absent.get(modality, "missing"))
                        continue
                    msg = ENCODERS[modality](raw, make_header(stamp, FRAME_IDS[modality]))
                    data = serialize_message(msg)
                    writer.write(connections[modality], stamp, data)
                    stats.messages[topic] = stats.messages.get(topic, 0) + 1
                    stats.bytes += len(data)
                if gt_conn is not None:
                    data = serialize_message(numpy_to_posearray(frame.pose, make_header(stamp, GROUND_TRUTH_FRAME)))
                    writer.write(gt_conn, stamp, data)
                    stats.messages[GROUND_TRUTH_TOPIC] = stats.messages.get(GROUND_TRUTH_TOPIC, 0) + 1
                stats.frames += 1
                bar.update()
            stats.sequences += 1
            seq_start += int(round((listing.num_frames * frame_period_s + SEQUENCE_GAP_S) * 1e9))
        bar.close()
        writer.close()
    except BaseException:
        with contextlib.suppress(Exception):  # already closed or never opened: nothing more to undo
            writer.abort()
        shutil.rmtree(staging, ignore_errors=True)
        raise
    partial.rename(out)
    staging.rmdir()
    stats.seconds = time.perf_counter() - started
    log.info("wrote %s: %d sequences, %d frames, %s", out, stats.sequences, stats.frames, stats.messages)
    return stats


# ---------------------------------------------------------------------------------------------
# Command line


def parse_ids(text: str | None, prefix: str, known: Sequence[str]) -> list[str]:
    if not text or text == "all":
        return list(known)
    ids = [item.strip() for item in text.split(",") if item.strip()]
    bad = [i for i in ids if i not in known]
    if bad:
        raise ValueError(f"unknown {prefix} ids {bad}")
    return ids


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="mmfi_to_bag",
        description="Convert MM-Fi sequences (real or generated) into one rosbag2 for replay.",
        epilog=f"Stamps: frame k of sequence i at start + i*(T*period + {SEQUENCE_GAP_S:g} s) + (k-1)*period. "
        "Humble: --storage sqlite3 --version 8.",
    )
    parser.add_argument("root", help="MM-Fi root (holds E01..E04)")
    parser.add_argument("out", help="bag directory to create (must not exist)")
    parser.add_argument("--subjects", default="all", help="comma-separated subject ids (default: all on disk)")
    parser.add_argument("--actions", default="all", help="comma-separated action ids (default: all)")
    parser.add_argument("--modalities", default=",".join(ENCODERS), help="comma-separated (default: all five)")
    parser.add_argument("--storage", choices=sorted(STORAGES), default="mcap")
    parser.add_argument("--version", type=int, choices=(8, 9), default=9, help="8 for Humble, 9 for Jazzy+")
    parser.add_argument("--frame-period", type=float, default=DEFAULT_FRAME_PERIOD_S, help="seconds per frame (0.1)")
    parser.add_argument("--no-ground-truth", action="store_true", help=f"omit {GROUND_TRUTH_TOPIC}")
    parser.add_argument("--no-tf", action="store_true", help=f"omit {TF_STATIC_TOPIC}")
    parser.add_argument("--rig", type=Path, help="rig YAML for /tf_static when the tree has no rig file")
    parser.add_argument("--lenient", action="store_true", help="skip and count corrupt files")
    parser.add_argument("--no-progress", action="store_true")
    return parser


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(levelname)s %(name)s: %(message)s")
    try:
        subjects = parse_ids(args.subjects, "subject", mmfi.MMFI_SUBJECTS)
        actions = parse_ids(args.actions, "action", mmfi.MMFI_ACTION_IDS)
        stats = convert(
            args.root, args.out, [(s, a) for s in subjects for a in actions],
            modalities=[m for m in args.modalities.split(",") if m],
            storage=args.storage, version=args.version, frame_period_s=args.frame_period,
            ground_truth=not args.no_ground_truth, tf_static=not args.no_tf, default_rig=args.rig,
            lenient=args.lenient, progress=not args.no_progress,
        )
    except (ValueError, OSError) as err:  # DataFormatError is a ValueError
        print(f"mmfi_to_bag: {err}", file=sys.stderr)
        return 2
    size = sum(p.stat().st_size for p in Path(args.out).rglob("*") if p.is_file())
    print(f"{args.out}: {stats.sequences} sequences, {stats.frames} frames, {sum(stats.messages.values())} messages, "
          f"{size / 1e6:.1f} MB in {stats.seconds:.1f} s ({stats.frames / max(stats.seconds, 1e-9):.0f} frames/s)")
    for topic, reasons in sorted(stats.absent.items()):
        print(f"  {topic}: missing messages {reasons}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
