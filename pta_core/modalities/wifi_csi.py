"""Wi-Fi CSI: MM-Fi `wifi-csi/frameNNN.mat` (MAT v5), ``CSIamp`` (3, 114, 10) = antennas × subcarriers × packets.

ROS `wifi/csi` Image 32FC1, height 342 = 3 antennas × 114 subcarriers (antenna-major), width 10
packets, raw amplitudes. Hole filling follows the official toolbox (mmfi.py ``read_frame``);
scaling uses dataset statistics instead of its per-frame min–max.
"""
from __future__ import annotations

from pathlib import Path

import numpy as np

from pta_core.config import PreprocessConfig
from pta_core.errors import DataFormatError, InvalidInput
from pta_core.modalities.base import InputField, Modality, Sample, register

ANTENNAS, SUBCARRIERS, PACKETS = 3, 114, 10  # MM-Fi's files; a model reads PreprocessConfig.csi_shape
SHAPE = (ANTENNAS, SUBCARRIERS, PACKETS)


def read_csi_mat(path: Path) -> np.ndarray:
    """MAT v5 file → ``CSIamp`` float64 (3, 114, 10); ``CSIphase`` is not used (as in the toolbox)."""
    import scipy.io  # here, not at the top: the node never reads files, and scipy is a large import

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


def fill_csi(amp: np.ndarray) -> np.ndarray:
    """The official hole filling: ±inf → NaN; per packet, NaNs ← mean of that packet's finite values.

    A packet with no finite value (where the toolbox would produce NaN) raises
    ``InvalidInput('non_finite')``.
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
    return data


def preprocess(raw: np.ndarray, cfg: PreprocessConfig) -> Sample:
    """CSI amplitude (``csi_shape``: antennas, subcarriers, packets) → ``csi`` of the same shape =
    (amplitude − csi_offset) / csi_scale.

    Holes are filled as the official toolbox does (:func:`fill_csi`); then one affine map with
    dataset statistics (``pta stats`` measures them on a training split). The toolbox instead
    min–max scales every frame on its own, which throws away the amplitude level that a body in
    the path changes.

    Raises:
        InvalidInput: ``shape`` (not ``csi_shape``), ``non_finite`` (a packet without a finite value).
    """
    amp = np.asarray(raw)
    if amp.shape != tuple(cfg.csi_shape):
        raise InvalidInput("shape", f"expected CSI amplitude {tuple(cfg.csi_shape)} (antennas, subcarriers, packets), "
                                    f"got {amp.shape}")
    data = fill_csi(amp)
    return {"csi": ((data - cfg.csi_offset) / cfg.csi_scale).astype(np.float32)}


WIFI_CSI = register(
    Modality(
        name="wifi-csi",
        dataset="mmfi",
        folder="wifi-csi",
        extension=".mat",
        read_file=read_csi_mat,
        preprocess=preprocess,
        input_fields=lambda cfg: {"csi": InputField(tuple(cfg.csi_shape))},
        description="CSI amplitude antennas × subcarriers × packets (csi_shape), standardised with dataset statistics",
    )
)
