"""The generated tree's description file: sensor rig, coordinate conventions and generator settings.

It lives at ``<root>/.synthetic_rig.yaml``. The name starts with a dot because the official MM-Fi
toolbox lists every non-hidden entry of the root as an environment directory and crashes on a
file (mmfi.py ``MMFi_Database.load_database``). A rerun into the same root must use the same
content settings (seed, frames, contamination...): it then skips finished items, so an
interrupted run can simply be repeated; other settings are refused instead of mixing two sets.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import yaml

from pta_core.io import atomic_write_text
from pta_core.simulator.spec import SpecError

RIG_FILENAME = ".synthetic_rig.yaml"
FORMAT_VERSION = 3  # bump whenever the same settings would produce different files (3: fixed LiDAR region)

MMFI_CONVENTIONS = {
    "rig_frame": "x forward (away from the sensors), y left, z up; origin on the floor below the camera; metres",
    "sensor_frames": "p_rig = matrix @ p_sensor + translation; optical frames: x right, y down, z forward",
    "ground_truth.npy": (
        "(frames, 17, 3) float64 metres, H36M-17 order (pta_core.skeleton), in camera_depth_optical_frame: "
        "x right, y down (MM-Fi's 'inverted y'), z forward"
    ),
    "rgb|infra1|infra2": (
        "(17, 2) float64 COCO-17 pixels (u right, v down) of camera_color_optical_frame / "
        "camera_depth_optical_frame (infra1) / camera_infra2_optical_frame; (0, 0) rows = detector failure"
    ),
    "depth": "480x640 uint16 PNG, millimetres along the optical axis of camera_depth_optical_frame; 0 = no reading",
    "lidar": "float64 N x 3 (x, y, z) metres in frame lidar, cropped to a fixed region of interest around the standing area, "
        "ground removed (returns above 0.08 m); 0 bytes = empty",
    "mmwave": (
        "float64 N x 5 in frame radar: x, y, z (m), radial velocity (m/s, + = moving away), "
        "intensity (dB, SNR-like); 0 bytes = no detection"
    ),
    "wifi-csi": (
        "MAT v5: CSIamp (3, 114, 10) = rx antennas x HT40 subcarriers x packets, dB (20 log10 |H| + gain; "
        "-inf = zero reading); CSIphase same shape, raw phase in rad (-pi, pi], with per-packet CFO/SFO"
    ),
}

XRF55_CONVENTIONS = {
    "files": "<Scene>/<WiFi|RFID|mmWave>/<volunteer>_<class>_<repetition>.npy; 5 s per sample; float32 (documented)",
    "WiFi": "(270, 1000) float32 linear CSI amplitude: 3 receivers x 3 antennas x 30 subcarriers (receiver-major) x 200 packets/s",
    "RFID": "(23, 148) float32 backscatter phase of 23 tags in rad [0, 2 pi), 30 reads/s",
    "mmWave": "(1, 17, 256, 128) float32 range-Doppler maps in dB: 17 frames x 256 range bins x 128 Doppler bins",
}


def ensure_manifest(root: Path, dataset: str, generator: dict[str, Any], rig: dict[str, Any]) -> None:
    """Write the description file, or check that an existing one matches ``generator``.

    Raises:
        SpecError: the root holds another synthetic set (different settings) or foreign data.
    """
    path = root / RIG_FILENAME
    doc = {
        "format": "pta_ros synthetic dataset",
        "version": FORMAT_VERSION,
        "dataset": dataset,
        "generator": generator,
        "conventions": MMFI_CONVENTIONS if dataset == "mmfi" else XRF55_CONVENTIONS,
        "rig": rig,
    }
    if path.exists():
        try:
            old = yaml.safe_load(path.read_text())
        except (OSError, yaml.YAMLError) as err:
            raise SpecError(f"{path}: unreadable ({err}); remove it or write to another directory") from err
        if not isinstance(old, dict):
            raise SpecError(f"{path}: not a generator description; write to another directory")
        for key in ("version", "dataset", "generator"):
            if old.get(key) != doc[key]:
                diff = _differences(old.get(key), doc[key])
                raise SpecError(
                    f"{root} was generated with other settings ({key}: {diff}); "
                    "use another output directory or delete it first"
                )
        return
    if root.exists() and any(not p.name.startswith(".") for p in root.iterdir()):
        raise SpecError(f"{root} is not empty and was not written by 'pta generate'; refusing to mix data")
    root.mkdir(parents=True, exist_ok=True)
    atomic_write_text(path, yaml.safe_dump(doc, sort_keys=False, width=120))


def read_manifest(root: Path) -> dict[str, Any]:
    """The description of a generated tree (raises SpecError when absent or unreadable)."""
    path = Path(root) / RIG_FILENAME
    try:
        doc = yaml.safe_load(path.read_text())
    except (OSError, yaml.YAMLError) as err:
        raise SpecError(f"{path}: cannot read the synthetic rig description: {err}") from err
    if not isinstance(doc, dict) or "rig" not in doc:
        raise SpecError(f"{path}: not a synthetic rig description")
    return doc


# The ROS names of a generated rig's frames (config/rig.yaml, the node's frame_ids): the rig frame and
# the sensor frames the node reads; the camera frames keep their names.
ROS_FRAME_NAMES = {"rig": "sensor_rig", "lidar": "lidar_link", "radar": "radar_link"}
ROS_SENSOR_FRAMES = ("camera_color_optical_frame", "camera_depth_optical_frame", "lidar_link", "radar_link")
WIFI_FRAME = "wifi_rx_link"


def ros_transforms(rig: dict) -> list[dict]:
    """One environment's rig description (``MMFiRig.describe()``) as the static transforms the node and
    bags use ({parent, child, xyz, xyzw}): the camera, LiDAR and radar frames as described, and the
    Wi-Fi receiver at its middle antenna, facing the transmitter."""
    transforms = [{"parent": "world", "child": "sensor_rig", "xyz": [0.0, 0.0, 0.0], "xyzw": [0.0, 0.0, 0.0, 1.0]}]
    for child, spec in rig["frames"].items():
        name = ROS_FRAME_NAMES.get(child, child)
        if name in ROS_SENSOR_FRAMES:
            transforms.append({"parent": ROS_FRAME_NAMES.get(spec["parent"], spec["parent"]), "child": name,
                               "xyz": list(spec["translation"]), "xyzw": list(spec["rotation_xyzw"])})
    rx = np.asarray(rig["wifi"]["rx_antennas"], dtype=np.float64)
    centre, tx = rx[len(rx) // 2], np.asarray(rig["wifi"]["tx_antenna"], dtype=np.float64)
    yaw = float(np.arctan2(tx[1] - centre[1], tx[0] - centre[0]))
    transforms.append({"parent": "sensor_rig", "child": WIFI_FRAME, "xyz": [round(float(v), 6) for v in centre],
                       "xyzw": [0.0, 0.0, float(np.sin(yaw / 2)), float(np.cos(yaw / 2))]})
    return transforms


def training_rig(root: Path) -> list[dict]:
    """The static transforms of the rig a generated tree was recorded with (its first environment, the
    one config/rig.yaml describes for the default seed), for the model card; [] for any other tree
    (the node then assumes config/rig.yaml)."""
    try:
        environments = read_manifest(root)["rig"].get("environments", {})
    except SpecError:
        return []
    return ros_transforms(environments[sorted(environments)[0]]) if environments else []


def _differences(old: Any, new: Any, prefix: str = "") -> str:
    if isinstance(old, dict) and isinstance(new, dict):
        parts = [
            _differences(old.get(k), new.get(k), f"{prefix}{k}.")
            for k in sorted(set(old) | set(new), key=str)
            if old.get(k) != new.get(k)
        ]
        return "; ".join(parts)
    return f"{prefix.rstrip('.') or 'value'} was {old!r}, now {new!r}"
