"""Sensor rigs: where each sensor sits (extrinsics), camera intrinsics, room geometry, radio parameters.

Rig frame: x forward (away from the sensors), y left, z up, origin on the floor below the camera,
metres. A sensor frame's pose maps its coordinates into the rig: ``p_rig = R @ p_sensor + t``.
Optical frames follow the camera convention (x right, y down, z forward). Placements are plausible
for the MM-Fi hardware (RealSense-like camera, Ouster-like 32-beam LiDAR, TI IWR6843 radar, a pair
of Atheros Wi-Fi routers), not measured: each environment gets its own room and small offsets, so
cross-environment splits see a real domain shift.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from pta_core.camera import Pinhole
from pta_core.simulator.geometry import quaternion_xyzw, rot_y, rot_z

# Columns are the optical axes (x right, y down, z forward) in a body frame (x forward, y left, z up).
OPTICAL = np.array([[0.0, 0.0, 1.0], [-1.0, 0.0, 0.0], [0.0, -1.0, 0.0]])
SPEED_OF_LIGHT = 299_792_458.0


@dataclass(frozen=True)
class Frame:
    """A sensor's pose in the rig frame."""

    name: str
    rotation: np.ndarray  # (3, 3)
    translation: np.ndarray  # (3,)

    def from_rig(self, points: np.ndarray) -> np.ndarray:
        """Rig-frame points (..., 3) → this frame."""
        return (points - self.translation) @ self.rotation

    def to_rig(self, points: np.ndarray) -> np.ndarray:
        return points @ self.rotation.T + self.translation

    def describe(self) -> dict:
        return {
            "parent": "rig",
            "translation": [round(float(x), 6) for x in self.translation],
            "rotation_xyzw": [round(float(x), 9) for x in quaternion_xyzw(self.rotation)],
            "matrix": [[round(float(x), 9) for x in row] for row in self.rotation],
        }


def make_frame(name: str, position, yaw: float = 0.0, pitch: float = 0.0, optical: bool = False) -> Frame:
    """A frame at ``position`` turned by ``yaw`` (left +) and tilted down by ``pitch`` (rad)."""
    rot = rot_z(yaw) @ rot_y(pitch)
    if optical:
        rot = rot @ OPTICAL
    return Frame(name, rot, np.asarray(position, dtype=np.float64))


Intrinsics = Pinhole  # the simulator's cameras (pta_core.camera)


@dataclass(frozen=True)
class Room:
    """Axis-aligned room planes in the rig frame: floor z=0, back wall x=back, side walls y=±half_width."""

    back: float
    half_width: float
    ceiling: float
    furniture: np.ndarray  # (K, 3) static reflectors (radar clutter, Wi-Fi static paths)

    def describe(self) -> dict:
        return {
            "floor_z": 0.0,
            "back_wall_x": self.back,
            "side_walls_y": [self.half_width, -self.half_width],
            "ceiling_z": self.ceiling,
            "static_reflectors": [[round(float(x), 4) for x in p] for p in self.furniture],
        }


@dataclass(frozen=True)
class WifiRadio:
    """OFDM link: transmitter, receive antennas, subcarrier frequencies."""

    center_hz: float
    spacing_hz: float
    subcarriers: np.ndarray  # (K,) integer subcarrier indices
    tx: np.ndarray  # (3,) rig frame
    rx: np.ndarray  # (A, 3) receive antennas, rig frame

    @property
    def frequencies(self) -> np.ndarray:
        return self.center_hz + self.spacing_hz * self.subcarriers

    def describe(self) -> dict:
        return {
            "center_frequency_hz": self.center_hz,
            "subcarrier_spacing_hz": self.spacing_hz,
            "subcarrier_indices": [int(k) for k in self.subcarriers],
            "tx_antenna": [round(float(x), 4) for x in self.tx],
            "rx_antennas": [[round(float(x), 4) for x in a] for a in self.rx],
        }


# 802.11n HT40 data/pilot subcarriers reported by the Atheros CSI tool: -58..-2 and 2..58 (114).
HT40_SUBCARRIERS = np.concatenate([np.arange(-58, -1), np.arange(2, 59)])


@dataclass(frozen=True)
class MMFiRig:
    environment: str
    room: Room
    camera: Frame  # depth camera = infra1 = ground-truth frame
    rgb: Frame
    infra2: Frame
    lidar: Frame
    radar: Frame
    depth_intrinsics: Intrinsics
    rgb_intrinsics: Intrinsics
    wifi: WifiRadio
    frame_period: float
    # Where sequences happen: person's standing spot x, y ranges (rig frame, m).
    spot_x: tuple[float, float]
    spot_y: tuple[float, float]

    def describe(self) -> dict:
        frames = (self.camera, self.rgb, self.infra2, self.lidar, self.radar)
        return {
            "room": self.room.describe(),
            "frames": {f.name: f.describe() for f in frames},
            "intrinsics": {
                self.camera.name: self.depth_intrinsics.describe(),
                self.infra2.name: self.depth_intrinsics.describe(),
                self.rgb.name: self.rgb_intrinsics.describe(),
            },
            "wifi": self.wifi.describe(),
            "person_spot": {"x": list(self.spot_x), "y": list(self.spot_y)},
        }


ENVIRONMENTS = ("E01", "E02", "E03", "E04")

# Per-environment differences: room size, camera height and tilt, Wi-Fi link placement, furniture.
_ENV = {
    "E01": {"back": 5.5, "half": 3.0, "ceil": 2.8, "cam_h": 1.0, "tilt": 0.05, "wifi_x": 3.1, "furn": [(4.8, 2.2, 0.8)]},
    "E02": {"back": 6.0, "half": 2.6, "ceil": 3.0, "cam_h": 1.05, "tilt": 0.06, "wifi_x": 2.9, "furn": [(5.2, -1.8, 0.9), (1.0, 2.2, 0.7)]},
    "E03": {"back": 5.0, "half": 3.3, "ceil": 2.7, "cam_h": 0.95, "tilt": 0.04, "wifi_x": 3.3, "furn": [(4.4, 2.8, 1.0)]},
    "E04": {"back": 6.5, "half": 2.8, "ceil": 3.2, "cam_h": 1.1, "tilt": 0.07, "wifi_x": 3.0, "furn": [(5.5, 0.0, 1.1), (2.0, -2.3, 0.8)]},
}  # fmt: skip


def mmfi_rig(environment: str, frame_period: float = 0.1) -> MMFiRig:
    """The rig of an MM-Fi environment ``E01``-``E04``."""
    if environment not in _ENV:
        raise ValueError(f"unknown MM-Fi environment {environment!r}; known: {', '.join(ENVIRONMENTS)}")
    e = _ENV[environment]
    h = e["cam_h"]
    camera = make_frame("camera_depth_optical_frame", (0.0, 0.0, h), pitch=e["tilt"], optical=True)
    # RealSense-like layout: infra1 = depth origin, infra2 50 mm to its right, colour 15 mm to its right.
    right = camera.rotation[:, 0]
    rgb = Frame("camera_color_optical_frame", camera.rotation, camera.translation + 0.015 * right)
    infra2 = Frame("camera_infra2_optical_frame", camera.rotation, camera.translation + 0.05 * right)
    lidar = make_frame("lidar", (-0.1, 0.4, 0.9), yaw=-0.13)
    radar = make_frame("radar", (0.0, -0.3, h), yaw=0.1, pitch=0.03)
    wx = e["wifi_x"]
    rx = np.array(
        [
            [wx - 0.028, -e["half"] + 0.3, 1.0],
            [wx, -e["half"] + 0.3, 1.0],
            [wx + 0.028, -e["half"] + 0.3, 1.0],
        ]
    )
    wifi = WifiRadio(5.32e9, 312.5e3, HT40_SUBCARRIERS, np.array([wx, e["half"] - 0.3, 1.0]), rx)
    return MMFiRig(
        environment=environment,
        room=Room(e["back"], e["half"], e["ceil"], np.array(e["furn"], dtype=np.float64)),
        camera=camera,
        rgb=rgb,
        infra2=infra2,
        lidar=lidar,
        radar=radar,
        depth_intrinsics=Intrinsics(640, 480, 420.0, 420.0, 319.5, 239.5),
        rgb_intrinsics=Intrinsics(640, 480, 460.0, 460.0, 319.5, 239.5),
        wifi=wifi,
        frame_period=frame_period,
        spot_x=(2.6, 3.6),
        spot_y=(-0.4, 0.4),
    )


def wavelength(frequency_hz: float | np.ndarray) -> float | np.ndarray:
    return SPEED_OF_LIGHT / frequency_hz


@dataclass(frozen=True)
class XRF55Rig:
    """XRF55-like scene: radar in front of the person, one Wi-Fi transmitter and three 3-antenna
    receivers around them, an RFID reader antenna in front and 23 tags on a board behind them."""

    scene: str
    room: Room
    radar: Frame
    wifi: WifiRadio  # rx: (9, 3), receiver-major (3 receivers × 3 antennas)
    rfid_reader: np.ndarray  # (3,)
    rfid_tags: np.ndarray  # (23, 3)
    rfid_hz: float
    spot_x: tuple[float, float]
    spot_y: tuple[float, float]

    def describe(self) -> dict:
        return {
            "room": self.room.describe(),
            "frames": {self.radar.name: self.radar.describe()},
            "wifi": self.wifi.describe(),
            "rfid": {
                "frequency_hz": self.rfid_hz,
                "reader_antenna": [round(float(x), 4) for x in self.rfid_reader],
                "tags": [[round(float(x), 4) for x in t] for t in self.rfid_tags],
            },
            "person_spot": {"x": list(self.spot_x), "y": list(self.spot_y)},
        }


# Intel 5300 reports 30 subcarrier groups; for HT40 with grouping 4: -58, -54, ..., -2, 2, ..., 58.
INTEL5300_SUBCARRIERS = np.concatenate([np.arange(-58, -1, 4), np.arange(2, 59, 4)])
_SCENES = {
    "Scene1": {"back": 4.5, "half": 2.5, "ceil": 2.8, "shift": 0.0},
    "Scene2": {"back": 5.0, "half": 3.0, "ceil": 3.0, "shift": 0.1},
    "Scene3": {"back": 4.2, "half": 2.2, "ceil": 2.7, "shift": -0.1},
    "Scene4": {"back": 5.5, "half": 3.2, "ceil": 3.2, "shift": 0.2},
}


def xrf55_rig(scene: str) -> XRF55Rig:
    if scene not in _SCENES:
        raise ValueError(f"unknown XRF55 scene {scene!r}; known: {', '.join(_SCENES)}")
    e = _SCENES[scene]
    s = e["shift"]
    spacing = wavelength(5.64e9) / 2
    receivers = np.array([[3.2, -1.4 + s, 1.0], [3.2, 1.4 + s, 1.0], [0.2, -1.4, 1.0]])
    rx = np.concatenate([r + np.outer(np.arange(-1, 2), [spacing, 0.0, 0.0]) for r in receivers])
    tags = []
    for row, count in enumerate((5, 4, 5, 4, 5)):
        ys = np.linspace(-0.8, 0.8, 5)[:count] + (0.2 if count == 4 else 0.0)
        tags += [[3.3 + s, y, 0.4 + 0.35 * row] for y in ys]
    return XRF55Rig(
        scene=scene,
        room=Room(e["back"], e["half"], e["ceil"], np.array([[e["back"] - 0.4, e["half"] - 0.5, 0.8]])),
        radar=make_frame("radar", (0.0, 0.0, 1.0)),
        wifi=WifiRadio(5.64e9, 312.5e3, INTEL5300_SUBCARRIERS, np.array([0.2, 1.4 + s, 1.0]), rx),
        rfid_reader=np.array([0.3, 0.0, 1.3]),
        rfid_tags=np.array(tags),
        rfid_hz=922.38e6,
        spot_x=(1.8 + s, 2.4 + s),
        spot_y=(-0.3, 0.3),
    )
