"""Depth camera: the body's capsules ray cast into a 480×640 uint16 millimetre map over the room.

Each capsule is ray cast only inside its projected bounding box and merged by a z-buffer minimum,
so a frame costs a few milliseconds. Sensor model (RealSense-like active stereo): the error lives
in disparity d = f·B/z, spatially correlated (matching windows; 4×4-pixel blocks) and quantised
to 1/32 pixel (sub-pixel interpolation), so depth noise grows with z² and shows the familiar
banding; stereo shadows leave invalid pixels beside depth edges, random pixels drop out, and
readings beyond the maximum range are 0 ("no reading", as in MM-Fi). Correlated, quantised
noise is also what keeps the PNGs small and fast to encode.
"""

from __future__ import annotations

import numpy as np

from pta_core.simulator.contamination import DepthKnobs
from pta_core.simulator.raycast import capsule_range, room_range
from pta_core.simulator.rig import MMFiRig

BASELINE = 0.05  # m, infra1 → infra2 (rig.py)
DISPARITY_NOISE = 0.08  # pixels (RMS), before contamination's noise_scale
SUBPIXEL = 32  # disparity quantisation steps per pixel
NOISE_BLOCK = 4  # pixels: correlation length of the disparity error
SHADOW_STEP = 0.25  # a depth step (m) larger than this casts a stereo shadow
SHADOW_PIXELS = 3


class DepthRenderer:
    """Renders depth maps of one rig; the per-pixel rays and the empty-room background are cached."""

    def __init__(self, rig: MMFiRig, max_range: float = 8.0) -> None:
        intr = rig.depth_intrinsics
        cols, rows = np.meshgrid(np.arange(intr.width), np.arange(intr.height))
        rays = np.stack([(cols - intr.cx) / intr.fx, (rows - intr.cy) / intr.fy, np.ones(cols.shape)], -1)
        rays /= np.linalg.norm(rays, axis=-1, keepdims=True)
        # Single precision: ranges stay within 0.3 mm of double precision, below the 1 mm quantum.
        self.dx, self.dy, self.dz = (np.ascontiguousarray(rays[..., i], dtype=np.float32) for i in range(3))
        self.intr = intr
        self.max_range = max_range
        rays_rig = rays @ rig.camera.rotation.T
        background = room_range(rays_rig, rig.camera.translation, rig.room) * self.dz
        background[~np.isfinite(background) | (background > max_range)] = 0.0
        self.background = background.astype(np.float32)
        self._empty = np.where(self.background > 0, self.background, np.float32(np.inf))

    def clean(self, starts: np.ndarray, ends: np.ndarray, radii: np.ndarray) -> np.ndarray:
        """Noise-free depth (m) along the optical axis, (H, W) float32; 0 = no reading.

        Args:
            starts, ends: (C, 3) capsule segments in the camera's optical frame (m). radii: (C,) m.
        """
        depth = self._empty.copy()
        for a, b, r in zip(starts, ends, radii):
            box = self._bbox(a, b, float(r))
            if box is None:
                continue
            sl = (slice(box[0], box[1]), slice(box[2], box[3]))
            t = capsule_range(self.dx[sl], self.dy[sl], self.dz[sl], a, b, float(r))
            np.minimum(depth[sl], t * self.dz[sl], out=depth[sl])
        depth[~np.isfinite(depth) | (depth > self.max_range)] = 0.0
        return depth

    def render(
        self,
        starts: np.ndarray,
        ends: np.ndarray,
        radii: np.ndarray,
        rng: np.random.Generator,
        knobs: DepthKnobs,
    ) -> np.ndarray:
        """A sensor frame: (H, W) uint16 millimetres with noise, shadows and holes (0 = invalid)."""
        shape = (self.intr.height, self.intr.width)
        if rng.random() < knobs.dropout:
            return np.zeros(shape, dtype=np.uint16)
        depth = self.clean(starts, ends, radii)
        valid = depth > 0
        # Stereo shadow: background pixels just left of a foreground edge have no match.
        edge = np.zeros(shape, dtype=bool)
        edge[:, :-1] = (depth[:, :-1] - depth[:, 1:]) > SHADOW_STEP
        shadow = edge.copy()
        for k in range(1, SHADOW_PIXELS):
            shadow[:, :-k] |= edge[:, k:]
        depth = self._stereo_noise(depth, valid, rng, knobs.noise_scale)
        depth[~valid | shadow] = 0.0
        flat = depth.reshape(-1)
        count = rng.binomial(flat.size, min(knobs.hole_fraction, 1.0))
        flat[rng.integers(0, flat.size, count)] = 0.0
        for _ in range(rng.poisson(knobs.blob_holes)):
            self._blob(depth, rng)
        return np.clip(np.rint(depth * 1000.0), 0, 65535).astype(np.uint16)

    def _stereo_noise(
        self, depth: np.ndarray, valid: np.ndarray, rng: np.random.Generator, scale: float
    ) -> np.ndarray:
        """Depth (m) → depth re-measured through a noisy, quantised disparity; invalid pixels → 0."""
        rows, cols = depth.shape
        fb = np.float32(self.intr.fx * BASELINE)
        disparity = np.divide(fb, depth, out=np.zeros_like(depth), where=valid)
        coarse = rng.standard_normal((-(-rows // NOISE_BLOCK), -(-cols // NOISE_BLOCK)), dtype=np.float32)
        field = np.repeat(np.repeat(coarse, NOISE_BLOCK, 0), NOISE_BLOCK, 1)[:rows, :cols]
        disparity += np.float32(DISPARITY_NOISE * scale) * field
        disparity = np.round(disparity * SUBPIXEL) / SUBPIXEL
        return np.divide(fb, disparity, out=np.zeros_like(depth), where=valid & (disparity > 0))

    def _bbox(self, a: np.ndarray, b: np.ndarray, r: float) -> tuple[int, int, int, int] | None:
        """Pixel rows/cols (half-open) that can see the capsule, or None when it is out of view."""
        intr = self.intr
        z_near = min(a[2], b[2]) - r
        if max(a[2], b[2]) + r <= 0.05:
            return None
        if z_near <= 0.05:
            return 0, intr.height, 0, intr.width
        us = intr.fx * np.array([a[0], b[0]]) / np.array([a[2], b[2]]) + intr.cx
        vs = intr.fy * np.array([a[1], b[1]]) / np.array([a[2], b[2]]) + intr.cy
        margin = r * max(intr.fx, intr.fy) / z_near + 2.0
        r0, r1 = int(np.floor(vs.min() - margin)), int(np.ceil(vs.max() + margin)) + 1
        c0, c1 = int(np.floor(us.min() - margin)), int(np.ceil(us.max() + margin)) + 1
        r0, r1 = max(r0, 0), min(r1, intr.height)
        c0, c1 = max(c0, 0), min(c1, intr.width)
        if r0 >= r1 or c0 >= c1:
            return None
        return r0, r1, c0, c1

    @staticmethod
    def _blob(depth: np.ndarray, rng: np.random.Generator) -> None:
        """Invalidate one elliptical region (reflective or dark surfaces, IR interference)."""
        rows, cols = depth.shape
        cy, cx = rng.uniform(0, rows), rng.uniform(0, cols)
        ry, rx = rng.uniform(8, 60), rng.uniform(8, 80)
        r0, r1 = int(max(cy - ry, 0)), int(min(cy + ry + 1, rows))
        c0, c1 = int(max(cx - rx, 0)), int(min(cx + rx + 1, cols))
        yy, xx = np.ogrid[r0:r1, c0:c1]
        inside = ((yy - cy) / ry) ** 2 + ((xx - cx) / rx) ** 2 <= 1.0
        depth[r0:r1, c0:c1][inside] = 0.0
