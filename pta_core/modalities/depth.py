"""Depth: MM-Fi `depth/frameNNN.png`, 16-bit single-channel PNG in millimetres, 480×640.

ROS `depth/image_raw` Image 16UC1 (mm, scaled by ``depth_scale``) or 32FC1 (metres).
"""
from __future__ import annotations

from pathlib import Path

import numpy as np
from PIL import Image, UnidentifiedImageError

from pta_core.config import PreprocessConfig
from pta_core.errors import DataFormatError, InvalidInput
from pta_core.modalities.base import InputField, Modality, Sample, register
from pta_core.modalities.points import cloud_fields, preprocess_cloud


def read_depth_png(path: Path) -> np.ndarray:
    """16-bit PNG → uint16 (rows, cols), as ``cv2.imread(path, cv2.IMREAD_UNCHANGED)`` gives it."""
    try:
        with Image.open(path) as image:
            image.load()
            mode = image.mode
            array = np.array(image)
    except (OSError, UnidentifiedImageError, ValueError) as err:
        raise DataFormatError(path, f"not a readable PNG: {err}") from err
    if mode not in ("I;16", "I;16B", "I;16L", "I") or array.ndim != 2:
        raise DataFormatError(path, f"expected a 16-bit single-channel PNG, got mode {mode} shape {array.shape}")
    if array.dtype != np.uint16:
        if array.min(initial=0) < 0 or array.max(initial=0) > 65535:
            raise DataFormatError(path, "depth values outside the 16-bit range")
        array = array.astype(np.uint16)
    return array


def depth_metres(raw: np.ndarray, cfg: PreprocessConfig, stride: int = 1) -> np.ndarray:
    """A depth map → float32 metres inside ``depth_crop``, every ``stride``-th pixel; 0 where there is
    no reading. (Sampling before converting: the points mode reads 1/16 of the pixels.)

    Integer input is in sensor units (× ``depth_scale`` → metres); float input is metres. Zero,
    negative and non-finite pixels mean "no reading".

    Raises:
        InvalidInput: ``shape`` (not a non-empty 2-D map, or smaller than the crop), ``empty`` (no
            valid pixel).
    """
    depth = np.asarray(raw)
    if depth.ndim != 2 or depth.size == 0:
        raise InvalidInput("shape", f"expected a non-empty 2-D depth map, got shape {depth.shape}")
    top, left, height, width = cfg.depth_crop
    if height > 0 and width > 0:
        if top + height > depth.shape[0] or left + width > depth.shape[1]:
            raise InvalidInput("shape", f"depth map {depth.shape} is smaller than the region of interest {cfg.depth_crop}")
        depth = depth[top : top + height, left : left + width]
    depth = depth[::stride, ::stride]
    if np.issubdtype(depth.dtype, np.integer):
        metres = depth.astype(np.float32) * np.float32(cfg.depth_scale)
    else:
        metres = depth.astype(np.float32, copy=True)
        metres[~np.isfinite(metres)] = 0.0
    metres[metres < 0] = 0.0
    if not (metres > 0).any():
        raise InvalidInput("empty", "the depth map has no valid pixel")
    return metres


def depth_points(z: np.ndarray, cfg: PreprocessConfig) -> np.ndarray:
    """Back-project a (cropped) map sampled every ``depth_stride``-th pixel (``depth_metres(raw, cfg,
    cfg.depth_stride)``) → (N, 3) points in the camera's optical frame, inside ``depth_roi`` and
    closer than ``depth_max_m``."""
    stride = cfg.depth_stride
    top, left = cfg.depth_crop[:2]
    u = np.arange(z.shape[1], dtype=np.float32) * np.float32(stride)  # the samples' pixel columns in the crop
    v = np.arange(z.shape[0], dtype=np.float32)[:, None] * np.float32(stride)
    fx, fy, cx, cy = cfg.depth_intrinsics
    x = (u + left - cx) * z / fx
    y = (v + top - cy) * z / fy
    x0, x1, y0, y1, z0, z1 = cfg.depth_roi
    keep = (z > 0) & (z <= cfg.depth_max_m) & (x >= x0) & (x <= x1) & (y >= y0) & (y <= y1) & (z >= z0) & (z <= z1)
    return np.stack([x[keep], y[keep], z[keep]], axis=-1)


def preprocess(raw: np.ndarray, cfg: PreprocessConfig) -> Sample:
    """Depth map → model input, by ``depth_mode``:

    - ``image``: ``image`` (1, *depth_size) in [0, 1] (metres / depth_max_m, area-resized);
    - ``points``: ``points`` (depth_points, 3) metres and ``mask``, the back-projected cloud
      (:func:`depth_points`) sampled or padded as a LiDAR cloud is.

    Raises:
        InvalidInput: ``shape``, ``empty`` (see :func:`depth_metres`; ``points``: also no pixel in
            the region of interest).
    """
    if cfg.depth_mode == "points":
        cloud = depth_points(depth_metres(raw, cfg, cfg.depth_stride), cfg)
        if len(cloud) == 0:
            raise InvalidInput("empty", "no depth pixel inside the region of interest")
        return preprocess_cloud(cloud, 3, cfg.depth_points, cfg.max_input_points)
    scaled = np.minimum(depth_metres(raw, cfg), cfg.depth_max_m) / np.float32(cfg.depth_max_m)
    return {"image": area_resize(scaled, tuple(cfg.depth_size))[None]}


def area_resize(image: np.ndarray, size: tuple[int, int]) -> np.ndarray:
    """Resize a 2-D map by averaging the source cells each output cell covers.

    The bins of ``torch.nn.functional.interpolate(mode="area")`` (adaptive average pooling):
    output cell i spans source rows floor(i·H/h) to ceil((i+1)·H/h). Whole-number factors (the
    usual case: 480×640 → 96×128) are block means; other sizes sum an integral image in float64.
    """
    rows, cols = size
    if image.shape[0] % rows == 0 and image.shape[1] % cols == 0:
        blocks = image.reshape(rows, image.shape[0] // rows, cols, image.shape[1] // cols)
        return blocks.mean(axis=(1, 3), dtype=np.float64).astype(np.float32)
    integral = np.zeros((image.shape[0] + 1, image.shape[1] + 1), dtype=np.float64)
    np.cumsum(np.cumsum(image, axis=0, dtype=np.float64), axis=1, out=integral[1:, 1:])
    r0, r1 = _bins(image.shape[0], rows)
    c0, c1 = _bins(image.shape[1], cols)
    sums = integral[r1][:, c1] - integral[r0][:, c1] - integral[r1][:, c0] + integral[r0][:, c0]
    return (sums / np.outer(r1 - r0, c1 - c0)).astype(np.float32)


def _bins(source: int, target: int) -> tuple[np.ndarray, np.ndarray]:
    index = np.arange(target)
    return (index * source) // target, -((-(index + 1) * source) // target)


DEPTH = register(
    Modality(
        name="depth",
        dataset="mmfi",
        folder="depth",
        extension=".png",
        read_file=read_depth_png,
        preprocess=preprocess,
        input_fields=lambda cfg: (
            cloud_fields(3, cfg.depth_points) if cfg.depth_mode == "points" else {"image": InputField((1, *cfg.depth_size))}
        ),
        description="depth map (m): area-resized image, or a back-projected cloud (depth_mode)",
    )
)
