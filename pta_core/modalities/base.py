"""What a modality is: how its raw files are read and how a raw sample becomes model input.

Every modality module builds one :class:`Modality` and registers it in :data:`MODALITIES`.
Adding a modality means adding one module (imported in ``modalities/__init__.py``) and its
encoder's entry in :data:`pta_core.models.encoders.ENCODERS`.

Contract for registrants:
- ``read_file(path)`` returns the raw sample exactly as the dataset stores it, or raises
  :class:`~pta_core.errors.DataFormatError` naming the file. A 0-byte file is *not* read: callers
  treat it as an empty frame before calling ``read_file``.
- ``preprocess(raw, cfg)`` is the single preprocessing path used by training, evaluation and the
  ROS node. It returns float32 (masks: bool) arrays whose shapes are given by ``input_fields(cfg)``,
  or raises :class:`~pta_core.errors.InvalidInput` when the sample must not be used.

Numpy only: the onnxruntime node serves without torch. Each modality's network lives in
:mod:`pta_core.models.encoders`.
"""
from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from pta_core.config import PreprocessConfig
from pta_core.registry import Registry

Sample = dict[str, np.ndarray]


@dataclass(frozen=True)
class InputField:
    shape: tuple[int, ...]
    dtype: type = np.float32


@dataclass(frozen=True)
class Modality:
    name: str  # registry name, as in configs and checkpoints
    dataset: str  # "mmfi" or "xrf55"
    folder: str  # directory name on disk (MM-Fi `wifi-csi`, XRF55 `WiFi`)
    extension: str  # file extension including the dot
    read_file: Callable[[Path], np.ndarray]
    preprocess: Callable[[np.ndarray, PreprocessConfig], Sample]
    input_fields: Callable[[PreprocessConfig], dict[str, InputField]]
    description: str = ""


MODALITIES: Registry[Modality] = Registry("modality")


def register(modality: Modality) -> Modality:
    return MODALITIES.register(modality.name, modality)


def get_modality(name: str) -> Modality:
    return MODALITIES.get(name)


def empty_sample(modality: Modality, cfg: PreprocessConfig) -> Sample:
    """Zero-filled input for an absent modality (masked out by the fusion)."""
    return {key: np.zeros(f.shape, dtype=f.dtype) for key, f in modality.input_fields(cfg).items()}
