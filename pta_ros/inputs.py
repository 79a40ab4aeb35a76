"""The node's input sensors: topic, message type, modality and the decoder to the modality's raw array.

Decoders only turn a message into the raw sample the modality's shared preprocessing expects
(``pta_core.modalities``); every validity decision on the *content* (keypoint count, empty or
non-finite clouds, CSI packets without a finite value) stays in that one preprocessing path.
Decoders raise :class:`~pta_core.errors.InvalidInput` for messages that cannot be decoded.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import numpy as np
from geometry_msgs.msg import PoseArray
from sensor_msgs.msg import Image, PointCloud2

from pta_core.errors import InvalidInput
from pta_core.modalities.wifi_csi import ANTENNAS, PACKETS, SUBCARRIERS
from pta_ros.conversions import image_to_numpy, pointcloud2_to_numpy, posearray_to_numpy

RADAR_FIELDS = ("x", "y", "z", "velocity", "intensity")
# A Doppler field a radar driver does not publish is read as 0 m/s: every point static. Its cost is
# measured (bench/radar_without_doppler.py, docs/RESULTS.md); a missing intensity has no neutral value
# and is rejected for a model that reads it.
RADAR_FILL = {"velocity": 0.0}
LIDAR_FIELDS = ("x", "y", "z")
DEPTH_ENCODINGS = ("16UC1", "mono16", "32FC1")
CSI_ENCODINGS = ("32FC1",)


@dataclass(frozen=True)
class DecodeOptions:
    max_points: int = 100_000  # clouds with more points are rejected before decoding
    csi_layout: str = "antenna_major"  # rows: antennas × subcarriers, antenna by antenna (or subcarrier_major)
    radar_features: tuple[str, ...] = ("velocity", "intensity")  # what the model reads besides x, y, z
    csi_shape: tuple[int, int, int] = (ANTENNAS, SUBCARRIERS, PACKETS)  # the model's NIC layout


def decode_keypoints(msg: PoseArray, options: DecodeOptions) -> np.ndarray:
    """PoseArray → (N, 3): pixel x, pixel y, confidence (the preprocessing requires N = 17)."""
    return posearray_to_numpy(msg)


def decode_depth(msg: Image, options: DecodeOptions) -> np.ndarray:
    """Image 16UC1/mono16 (sensor units) → uint16 (H, W); 32FC1 (metres) → float32 (H, W)."""
    return image_to_numpy(msg, accept=DEPTH_ENCODINGS)


def decode_radar(msg: PointCloud2, options: DecodeOptions) -> np.ndarray:
    """PointCloud2 → (N, 5) float32 x, y, z, velocity, intensity, read by field name (any order, padding
    or point step). x, y, z and the model's ``radar_features`` must be there, except a Doppler field a
    driver does not publish (``ti_mmwave_rospkg``'s ``radar_scan_pcl``): the no-Doppler path reads every
    point as static (:data:`RADAR_FILL`, :func:`radar_note` says so). A field the model does not read
    may be missing and is NaN; no other field is ever read in a missing one's place.

    Raises:
        InvalidInput: ``fields`` naming the missing fields the model needs, and those of
            :func:`~pta_ros.conversions.pointcloud2_to_numpy`.
    """
    names = {field.name for field in msg.fields}
    needed = ("x", "y", "z", *(f for f in options.radar_features if f not in RADAR_FILL))
    missing = [name for name in needed if name not in names]
    if missing:
        raise InvalidInput("fields", f"cloud lacks field(s) {missing} the model reads; it has {sorted(names)}")
    columns = [name for name in RADAR_FIELDS if name in names]
    values = pointcloud2_to_numpy(msg, columns, max_points=options.max_points)
    if len(columns) == len(RADAR_FIELDS):
        return values
    out = np.full((len(values), len(RADAR_FIELDS)), np.nan, dtype=np.float32)
    out[:, [RADAR_FIELDS.index(name) for name in columns]] = values
    for name in options.radar_features:
        if name not in names:
            out[:, RADAR_FIELDS.index(name)] = RADAR_FILL[name]
    return out


def radar_note(msg: PointCloud2, options: DecodeOptions) -> str:
    """What the node should say once about a radar cloud's layout ("" when nothing)."""
    names = {field.name for field in msg.fields}
    filled = [name for name in options.radar_features if name not in names and name in RADAR_FILL]
    return ", ".join(f"no {name} field: read as {RADAR_FILL[name]:g} (the no-Doppler path)" for name in filled)


def decode_lidar(msg: PointCloud2, options: DecodeOptions) -> np.ndarray:
    """PointCloud2 with x, y, z → (N, 3) float32."""
    return pointcloud2_to_numpy(msg, LIDAR_FIELDS, max_points=options.max_points)


def decode_csi(msg: Image, options: DecodeOptions) -> np.ndarray:
    """Image 32FC1, antennas × subcarriers rows, packets columns → CSI amplitude (antennas, subcarriers,
    packets), the layout the model declares (``csi_shape``; MM-Fi's 3 × 114 × 10: a 342 × 10 image).

    Raises:
        InvalidInput: ``shape`` naming both shapes when the image is not the model's (never reshaped to
            fit), and those of ``image_to_numpy``.
    """
    antennas, subcarriers, packets = options.csi_shape
    image = image_to_numpy(msg, accept=CSI_ENCODINGS)
    if image.shape != (antennas * subcarriers, packets):
        raise InvalidInput("shape", f"CSI image is {image.shape[0]}×{image.shape[1]}; the model reads {antennas} "
                                    f"antennas × {subcarriers} subcarriers × {packets} packets, a "
                                    f"{antennas * subcarriers}×{packets} image")
    if options.csi_layout == "subcarrier_major":
        return image.reshape(subcarriers, antennas, packets).transpose(1, 0, 2).copy()
    return image.reshape(antennas, subcarriers, packets)


@dataclass(frozen=True)
class SensorSpec:
    key: str  # parameter-friendly name (frame_ids.<key>)
    modality: str  # the model's modality name
    topic: str  # relative, remappable
    msg_type: type
    decode: Callable[[Any, DecodeOptions], np.ndarray]
    frame_id: str  # the conventional frame (config/rig.yaml); the node's default expectation
    argument: str  # the launch argument (and pta_bringup option) that remaps the topic
    # Something about a message's layout to say once (a radar without Doppler): "" when nothing.
    note: Callable[[Any, DecodeOptions], str] | None = None
    # The model camera whose intrinsics the input is brought to ("depth", "rgb"; pta_ros.intrinsics), from
    # the camera_info topic beside it; "" for an input that is no camera's.
    camera: str = ""
    # A cloud's points can be re-expressed in the model's frame (pta_ros.frames); an image, keypoints
    # or CSI only come from the model's own frame (or one the transforms make identical to it).
    movable: bool = False


SENSORS: tuple[SensorSpec, ...] = (
    SensorSpec("camera", "rgb", "camera/keypoints", PoseArray, decode_keypoints, "camera_color_optical_frame",
               "camera_topic", camera="rgb"),
    SensorSpec("depth", "depth", "depth/image_raw", Image, decode_depth, "camera_depth_optical_frame", "depth_topic",
               camera="depth"),
    SensorSpec("radar", "mmwave", "radar/points", PointCloud2, decode_radar, "radar_link", "radar_topic",
               note=radar_note, movable=True),
    SensorSpec("lidar", "lidar", "lidar/points", PointCloud2, decode_lidar, "lidar_link", "lidar_topic",
               movable=True),
    SensorSpec("wifi", "wifi-csi", "wifi/csi", Image, decode_csi, "wifi_rx_link", "csi_topic"),
)
SENSOR_BY_MODALITY = {spec.modality: spec for spec in SENSORS}


def camera_info_topic(image_topic: str) -> str:
    """The camera_info topic beside an image topic (image_transport naming): ``/ns/depth/image_raw`` →
    ``/ns/depth/camera_info``."""
    parent = image_topic.rstrip("/").rpartition("/")[0]
    return f"{parent}/camera_info" if parent or image_topic.startswith("/") else "camera_info"
