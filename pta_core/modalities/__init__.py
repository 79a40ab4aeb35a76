"""Modality registry. Importing this package registers every modality module."""
from pta_core.modalities import depth, keypoints, lidar, mmwave, wifi_csi, xrf55  # noqa: F401  (registration)
from pta_core.modalities.base import MODALITIES, InputField, Modality, empty_sample, get_modality

MMFI_MODALITIES = ("rgb", "depth", "mmwave", "lidar", "wifi-csi")  # the model's MM-Fi set, in X-Fi order
XRF55_MODALITIES = ("xrf-mmwave", "xrf-wifi", "xrf-rfid")

__all__ = [
    "MMFI_MODALITIES",
    "MODALITIES",
    "XRF55_MODALITIES",
    "InputField",
    "Modality",
    "empty_sample",
    "get_modality",
]
