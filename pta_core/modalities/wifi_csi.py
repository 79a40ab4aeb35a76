"""Wi-Fi CSI: MM-Fi `wifi-csi/frameNNN.mat` (MAT v5), ``CSIamp`` (3, 114, 10) = antennas × subcarriers × packets.

ROS `wifi/csi` Image 32FC1, height 342 = 3 antennas × 114 subcarriers (antenna-major), width 10
packets, raw amplitudes. Normalisation follows the official toolbox (mmfi.py ``read_frame``).
"""
from __future__ import annotations

from pathlib import Path

import numpy as np
import scipy.io
import torch

from pta_core.config import PreprocessConfig
from pta_core.errors import DataFormatError, InvalidInput
from pta_core.modalities.base import Encoder, InputField, Modality, Sample, register
from pta_core.models.blocks import ResidualBlock, conv_out, conv_stem, feature_map_to_tokens

ANTENNAS, SUBCARRIERS, PACKETS = 3, 114, 10
SHAPE = (ANTENNAS, SUBCARRIERS, PACKETS)


def read_csi_mat(path: Path) -> np.ndarray:
    """MAT v5 file → ``CSIamp`` float64 (3, 114, 10); ``CSIphase`` is not used (as in the toolbox)."""
    try:
        mat = scipy.io.loadmat(path, variable_names=["CSIamp"])
    except Exception as err:  # scipy raises many types (MatReadError, ValueError, OSError, TypeError)
        raise DataFormatError(path, f"not a readable MAT v5 file: {err}") from err
    if "CSIamp" not in mat:
        raise DataFormatError(path, "has no CSIamp variable")
    amp = np.asarray(mat["CSIamp"])
    if amp.shape != SHAPE or not np.issubdtype(amp.dtype, np.number):
        raise DataFormatError(path, f"CSIamp must be numeric {SHAPE}, got {amp.shape} {amp.dtype}")
    return amp.astype(np.float64)


def normalise_csi(amp: np.ndarray) -> np.ndarray:
    """The official normalisation: ±inf → NaN; per packet, NaNs ← mean of that packet's finite
    values; then min–max over the whole frame → [0, 1].

    Two cases the toolbox turns into NaN are decided here instead: a packet with no finite value
    raises ``InvalidInput('non_finite')``; a constant frame maps to zeros.
    """
    data = np.array(amp, dtype=np.float64)
    data[~np.isfinite(data)] = np.nan
    for k in range(data.shape[2]):
        packet = data[:, :, k]
        holes = np.isnan(packet)
        if holes.any():
            if holes.all():
                raise InvalidInput("non_finite", f"CSI packet {k} has no finite amplitude")
            packet[holes] = packet[~holes].mean()
    low, high = data.min(), data.max()
    if high == low:
        return np.zeros_like(data, dtype=np.float32)
    return ((data - low) / (high - low)).astype(np.float32)


def preprocess(raw: np.ndarray, cfg: PreprocessConfig) -> Sample:
    """CSI amplitude (3, 114, 10) → ``csi`` (3, 114, 10) in [0, 1].

    Raises:
        InvalidInput: ``shape`` (not 3×114×10), ``non_finite`` (a packet without a finite value).
    """
    amp = np.asarray(raw)
    if amp.shape != SHAPE:
        raise InvalidInput("shape", f"expected CSI amplitude {SHAPE}, got {amp.shape}")
    return {"csi": normalise_csi(amp)}


class CSIEncoder(Encoder):
    """Antennas as channels over the (subcarrier, packet) plane; one token per output cell."""

    def __init__(self, width: int):
        super().__init__()
        self.net = torch.nn.Sequential(
            conv_stem(ANTENNAS, width, 3, (2, 1)),
            ResidualBlock(width, 2 * width, (2, 1)),
            ResidualBlock(2 * width, 2 * width, (2, 2)),
        )
        rows, cols = SUBCARRIERS, PACKETS
        for stride_r, stride_c in ((2, 1), (2, 1), (2, 2)):
            rows, cols = conv_out(rows, 3, stride_r, 1), conv_out(cols, 3, stride_c, 1)
        self.num_tokens = rows * cols
        self.out_channels = 2 * width

    def forward(self, inputs: dict[str, torch.Tensor]) -> torch.Tensor:
        return feature_map_to_tokens(self.net(inputs["csi"]))


WIFI_CSI = register(
    Modality(
        name="wifi-csi",
        dataset="mmfi",
        folder="wifi-csi",
        extension=".mat",
        read_file=read_csi_mat,
        preprocess=preprocess,
        input_fields=lambda cfg: {"csi": InputField(SHAPE)},
        build_encoder=lambda model, pre: CSIEncoder(model.encoder_width),
        description="CSI amplitude 3 antennas × 114 subcarriers × 10 packets, min-max normalised",
    )
)
