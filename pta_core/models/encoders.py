"""Each modality's encoder: preprocessed inputs (``pta_core.modalities``) → tokens.

The modalities package says how a raw sample becomes model input (numpy only, shared with the
onnxruntime node, which never imports torch); this module holds the networks that read those
inputs, and :data:`ENCODERS` maps a modality name to the builder of its encoder.
"""
from __future__ import annotations

from collections.abc import Callable

import torch
from torch import nn

from pta_core.config import ModelConfig, PreprocessConfig
from pta_core.modalities import lidar, mmwave
from pta_core.modalities.wifi_csi import ANTENNAS, PACKETS, SUBCARRIERS
from pta_core.modalities.xrf55 import MMWAVE_SHAPE, RFID_SHAPE, WIFI_SHAPE
from pta_core.models.blocks import AttentionPool, ResidualBlock, conv_out, conv_stem, feature_map_to_tokens
from pta_core.registry import Registry
from pta_core.skeleton import NUM_KEYPOINTS

_STAGES = 4  # stride-2 stages in the depth image encoder


class Encoder(nn.Module):
    """Maps a batch of preprocessed inputs to tokens ``(B, num_tokens, out_channels)``.

    Must return finite tokens for every input the preprocessing can produce, including an
    all-padding point cloud (the fusion masks absent samples, and NaN * 0 is still NaN).
    """

    num_tokens: int
    out_channels: int

    def forward(self, inputs: dict[str, torch.Tensor]) -> torch.Tensor:  # pragma: no cover - interface
        raise NotImplementedError


class PointEncoder(Encoder):
    """PointNet-style set encoder → (B, num_tokens + 1, 2·width) tokens.

    A shared per-point MLP sees each point's coordinates relative to the cloud's centroid (masked
    mean) plus its other channels; attention pooling with learned queries gives ``num_tokens``
    tokens, a masked max over the points one more; the centroid's embedding is added to every token.

    Why centred coordinates and an explicit centroid: poses are absolute, so where the person stands
    is a large part of the pose error, and a set of raw coordinates pooled by attention recovered it
    poorly in development runs of LiDAR alone (the results suite of docs/RESULTS.md does not isolate
    this choice).
    """

    def __init__(self, in_channels: int, width: int, num_tokens: int = 32):
        super().__init__()
        self.point_mlp = nn.Sequential(
            nn.Linear(in_channels, width),
            nn.ReLU(inplace=True),
            nn.Linear(width, 2 * width),
            nn.ReLU(inplace=True),
            nn.Linear(2 * width, 2 * width),
        )
        self.pool = AttentionPool(2 * width, num_tokens)
        self.centroid = nn.Linear(3, 2 * width)
        self.num_tokens = num_tokens + 1
        self.out_channels = 2 * width

    def forward(self, inputs: dict[str, torch.Tensor]) -> torch.Tensor:
        mask = inputs["mask"].bool()  # (B, N)
        points = inputs["points"]  # (B, N, C), xyz first
        weight = mask.unsqueeze(-1).to(points.dtype)
        centroid = (points[..., :3] * weight).sum(1) / weight.sum(1).clamp(min=1.0)  # (B, 3); 0 for an empty cloud
        local = torch.cat([points[..., :3] - centroid[:, None], points[..., 3:]], dim=-1)
        features = self.point_mlp(local) * weight  # (B, N, 2w)
        pooled = self.pool(features, mask)  # (B, num_tokens, 2w)
        # Masked max; an all-padding cloud gives 0 rather than -inf.
        peak = features.masked_fill(~mask.unsqueeze(-1), float("-inf")).amax(dim=1, keepdim=True)
        peak = torch.where(mask.any(dim=1)[:, None, None], peak, torch.zeros_like(peak))
        return torch.cat([pooled, peak], dim=1) + self.centroid(centroid)[:, None]


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


class KeypointEncoder(Encoder):
    """Per-keypoint embedding plus a learned joint embedding, mixed by a 2-layer transformer."""

    def __init__(self, width: int):
        super().__init__()
        self.embed = nn.Linear(3, width)
        self.joint = nn.Parameter(torch.randn(NUM_KEYPOINTS, width) * 0.02)
        layer = nn.TransformerEncoderLayer(width, 4, 2 * width, dropout=0.0, batch_first=True, norm_first=True)
        self.mix = nn.TransformerEncoder(layer, 2, enable_nested_tensor=False)
        self.num_tokens = NUM_KEYPOINTS
        self.out_channels = width

    def forward(self, inputs: dict[str, torch.Tensor]) -> torch.Tensor:
        return self.mix(self.embed(inputs["keypoints"]) + self.joint)


class CSIEncoder(Encoder):
    """1-D ResNet over the subcarriers, with the antennas × packets (30) as channels; one token per
    output step.

    Why 1-D: a frame's 10 packets span a fraction of a second, so the packet axis is short and
    carries no spatial structure a 2-D kernel would exploit; the subcarrier axis is where the
    multipath frequency pattern lies. It is about ten times cheaper than a 2-D stack over the
    (subcarrier, packet) plane.
    """

    def __init__(self, width: int, shape: tuple[int, int, int] = (ANTENNAS, SUBCARRIERS, PACKETS)):
        super().__init__()
        antennas, subcarriers, packets = shape
        self.net = torch.nn.Sequential(
            conv_stem(antennas * packets, 2 * width, 5, 2, dims=1),
            ResidualBlock(2 * width, 2 * width, 2, dims=1),
            ResidualBlock(2 * width, 4 * width, 2, dims=1),
        )
        steps = conv_out(subcarriers, 5, 2, 2)
        for _ in range(2):
            steps = conv_out(steps, 3, 2, 1)
        self.num_tokens = steps
        self.out_channels = 4 * width

    def forward(self, inputs: dict[str, torch.Tensor]) -> torch.Tensor:
        csi = inputs["csi"]  # (B, antennas, subcarriers, packets)
        b, antennas, subcarriers, packets = csi.shape
        channels = csi.permute(0, 1, 3, 2).reshape(b, antennas * packets, subcarriers)
        return feature_map_to_tokens(self.net(channels))


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


EncoderBuilder = Callable[[ModelConfig, PreprocessConfig], Encoder]
ENCODERS: Registry[EncoderBuilder] = Registry("encoder")
ENCODERS.register("rgb", lambda model, pre: KeypointEncoder(2 * model.encoder_width))
ENCODERS.register("infra1", lambda model, pre: KeypointEncoder(2 * model.encoder_width))
ENCODERS.register("infra2", lambda model, pre: KeypointEncoder(2 * model.encoder_width))
ENCODERS.register(
    "depth",
    lambda model, pre: (
        PointEncoder(3, model.encoder_width) if pre.depth_mode == "points" else DepthEncoder(model.encoder_width, pre)
    ),
)
ENCODERS.register("mmwave", lambda model, pre: PointEncoder(mmwave.channels(pre), model.encoder_width))
ENCODERS.register("lidar", lambda model, pre: PointEncoder(lidar.CHANNELS, model.encoder_width))
ENCODERS.register("wifi-csi", lambda model, pre: CSIEncoder(model.encoder_width, tuple(pre.csi_shape)))
ENCODERS.register("xrf-mmwave", lambda model, pre: HeatmapEncoder(model.encoder_width))
ENCODERS.register("xrf-wifi", lambda model, pre: SignalEncoder(WIFI_SHAPE[0], WIFI_SHAPE[1], model.encoder_width, 4))
ENCODERS.register("xrf-rfid", lambda model, pre: SignalEncoder(RFID_SHAPE[0], RFID_SHAPE[1], model.encoder_width, 1))


def build_encoder(modality: str, model_cfg: ModelConfig, preprocess_cfg: PreprocessConfig) -> Encoder:
    """The encoder of ``modality`` for inputs preprocessed with ``preprocess_cfg``."""
    return ENCODERS.get(modality)(model_cfg, preprocess_cfg)
