"""LiDAR: MM-Fi `lidar/frameNNN.bin`, float64 N×3 (x, y, z) metres; ROS `lidar/points` PointCloud2."""
from __future__ import annotations

from functools import partial

from pta_core.config import PreprocessConfig
from pta_core.modalities.base import Modality, register
from pta_core.modalities.points import cloud_fields, preprocess_cloud, read_cloud

CHANNELS = 3


def preprocess(raw, cfg: PreprocessConfig):
    return preprocess_cloud(raw, CHANNELS, cfg.lidar_points, cfg.max_input_points)


LIDAR = register(
    Modality(
        name="lidar",
        dataset="mmfi",
        folder="lidar",
        extension=".bin",
        read_file=partial(read_cloud, channels=CHANNELS),
        preprocess=preprocess,
        input_fields=lambda cfg: cloud_fields(CHANNELS, cfg.lidar_points),
        description="LiDAR cloud x,y,z (m), sampled/padded to lidar_points with a mask",
    )
)
