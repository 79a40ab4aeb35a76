"""mmWave radar: MM-Fi `mmwave/frameNNN.bin`, float64 N×5 (x, y, z, Doppler velocity, intensity).

ROS `radar/points` PointCloud2 float32 x,y,z,velocity,intensity. Real MM-Fi radar frames are often
empty (0-byte files) or missing: the data layer treats those as an absent modality for that frame.
A model reads x, y, z and the values ``mmwave_features`` names (velocity, intensity, both or
neither): the raw sample keeps all five columns, one a driver does not publish is NaN (the node's
decoder) and preprocessing drops the unread ones before anything looks at them. The values read are
standardised by ``mmwave_offset`` / ``mmwave_scale`` (a real radar's intensity, in dB, is tens; its
Doppler a few m/s).
"""
from __future__ import annotations

from functools import partial

import numpy as np

from pta_core.config import PreprocessConfig
from pta_core.modalities.base import Modality, register
from pta_core.modalities.points import cloud_fields, preprocess_cloud, read_cloud

CHANNELS = 5  # columns of a raw sample
VALUES = ("velocity", "intensity")  # columns 3 and 4


def channels(cfg: PreprocessConfig) -> int:
    """Point channels a model reads: x, y, z and ``mmwave_features``."""
    return 3 + len(cfg.mmwave_features)


def preprocess(raw, cfg: PreprocessConfig):
    cloud = np.asarray(raw)
    if cloud.ndim == 2 and cloud.shape[1] >= CHANNELS:
        cloud = cloud[:, [0, 1, 2, *(3 + VALUES.index(f) for f in cfg.mmwave_features)]]
    sample = preprocess_cloud(cloud, channels(cfg), cfg.mmwave_points, cfg.max_input_points)
    if cfg.mmwave_features and (cfg.mmwave_offset != (0.0, 0.0) or cfg.mmwave_scale != (1.0, 1.0)):
        points, mask = sample["points"], sample["mask"]
        used = [VALUES.index(f) for f in cfg.mmwave_features]
        offset = np.asarray(cfg.mmwave_offset, np.float32)[used]
        scale = np.asarray(cfg.mmwave_scale, np.float32)[used]
        points[mask, 3:] = (points[mask, 3:] - offset) / scale  # padding stays zero
    return sample


MMWAVE = register(
    Modality(
        name="mmwave",
        dataset="mmfi",
        folder="mmwave",
        extension=".bin",
        read_file=partial(read_cloud, channels=CHANNELS),
        preprocess=preprocess,
        input_fields=lambda cfg: cloud_fields(channels(cfg), cfg.mmwave_points),
        description="radar cloud x,y,z (m), velocity, intensity; sampled/padded to mmwave_points with a mask",
    )
)
