"""Tiny MM-Fi and XRF55 trees in the official on-disk formats, written with the writers the formats
name (``tobytes`` for ``.bin``, PIL 16-bit PNG, ``scipy.io.savemat``, ``np.save``).

Used by the data tests and the data benchmarks; values are seeded per sequence so trees are
reproducible. Tests break individual files afterwards to exercise the quirks.
"""

from __future__ import annotations

import zlib
from collections.abc import Iterable, Sequence
from pathlib import Path

import numpy as np
import scipy.io
from PIL import Image

ALL_MMFI = ("rgb", "infra1", "infra2", "depth", "lidar", "mmwave", "wifi-csi")
EXT = {
    "rgb": ".npy",
    "infra1": ".npy",
    "infra2": ".npy",
    "depth": ".png",
    "lidar": ".bin",
    "mmwave": ".bin",
    "wifi-csi": ".mat",
}


def environment(subject: str) -> str:
    return f"E{(int(subject[1:]) - 1) // 10 + 1:02d}"


def seq_dir(root: Path, subject: str, action: str) -> Path:
    return Path(root) / environment(subject) / subject / action


def frame_path(root: Path, subject: str, action: str, modality: str, frame: int) -> Path:
    return seq_dir(root, subject, action) / modality / f"frame{frame:03d}{EXT[modality]}"


def _rng(*parts: object) -> np.random.Generator:
    return np.random.default_rng(zlib.crc32("/".join(map(str, parts)).encode()))


def write_mmfi_frame(
    root: Path, subject: str, action: str, modality: str, frame: int, depth_shape=(48, 64)
) -> Path:
    rng = _rng(subject, action, modality, frame)
    path = frame_path(root, subject, action, modality, frame)
    path.parent.mkdir(parents=True, exist_ok=True)
    if modality in ("rgb", "infra1", "infra2"):
        np.save(path, rng.uniform([0, 0], [640, 480], size=(17, 2)))
    elif modality == "depth":
        rows, cols = depth_shape
        yy, xx = np.mgrid[0:rows, 0:cols]
        depth = (
            3000
            + 10 * frame
            - 800 * np.exp(-(((yy - rows / 2) / (rows / 4)) ** 2 + ((xx - cols / 2) / (cols / 8)) ** 2))
        )
        Image.fromarray(depth.astype(np.uint16)).save(path)
    elif modality == "lidar":
        path.write_bytes(rng.normal(0, 1, size=(int(rng.integers(20, 400)), 3)).astype(np.float64).tobytes())
    elif modality == "mmwave":
        path.write_bytes(rng.normal(0, 1, size=(int(rng.integers(5, 100)), 5)).astype(np.float64).tobytes())
    elif modality == "wifi-csi":
        amp = rng.uniform(5, 40, size=(3, 114, 10))
        scipy.io.savemat(path, {"CSIamp": amp, "CSIphase": rng.uniform(-np.pi, np.pi, size=(3, 114, 10))})
    else:
        raise ValueError(modality)
    return path


def ground_truth(subject: str, action: str, frames: int) -> np.ndarray:
    rng = _rng(subject, action, "gt")
    base = rng.normal(0, 0.3, size=(1, 17, 3)) + np.array([0.0, 0.0, 3.0])
    return base + 0.01 * np.arange(frames)[:, None, None] * np.ones((1, 17, 3))


def write_mmfi_sequence(
    root: Path,
    subject: str,
    action: str,
    frames: int = 3,
    modalities: Sequence[str] = ALL_MMFI,
    depth_shape=(48, 64),
) -> Path:
    for modality in modalities:
        for frame in range(1, frames + 1):
            write_mmfi_frame(root, subject, action, modality, frame, depth_shape)
    path = seq_dir(root, subject, action)
    path.mkdir(parents=True, exist_ok=True)
    np.save(path / "ground_truth.npy", ground_truth(subject, action, frames))
    return path


def write_mmfi_tree(
    root: Path,
    subjects: Iterable[str],
    actions: Iterable[str],
    frames: int = 3,
    modalities: Sequence[str] = ALL_MMFI,
    depth_shape=(48, 64),
) -> Path:
    actions = list(actions)
    for subject in subjects:
        for action in actions:
            write_mmfi_sequence(root, subject, action, frames, modalities, depth_shape)
    return Path(root)


XRF_FOLDER = {"xrf-mmwave": "mmWave", "xrf-wifi": "WiFi", "xrf-rfid": "RFID"}
XRF_SHAPE = {"xrf-mmwave": (1, 17, 256, 128), "xrf-wifi": (270, 1000), "xrf-rfid": (23, 148)}


def write_xrf55_sample(base: Path, modality: str, volunteer: int, action: int, repetition: int) -> Path:
    rng = _rng(base.name, modality, volunteer, action, repetition)
    folder = Path(base) / XRF_FOLDER[modality]
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / f"{volunteer}_{action}_{repetition}.npy"
    dtype = np.float32 if modality == "xrf-mmwave" else np.float64
    np.save(path, rng.normal(0, 1, size=XRF_SHAPE[modality]).astype(dtype))
    return path


def write_xrf55_tree(
    base: Path,
    volunteers: Iterable[int],
    actions: Iterable[int],
    repetitions: Iterable[int],
    modalities: Sequence[str],
) -> Path:
    actions, repetitions = list(actions), list(repetitions)
    for volunteer in volunteers:
        for action in actions:
            for repetition in repetitions:
                for modality in modalities:
                    write_xrf55_sample(base, modality, volunteer, action, repetition)
    return Path(base)
