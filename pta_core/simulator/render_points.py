"""Point-cloud sensors: a spinning 32-beam LiDAR and an FMCW mmWave radar's detection list.

LiDAR: the beam pattern is ray cast against the body and the room, then filtered as a deployed
LiDAR pipeline does without knowing where the person is: a fixed region of interest (the floor area
where people stand, from the rig, plus a margin) and ground removal by height. What remains is the
person (hundreds of points) plus spurious returns inside the region. Radar:
candidate scatterers are sampled on the visible body surface; a detection is kept with a
probability that grows with the patch's area and radial speed (static-clutter removal suppresses
zero-Doppler returns), then measured with range/angle/velocity noise; multipath ghosts (mirror
images in the floor or a side wall) and static clutter are added.
"""

from __future__ import annotations

import numpy as np

from pta_core.simulator.contamination import LidarKnobs, MmwaveKnobs
from pta_core.simulator.geometry import normalize
from pta_core.simulator.raycast import capsules_range, room_range
from pta_core.simulator.rig import MMFiRig

ROI_MARGIN = 0.9  # m added around the rig's standing area (arms and steps reach beyond the spot)
GROUND_CLEARANCE = 0.08  # m: returns below this height are ground (removed)
CROP_TOP = 2.4  # m


def surface_patches(
    starts: np.ndarray,
    ends: np.ndarray,
    radii: np.ndarray,
    v_starts: np.ndarray,
    v_ends: np.ndarray,
    along: int = 8,
    around: int = 8,
) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """Capsule side surfaces cut into along × around patches (radar scatterers).

    Args:
        starts, ends: (C, 3) capsules; radii: (C,); v_starts, v_ends: (C, 3) end-point velocities (m/s).

    Returns:
        position (M, 3), outward normal (M, 3), velocity (M, 3) and area (M,), M = C·along·around.
    """
    u = (np.arange(along) + 0.5) / along
    theta = 2 * np.pi * np.arange(around) / around
    axis = ends - starts
    length = np.linalg.norm(axis, axis=-1)
    unit = axis / np.maximum(length, 1e-9)[:, None]
    helper = np.where(np.abs(unit[:, 2:3]) < 0.9, [[0.0, 0.0, 1.0]], [[1.0, 0.0, 0.0]])
    e1 = normalize(np.cross(unit, helper))
    e2 = np.cross(unit, e1)
    normal = (
        np.cos(theta)[None, :, None] * e1[:, None] + np.sin(theta)[None, :, None] * e2[:, None]
    )  # (C, K, 3)
    centre = starts[:, None] + u[None, :, None] * axis[:, None]  # (C, U, 3)
    pos = centre[:, :, None] + radii[:, None, None, None] * normal[:, None]  # (C, U, K, 3)
    vel = v_starts[:, None] + u[None, :, None] * (v_ends - v_starts)[:, None]
    vel = np.broadcast_to(vel[:, :, None], pos.shape)
    normals = np.broadcast_to(normal[:, None], pos.shape)
    area = 2 * np.pi * radii * np.maximum(length, radii) / (along * around)
    area = np.broadcast_to(area[:, None, None], pos.shape[:-1])
    return pos.reshape(-1, 3), normals.reshape(-1, 3), vel.reshape(-1, 3), area.reshape(-1)


class LidarRenderer:
    def __init__(self, rig: MMFiRig, beams: int = 32, vfov_deg: float = 45.0, columns: int = 1024) -> None:
        self.rig = rig
        self.elevation = np.deg2rad(np.linspace(-vfov_deg / 2, vfov_deg / 2, beams))
        self.columns = columns

    def region(self) -> tuple[float, float, float, float]:
        """The fixed region of interest (x_min, x_max, y_min, y_max) in the rig frame (m)."""
        (x0, x1), (y0, y1) = self.rig.spot_x, self.rig.spot_y
        return x0 - ROI_MARGIN, x1 + ROI_MARGIN, y0 - ROI_MARGIN, y1 + ROI_MARGIN

    def render(
        self,
        starts: np.ndarray,
        ends: np.ndarray,
        radii: np.ndarray,
        rng: np.random.Generator,
        knobs: LidarKnobs,
    ) -> np.ndarray:
        """One sweep: (N, 3) float64 points in the LiDAR frame (m); (0, 3) for an empty frame.

        Args:
            starts, ends: (C, 3) capsules in the rig frame. radii: (C,).
        """
        if rng.random() < knobs.dropout:
            return np.zeros((0, 3))
        frame = self.rig.lidar
        x0, x1, y0, y1 = self.region()
        corners = frame.from_rig(np.array([[x, y, frame.translation[2]] for x in (x0, x1) for y in (y0, y1)]))
        bearings = np.arctan2(corners[:, 1], corners[:, 0])  # the region lies in front: no wrap-around
        step = 2 * np.pi / self.columns
        azimuth = np.arange(np.floor(bearings.min() / step), np.ceil(bearings.max() / step) + 1) * step
        el, az = np.meshgrid(self.elevation, azimuth, indexing="ij")
        dirs = np.stack([np.cos(el) * np.cos(az), np.cos(el) * np.sin(az), np.sin(el)], -1).reshape(-1, 3)
        t_body, _ = capsules_range(dirs, frame.from_rig(starts), frame.from_rig(ends), radii)
        t_room = room_range(dirs @ frame.rotation.T, frame.translation, self.rig.room)
        t = np.minimum(t_body, t_room)
        keep = np.isfinite(t)
        dirs, t = dirs[keep], t[keep]
        t = t + rng.normal(0.0, knobs.noise_m, t.shape)
        points = dirs * t[:, None]
        rig_pts = frame.to_rig(points)
        inside = (
            (rig_pts[:, 0] > x0) & (rig_pts[:, 0] < x1) & (rig_pts[:, 1] > y0) & (rig_pts[:, 1] < y1)
            & (rig_pts[:, 2] > GROUND_CLEARANCE) & (rig_pts[:, 2] < CROP_TOP)
        )  # fmt: skip
        points = points[inside & (rng.random(len(points)) >= knobs.point_dropout)]
        extra = rng.poisson(knobs.outliers)
        if extra:
            spurious = np.stack(
                [rng.uniform(x0, x1, extra), rng.uniform(y0, y1, extra), rng.uniform(GROUND_CLEARANCE, CROP_TOP, extra)],
                -1,
            )
            points = np.concatenate([points, frame.from_rig(spurious)])
        return np.ascontiguousarray(points, dtype=np.float64)


class RadarRenderer:
    """mmWave detections (x, y, z, radial velocity, intensity) in the radar frame."""

    # Calibrates how many detections a moving patch yields (tens per frame for a moving limb).
    DETECTION_RATE = 360.0
    STATIC_GAIN = 0.05  # what static-clutter removal leaves of a non-moving patch
    MAX_POINTS = 128

    def __init__(self, rig: MMFiRig) -> None:
        self.rig = rig

    def render(
        self,
        starts: np.ndarray,
        ends: np.ndarray,
        radii: np.ndarray,
        v_starts: np.ndarray,
        v_ends: np.ndarray,
        rng: np.random.Generator,
        knobs: MmwaveKnobs,
    ) -> np.ndarray:
        """One radar frame: (N, 5) float64; N = 0 for a frame without detections."""
        if rng.random() < knobs.dropout:
            return np.zeros((0, 5))
        frame = self.rig.radar
        pos, normal, vel, area = surface_patches(starts, ends, radii, v_starts, v_ends)
        to_radar = frame.translation - pos
        rng_m = np.linalg.norm(to_radar, axis=-1)
        look = to_radar / rng_m[:, None]
        facing = np.sum(normal * look, axis=-1)
        radial = -np.sum(vel * look, axis=-1)  # positive = moving away from the radar
        motion = np.minimum(np.abs(radial) / 0.3, 1.0) + self.STATIC_GAIN
        rate = knobs.detection_gain * self.DETECTION_RATE * area * np.maximum(facing, 0.0) ** 2 * motion * (3.0 / rng_m) ** 2
        keep = rng.random(len(pos)) < 1.0 - np.exp(-rate)
        snr = 10 * np.log10(np.maximum(area * np.maximum(facing, 1e-3) ** 2, 1e-9) / rng_m**4) + 62.0
        body = np.column_stack([pos[keep], radial[keep], snr[keep]])
        ghosts = self._ghosts(body, rng, knobs.ghosts)
        clutter = self._clutter(rng, knobs.clutter)
        points = np.concatenate([body, ghosts, clutter])
        if len(points) == 0:
            return np.zeros((0, 5))
        points = self._measure(points, rng, knobs)
        if len(points) > self.MAX_POINTS:  # the radar's detection list is bounded; strongest first
            points = points[np.argsort(-points[:, 4], kind="stable")[: self.MAX_POINTS]]
        return np.ascontiguousarray(points)

    def _measure(self, points: np.ndarray, rng: np.random.Generator, knobs: MmwaveKnobs) -> np.ndarray:
        """Rig-frame truth → radar-frame measurement with range, angle and Doppler noise; Doppler
        rounded to its bins where the radar's bin width is given."""
        scale = knobs.noise_scale
        local = self.rig.radar.from_rig(points[:, :3])
        r = np.linalg.norm(local, axis=-1)
        az = np.arctan2(local[:, 1], local[:, 0])
        el = np.arcsin(np.clip(local[:, 2] / np.maximum(r, 1e-9), -1, 1))
        n = len(points)
        r = r + rng.normal(0, 0.02 * scale, n)
        az = az + rng.normal(0, 0.02 * scale, n)
        el = el + rng.normal(0, 0.05 * scale, n)
        xyz = np.stack([r * np.cos(el) * np.cos(az), r * np.cos(el) * np.sin(az), r * np.sin(el)], -1)
        velocity = points[:, 3] + rng.normal(0, knobs.doppler_noise * scale, n)
        if knobs.doppler_step > 0:
            velocity = knobs.doppler_step * np.round(velocity / knobs.doppler_step)
        intensity = points[:, 4] + rng.normal(0, 1.5, n)
        return np.column_stack([xyz, velocity, intensity])

    def _ghosts(self, body: np.ndarray, rng: np.random.Generator, mean: float) -> np.ndarray:
        """Multipath: a detection seen via the floor or a side wall appears at its mirror image, weaker."""
        count = rng.poisson(mean)
        if count == 0 or len(body) == 0:
            return np.zeros((0, 5))
        src = body[rng.integers(0, len(body), count)].copy()
        room = self.rig.room
        floor = rng.random(count) < 0.5
        src[floor, 2] = -src[floor, 2]
        wall = np.where(src[:, 1] > 0, room.half_width, -room.half_width)
        src[~floor, 1] = 2 * wall[~floor] - src[~floor, 1]
        src[:, 4] -= rng.uniform(6.0, 12.0, count)
        return src

    def _clutter(self, rng: np.random.Generator, mean: float) -> np.ndarray:
        """Static returns from walls and furniture (zero Doppler up to noise)."""
        count = rng.poisson(mean)
        if count == 0:
            return np.zeros((0, 5))
        room = self.rig.room
        anchors = np.vstack([room.furniture, [[room.back, 0.0, 1.2]]])
        base = anchors[rng.integers(0, len(anchors), count)]
        pos = base + rng.normal(0, [0.3, 0.5, 0.3], (count, 3))
        return np.column_stack([pos, rng.normal(0, 0.02, count), rng.uniform(8.0, 20.0, count)])
