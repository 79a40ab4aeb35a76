"""Shared point-cloud handling for the LiDAR and mmWave modalities.

Raw MM-Fi clouds are headerless float64 ``.bin`` files of N×C values. Preprocessing drops
non-finite points, bounds the work on huge clouds, and samples or pads to a fixed count with a
validity mask (the official loader pads without a mask; the model needs to know what is padding).
"""
from __future__ import annotations

from pathlib import Path

import numpy as np

from pta_core.errors import DataFormatError, InvalidInput
from pta_core.modalities.base import InputField, Sample


def read_cloud(path: Path, channels: int) -> np.ndarray:
    """Read a headerless float64 N×``channels`` cloud; a size that is not a whole number of points is corrupt."""
    try:
        data = Path(path).read_bytes()
    except OSError as err:
        raise DataFormatError(path, f"cannot read: {err}") from err
    point_bytes = 8 * channels
    if len(data) % point_bytes:
        raise DataFormatError(path, f"{len(data)} bytes is not a multiple of {point_bytes} (float64 × {channels})")
    return np.frombuffer(data, dtype=np.float64).reshape(-1, channels)


def preprocess_cloud(raw: np.ndarray, channels: int, num_points: int, max_input_points: int) -> Sample:
    """N×C cloud → ``points`` (num_points, channels) float32 and ``mask`` (num_points,) bool.

    Raises:
        InvalidInput: ``shape`` (not N×≥channels), ``too_large`` (more than ``max_input_points``,
            checked before any per-point work), ``empty`` (no point, or no finite point).
    """
    cloud = np.asarray(raw)
    if cloud.ndim != 2 or cloud.shape[1] < channels:
        raise InvalidInput("shape", f"expected N×{channels} points, got shape {cloud.shape}")
    if cloud.shape[0] > max_input_points:
        raise InvalidInput("too_large", f"{cloud.shape[0]} points exceed the bound of {max_input_points}")
    cloud = cloud[:, :channels]
    finite = np.isfinite(cloud).all(axis=1)
    if not finite.all():
        cloud = cloud[finite]
    count = cloud.shape[0]
    if count == 0:
        raise InvalidInput("empty", "the cloud has no finite point")
    points = np.zeros((num_points, channels), dtype=np.float32)
    mask = np.zeros(num_points, dtype=bool)
    if count >= num_points:
        # Deterministic strided subsample: the same cloud always gives the same input (train = serve).
        index = (np.arange(num_points) * count) // num_points
        points[:] = cloud[index]
        mask[:] = True
    else:
        points[:count] = cloud
        mask[:count] = True
    return {"points": points, "mask": mask}


def cloud_fields(channels: int, num_points: int) -> dict[str, InputField]:
    return {"points": InputField((num_points, channels)), "mask": InputField((num_points,), np.bool_)}
