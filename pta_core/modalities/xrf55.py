"""XRF55 modalities (training and evaluation only): mmWave heatmaps, Wi-Fi, RFID.

Files are ``a_b_c.npy`` per modality folder (docs/datasets.md §2.2). Inputs are the raw arrays as
float32, as X-Fi and PTA feed them (no normalisation).
"""
from __future__ import annotations

from pathlib import Path

import numpy as np

from pta_core.config import PreprocessConfig
from pta_core.errors import DataFormatError, InvalidInput
from pta_core.modalities.base import InputField, Modality, Sample, register

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


XRF_MMWAVE = register(
    Modality(
        name="xrf-mmwave",
        dataset="xrf55",
        folder="mmWave",
        extension=".npy",
        read_file=_reader(((1, *MMWAVE_SHAPE), MMWAVE_SHAPE)),
        preprocess=_preprocess(MMWAVE_SHAPE, "heatmap"),
        input_fields=lambda cfg: {"heatmap": InputField(MMWAVE_SHAPE)},
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
        description="XRF55 RFID phase, 23 tags × 148 steps",
    )
)
