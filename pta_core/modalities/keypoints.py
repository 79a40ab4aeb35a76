"""Camera 2-D keypoints: MM-Fi `rgb|infra1|infra2/frameNNN.npy`, (17, 2) COCO-17 pixel coordinates.

ROS `camera/keypoints` PoseArray: 17 poses, position.x/y in pixels, position.z = confidence.
The raw sample is (17, 2) or (17, 3) with a confidence column; MM-Fi has none (confidence 1).
"""
from __future__ import annotations

from pathlib import Path

import numpy as np

from pta_core.config import PreprocessConfig
from pta_core.errors import DataFormatError, InvalidInput
from pta_core.modalities.base import InputField, Modality, Sample, register
from pta_core.skeleton import NUM_KEYPOINTS


def read_keypoints(path: Path) -> np.ndarray:
    try:
        array = np.load(path, allow_pickle=False)
    except (OSError, ValueError, EOFError) as err:
        raise DataFormatError(path, f"not a readable .npy file: {err}") from err
    if array.shape not in ((NUM_KEYPOINTS, 2), (NUM_KEYPOINTS, 3)) or not np.issubdtype(array.dtype, np.number):
        raise DataFormatError(path, f"expected ({NUM_KEYPOINTS}, 2) numeric keypoints, got {array.shape} {array.dtype}")
    return array


def preprocess(raw: np.ndarray, cfg: PreprocessConfig) -> Sample:
    """(17, 2|3) pixels → ``keypoints`` (17, 3): x, y scaled to [-1, 1] by the image size, confidence.

    A keypoint with a non-finite coordinate, or at exactly (0, 0) pixels (how detectors and the
    MM-Fi files write "not detected"), gets confidence 0 and coordinates 0. A frame with no detected
    keypoint is rejected, so a detector failure makes the modality absent, in training and serving alike.

    Raises:
        InvalidInput: ``shape`` (not 17 keypoints), ``empty`` (no keypoint with confidence > 0).
    """
    kp = np.asarray(raw, dtype=np.float64)
    if kp.ndim != 2 or kp.shape[0] != NUM_KEYPOINTS or kp.shape[1] not in (2, 3):
        raise InvalidInput("shape", f"expected ({NUM_KEYPOINTS}, 2|3) keypoints, got {kp.shape}")
    conf = kp[:, 2].copy() if kp.shape[1] == 3 else np.ones(NUM_KEYPOINTS)
    undetected = (kp[:, 0] == 0.0) & (kp[:, 1] == 0.0)
    valid = np.isfinite(kp).all(axis=1) & (conf > 0) & ~undetected
    out = np.zeros((NUM_KEYPOINTS, 3), dtype=np.float32)
    out[valid, 0] = kp[valid, 0] / cfg.image_width * 2.0 - 1.0
    out[valid, 1] = kp[valid, 1] / cfg.image_height * 2.0 - 1.0
    out[valid, 2] = np.clip(conf[valid], 0.0, 1.0)
    if not valid.any():
        raise InvalidInput("empty", "no keypoint has a finite position and positive confidence")
    return {"keypoints": out}


def _keypoint_modality(name: str) -> Modality:
    return register(
        Modality(
            name=name,
            dataset="mmfi",
            folder=name,
            extension=".npy",
            read_file=read_keypoints,
            preprocess=preprocess,
            input_fields=lambda cfg: {"keypoints": InputField((NUM_KEYPOINTS, 3))},
            description="COCO-17 2-D keypoints (pixels) with confidence",
        )
    )


RGB = _keypoint_modality("rgb")
INFRA1 = _keypoint_modality("infra1")
INFRA2 = _keypoint_modality("infra2")
