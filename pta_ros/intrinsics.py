"""A live camera's intrinsics (sensor_msgs/CameraInfo) → the model's camera, for depth and keypoints.

A model learned its depth maps and keypoints through the training rig's cameras
(``PreprocessConfig.depth_intrinsics`` at ``depth_resolution``, ``rgb_intrinsics`` at
``image_width`` × ``image_height``). A robot's camera has its own resolution and focal length; the
node reads them from the ``camera_info`` topic beside the image (image_transport naming) and brings
each input to the model's camera:

- depth: resampled into the model's pixel grid, nearest neighbour (a depth is never blended across
  a silhouette edge); pixels the live camera does not see are 0, no reading. Same optical centre and
  axes, so a ray keeps its depth: only the pixel grid changes.
- keypoints: pixel coordinates mapped through the normalised image plane.

Images must be rectified (``image_rect``, as depth drivers publish): the distortion coefficients are
not applied.
"""
from __future__ import annotations

import numpy as np

from pta_core.camera import Pinhole
from pta_core.config import PreprocessConfig
from pta_core.errors import InvalidInput


def from_camera_info(msg) -> Pinhole:
    """A CameraInfo's image size and K. Raises InvalidInput ``camera_info`` for a size or K that
    cannot be a camera's."""
    k = np.asarray(msg.k, dtype=np.float64)
    width, height = int(msg.width), int(msg.height)
    if width <= 0 or height <= 0:
        raise InvalidInput("camera_info", f"camera_info is {width}×{height}")
    if k.shape != (9,) or not np.isfinite(k).all() or not (k[0] > 0 and k[4] > 0):
        raise InvalidInput("camera_info", f"camera_info K {k.tolist()} has no positive focal lengths")
    return Pinhole(width, height, float(k[0]), float(k[4]), float(k[2]), float(k[5]))


def model_depth_camera(cfg: PreprocessConfig) -> Pinhole:
    return Pinhole(cfg.depth_resolution[1], cfg.depth_resolution[0], *cfg.depth_intrinsics)


def model_rgb_camera(cfg: PreprocessConfig) -> Pinhole:
    return Pinhole(cfg.image_width, cfg.image_height, *cfg.rgb_intrinsics)


def pixel_map(live: Pinhole, model: Pinhole) -> tuple[np.ndarray, np.ndarray]:
    """For each model column and row, the live column and row on the same ray (-1: outside)."""
    def axis(count_model: int, f_model: float, c_model: float, count_live: int, f_live: float, c_live: float):
        live_index = np.rint(f_live * (np.arange(count_model) - c_model) / f_model + c_live).astype(np.intp)
        live_index[(live_index < 0) | (live_index >= count_live)] = -1
        return live_index

    return (axis(model.width, model.fx, model.cx, live.width, live.fx, live.cx),
            axis(model.height, model.fy, model.cy, live.height, live.fy, live.cy))


class DepthResampler:
    """Depth maps of one live camera in the model's pixel grid; the index maps are cached per pair."""

    def __init__(self) -> None:
        self._maps: dict[tuple[Pinhole, Pinhole], tuple[np.ndarray, np.ndarray]] = {}

    def __call__(self, depth: np.ndarray, live: Pinhole, model: Pinhole) -> np.ndarray:
        """Raises InvalidInput ``intrinsics`` when the image is not the size its camera_info gives."""
        if depth.shape[:2] != (live.height, live.width):
            raise InvalidInput("intrinsics", f"depth image is {depth.shape[1]}×{depth.shape[0]}, its camera_info "
                                             f"says {live.width}×{live.height}")
        if live == model:
            return depth
        if (live, model) not in self._maps:
            self._maps[(live, model)] = pixel_map(live, model)
        cols, rows = self._maps[(live, model)]
        out = depth[np.maximum(rows, 0)][:, np.maximum(cols, 0)]
        out[rows < 0] = 0
        out[:, cols < 0] = 0
        return out


def keypoints_to_model(keypoints: np.ndarray, live: Pinhole, model: Pinhole) -> np.ndarray:
    """(N, ≥2) pixel x, y (and more columns, kept) of the live camera → the model camera's pixels."""
    if live == model:
        return keypoints
    out = np.array(keypoints, dtype=np.float64)
    out[:, 0] = model.fx * (out[:, 0] - live.cx) / live.fx + model.cx
    out[:, 1] = model.fy * (out[:, 1] - live.cy) / live.fy + model.cy
    return out
