"""XRF55 modalities (training and evaluation only): mmWave heatmaps, Wi-Fi, RFID.

Files are ``a_b_c.npy`` per modality folder (docs/datasets.md §2.2). Inputs are the raw arrays as
float32, as X-Fi and PTA feed them (no normalisation).
"""
from __future__ import annotations

from pathlib import Path

import numpy as np
import torch
from torch import nn

from pta_core.config import PreprocessConfig
from pta_core.errors import DataFormatError, InvalidInput
from pta_core.modalities.base import Encoder, InputField, Modality, Sample, register
from pta_core.models.blocks import ResidualBlock, conv_out, conv_stem, feature_map_to_tokens

MMWAVE_SHAPE = (17, 256, 128)
WIFI_SHAPE = (270, 1000)
RFID_SHAPE = (23, 148)


def _reader(shapes: tuple[tuple[int, ...], ...]):
    def read(path: Path) -> np.ndarray:
        try:
            array = np.load(path, allow_pickle=False)
        except (OSError, ValueError, EOFError) as err:
            raise DataFormatError(path, f"not a readable .npy file: {err}") from err
        if array.shape not in shapes or not np.issubdtype(array.dtype, np.number):
            raise DataFormatError(path, f"expected one of {list(shapes)}, got {array.shape} {array.dtype}")
        return array

    return read


def _preprocess(shape: tuple[int, ...], key: str):
    def preprocess(raw: np.ndarray, cfg: PreprocessConfig) -> Sample:
        array = np.asarray(raw)
        if array.size != int(np.prod(shape)):
            raise InvalidInput("shape", f"expected {shape}, got {array.shape}")
        array = array.reshape(shape).astype(np.float32)
        if not np.isfinite(array).all():
            raise InvalidInput("non_finite", "non-finite values")
        return {key: array}

    return preprocess


class HeatmapEncoder(Encoder):
    """mmWave (17, 256, 128) → 2-D ResNet with 17 input channels → 8×4 = 32 tokens."""

    def __init__(self, width: int):
        super().__init__()
        self.net = nn.Sequential(
            conv_stem(17, width, 3, 2),
            ResidualBlock(width, width, 2),
            ResidualBlock(width, 2 * width, 2),
            ResidualBlock(2 * width, 4 * width, 2),
            nn.AvgPool2d(2),
        )
        self.num_tokens = (MMWAVE_SHAPE[1] // 32) * (MMWAVE_SHAPE[2] // 32)
        self.out_channels = 4 * width

    def forward(self, inputs: dict[str, torch.Tensor]) -> torch.Tensor:
        return feature_map_to_tokens(self.net(inputs["heatmap"]))


class SignalEncoder(Encoder):
    """Channels × time signal (Wi-Fi 270×1000, RFID 23×148) → 1-D ResNet; one token per output step."""

    def __init__(self, channels: int, length: int, width: int, stem_stride: int):
        super().__init__()
        self.net = nn.Sequential(
            conv_stem(channels, width, 7, stem_stride, dims=1),
            ResidualBlock(width, width, 2, dims=1),
            ResidualBlock(width, 2 * width, 2, dims=1),
            ResidualBlock(2 * width, 4 * width, 2, dims=1),
        )
        steps = conv_out(length, 7, stem_stride, 3)
        for _ in range(3):
            steps = conv_out(steps, 3, 2, 1)
        self.num_tokens = steps
        self.out_channels = 4 * width

    def forward(self, inputs: dict[str, torch.Tensor]) -> torch.Tensor:
        return feature_map_to_tokens(self.net(inputs["signal"]))


XRF_MMWAVE = register(
    Modality(
        name="xrf-mmwave",
        dataset="xrf55",
        folder="mmWave",
        extension=".npy",
        read_file=_reader(((1, *MMWAVE_SHAPE), MMWAVE_SHAPE)),
        preprocess=_preprocess(MMWAVE_SHAPE, "heatmap"),
        input_fields=lambda cfg: {"heatmap": InputField(MMWAVE_SHAPE)},
        build_encoder=lambda model, pre: HeatmapEncoder(model.encoder_width),
        description="XRF55 mmWave heatmaps (17, 256, 128)",
    )
)
XRF_WIFI = register(
    Modality(
        name="xrf-wifi",
        dataset="xrf55",
        folder="WiFi",
        extension=".npy",
        read_file=_reader((WIFI_SHAPE,)),
        preprocess=_preprocess(WIFI_SHAPE, "signal"),
        input_fields=lambda cfg: {"signal": InputField(WIFI_SHAPE)},
        build_encoder=lambda model, pre: SignalEncoder(WIFI_SHAPE[0], WIFI_SHAPE[1], model.encoder_width, 4),
        description="XRF55 Wi-Fi CSI amplitude, 270 links×antennas×subcarriers × 1000 packets",
    )
)
XRF_RFID = register(
    Modality(
        name="xrf-rfid",
        dataset="xrf55",
        folder="RFID",
        extension=".npy",
        read_file=_reader((RFID_SHAPE,)),
        preprocess=_preprocess(RFID_SHAPE, "signal"),
        input_fields=lambda cfg: {"signal": InputField(RFID_SHAPE)},
        build_encoder=lambda model, pre: SignalEncoder(RFID_SHAPE[0], RFID_SHAPE[1], model.encoder_width, 1),
        description="XRF55 RFID phase, 23 tags × 148 steps",
    )
)
