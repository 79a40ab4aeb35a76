"""A pinhole camera: what the simulator renders through and what the node brings a live camera to."""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np


@dataclass(frozen=True)
class Pinhole:
    """Pixel (u, v) = (fx x/z + cx, fy y/z + cy) in the optical frame (x right, y down, z forward);
    pixel centres at integer coordinates."""

    width: int
    height: int
    fx: float
    fy: float
    cx: float
    cy: float

    def project(self, points: np.ndarray) -> np.ndarray:
        """Optical-frame points (..., 3) → pixels (..., 2); points must have z > 0."""
        z = points[..., 2]
        return np.stack([self.fx * points[..., 0] / z + self.cx, self.fy * points[..., 1] / z + self.cy], -1)

    def describe(self) -> dict:
        return {k: getattr(self, k) for k in ("width", "height", "fx", "fy", "cx", "cy")}

    def __str__(self) -> str:
        return f"{self.width}×{self.height} fx {self.fx:g} fy {self.fy:g} cx {self.cx:g} cy {self.cy:g}"
