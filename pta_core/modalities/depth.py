"""Depth: MM-Fi `depth/frameNNN.png`, 16-bit single-channel PNG in millimetres, 480×640.

ROS `depth/image_raw` Image 16UC1 (mm, scaled by ``depth_scale``) or 32FC1 (metres).
"""
from __future__ import annotations

from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F
from PIL import Image, UnidentifiedImageError

from pta_core.config import PreprocessConfig
from pta_core.errors import DataFormatError, InvalidInput
from pta_core.modalities.base import Encoder, InputField, Modality, Sample, register
from pta_core.models.blocks import ResidualBlock, conv_out, conv_stem, feature_map_to_tokens

_STAGES = 4  # stride-2 stages in the encoder


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


def preprocess(raw: np.ndarray, cfg: PreprocessConfig) -> Sample:
    """Depth map → ``image`` (1, *depth_size) in [0, 1] (metres / depth_max_m, area-resized).

    Integer input is in sensor units (× ``depth_scale`` → metres); float input is metres. Zero,
    negative and non-finite pixels mean "no reading" and stay 0.

    Raises:
        InvalidInput: ``shape`` (not a non-empty 2-D map), ``empty`` (no valid pixel).
    """
    depth = np.asarray(raw)
    if depth.ndim != 2 or depth.size == 0:
        raise InvalidInput("shape", f"expected a non-empty 2-D depth map, got shape {depth.shape}")
    if np.issubdtype(depth.dtype, np.integer):
        metres = depth.astype(np.float32) * np.float32(cfg.depth_scale)
    else:
        metres = depth.astype(np.float32, copy=True)
        metres[~np.isfinite(metres)] = 0.0
    metres[metres < 0] = 0.0
    if not (metres > 0).any():
        raise InvalidInput("empty", "the depth map has no valid pixel")
    scaled = np.minimum(metres, cfg.depth_max_m) / np.float32(cfg.depth_max_m)
    tensor = torch.from_numpy(scaled)[None, None]
    resized = F.interpolate(tensor, size=tuple(cfg.depth_size), mode="area")
    return {"image": resized[0].numpy()}


def token_grid(cfg: PreprocessConfig) -> tuple[int, int]:
    rows, cols = cfg.depth_size
    for _ in range(_STAGES):
        rows, cols = conv_out(rows, 3, 2, 1), conv_out(cols, 3, 2, 1)
    return rows, cols


class DepthEncoder(Encoder):
    """A 4-stage strided ResNet over the resized depth map; one token per output cell."""

    def __init__(self, width: int, cfg: PreprocessConfig):
        super().__init__()
        self.net = torch.nn.Sequential(
            conv_stem(1, width // 2, 3, 2),
            ResidualBlock(width // 2, width, 2),
            ResidualBlock(width, 2 * width, 2),
            ResidualBlock(2 * width, 4 * width, 2),
        )
        rows, cols = token_grid(cfg)
        self.num_tokens = rows * cols
        self.out_channels = 4 * width

    def forward(self, inputs: dict[str, torch.Tensor]) -> torch.Tensor:
        return feature_map_to_tokens(self.net(inputs["image"]))


DEPTH = register(
    Modality(
        name="depth",
        dataset="mmfi",
        folder="depth",
        extension=".png",
        read_file=read_depth_png,
        preprocess=preprocess,
        input_fields=lambda cfg: {"image": InputField((1, *cfg.depth_size))},
        build_encoder=lambda model, pre: DepthEncoder(model.encoder_width, pre),
        description="depth map (m), clipped at depth_max_m, area-resized to depth_size",
    )
)
