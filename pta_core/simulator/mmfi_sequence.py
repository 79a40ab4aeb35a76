"""One MM-Fi sequence: a subject's body doing an action in an environment, seen by every sensor.

The body is evaluated at the frame instants (ground truth, camera, depth, LiDAR), a few
milliseconds later (radar Doppler by finite differences) and at the Wi-Fi packet instants
(10 packets spread over each frame). Each modality draws from its own random stream, so
contaminating one modality leaves the others' bytes unchanged.
"""

from __future__ import annotations

import functools
from collections.abc import Iterator
from dataclasses import dataclass

import numpy as np

from pta_core.simulator.actions_mmfi import MMFI_ACTIONS
from pta_core.simulator.body import BodyShape, Placement, Pose, capsules, draw_body, forward_kinematics
from pta_core.simulator.motions import draw_variation, personal
from pta_core.simulator.render_csi import PACKETS, CsiRenderer
from pta_core.simulator.render_depth import DepthRenderer
from pta_core.simulator.render_keypoints import detect_keypoints
from pta_core.simulator.render_points import LidarRenderer, RadarRenderer
from pta_core.simulator.rig import MMFiRig, mmfi_rig
from pta_core.simulator.spec import (
    TAG_MMFI_BODY,
    TAG_MMFI_SEQUENCE,
    MMFiSpec,
    environment_of,
    seed_sequence,
    subject_number,
)

DOPPLER_DT = 0.01  # s, finite-difference step for surface velocities
STREAMS = ("motion", "rgb", "infra1", "infra2", "depth", "lidar", "mmwave", "wifi-csi", "wifi-chain")


@functools.lru_cache(maxsize=8)
def _renderers(
    environment: str, frame_period: float
) -> tuple[MMFiRig, DepthRenderer, LidarRenderer, RadarRenderer]:
    rig = mmfi_rig(environment, frame_period)
    return rig, DepthRenderer(rig), LidarRenderer(rig), RadarRenderer(rig)


def subject_body(seed: int, subject: str) -> BodyShape:
    """A subject's body sizes: fixed per (seed, subject), shared by all of the subject's sequences."""
    return draw_body(np.random.default_rng(seed_sequence(seed, TAG_MMFI_BODY, subject_number(subject))))


@dataclass
class FrameData:
    depth: np.ndarray  # (480, 640) uint16 mm
    lidar: np.ndarray  # (N, 3) float64, LiDAR frame
    mmwave: np.ndarray  # (N, 5) float64, radar frame
    csi_amp: np.ndarray  # (3, 114, 10) float64 dB
    csi_phase: np.ndarray  # (3, 114, 10) float64 rad


class MMFiSequence:
    """Everything needed to write ``<E>/<S>/<A>/``; heavy per-frame work happens in :meth:`frames`."""

    def __init__(self, spec: MMFiSpec, subject: str, action: str) -> None:
        self.spec, self.subject, self.action = spec, subject, action
        self.environment = environment_of(subject)
        number = int(action[1:])
        streams = seed_sequence(spec.seed, TAG_MMFI_SEQUENCE, subject_number(subject), number).spawn(
            len(STREAMS)
        )
        self.rng = {name: np.random.default_rng(s) for name, s in zip(STREAMS, streams)}
        self.rig, self.depth_renderer, self.lidar_renderer, self.radar_renderer = _renderers(
            self.environment, spec.frame_period
        )
        self.shape = subject_body(spec.seed, subject)
        motion_rng = self.rng["motion"]
        rig = self.rig
        self.placement = Placement(
            x=float(motion_rng.uniform(*rig.spot_x)),
            y=float(motion_rng.uniform(*rig.spot_y)),
            yaw=float(np.pi + motion_rng.uniform(-0.3, 0.3)),  # facing the rig, give or take 17°
        )
        habit = np.random.default_rng(seed_sequence(spec.seed, TAG_MMFI_BODY, subject_number(subject), 1))
        self.variation = personal(draw_variation(motion_rng), habit)
        self.times = np.arange(spec.frames) * spec.frame_period
        self.pose = self.pose_at(self.times)

    def pose_at(self, times: np.ndarray) -> Pose:
        motion = MMFI_ACTIONS[self.action].motion
        return forward_kinematics(self.shape, motion(times, self.variation), self.placement)

    def ground_truth(self) -> np.ndarray:
        """(T, 17, 3) float64 H36M joints in the depth camera's optical frame (x right, y down, z forward), m."""
        return np.ascontiguousarray(self.rig.camera.from_rig(self.pose.joints), dtype=np.float64)

    def keypoints(self, modality: str) -> np.ndarray:
        """(T, 17, 2) float64 COCO-17 detections in pixels for ``rgb``, ``infra1`` or ``infra2``."""
        rig = self.rig
        frame, intr = {
            "rgb": (rig.rgb, rig.rgb_intrinsics),
            "infra1": (rig.camera, rig.depth_intrinsics),
            "infra2": (rig.infra2, rig.depth_intrinsics),
        }[modality]
        knobs = getattr(self.spec.contamination, modality)
        return detect_keypoints(self.pose, frame, intr, self.rng[modality], knobs)

    def frames(self, need: set[str]) -> Iterator[FrameData]:
        """Per-frame sensor data for the modalities in ``need`` (others are left empty)."""
        spec, rig = self.spec, self.rig
        contamination = spec.contamination
        starts, ends, radii = capsules(self.shape, self.pose)
        if "mmwave" in need:
            later_starts, later_ends, _ = capsules(self.shape, self.pose_at(self.times + DOPPLER_DT))
            v_starts, v_ends = (later_starts - starts) / DOPPLER_DT, (later_ends - ends) / DOPPLER_DT
        if "wifi-csi" in need:
            csi = CsiRenderer(rig, self.rng["wifi-chain"])
            packet_times = (self.times[:, None] + np.arange(PACKETS) * spec.frame_period / PACKETS).reshape(
                -1
            )
            packet_pose = self.pose_at(packet_times)
            p_starts, p_ends, _ = capsules(self.shape, packet_pose)
        empty = np.zeros((0,))
        for f in range(len(self.times)):
            depth = lidar = mmwave = amp = phase = empty
            if "depth" in need:
                cam = rig.camera
                depth = self.depth_renderer.render(
                    cam.from_rig(starts[f]),
                    cam.from_rig(ends[f]),
                    radii,
                    self.rng["depth"],
                    contamination.depth,
                )
            if "lidar" in need:
                lidar = self.lidar_renderer.render(
                    starts[f],
                    ends[f],
                    radii,
                    self.rng["lidar"],
                    contamination.lidar,
                )
            if "mmwave" in need:
                mmwave = self.radar_renderer.render(
                    starts[f],
                    ends[f],
                    radii,
                    v_starts[f],
                    v_ends[f],
                    self.rng["mmwave"],
                    contamination.mmwave,
                )
            if "wifi-csi" in need:
                block = slice(f * PACKETS, (f + 1) * PACKETS)
                h = csi.channel(p_starts[block], p_ends[block], radii, packet_pose.joints[block])
                amp, phase = csi.measure(h, self.rng["wifi-csi"], contamination.wifi_csi)
            yield FrameData(depth, lidar, mmwave, amp, phase)
