"""A packed split on disk, opened as memory-mapped arrays (written by :mod:`pta_core.data.cache`).

Folder contents (``.npy`` files, one row per sample):

- ``input.<modality>.<field>.npy``: preprocessed inputs, zero where the modality is absent;
- ``present.npy`` (N, M) bool, columns in ``modalities`` order;
- ``pose.npy`` (N, 17, 3) float32 metres (MM-Fi only); ``activity.npy`` (N,) int64;
- ``meta.<name>.npy`` (N,) int32 (MM-Fi: environment, subject, action, frame numbers;
  XRF55: scene index into ``manifest['meta_labels']['scene']``, subject, action, repetition);
- ``manifest.json``: written last; a folder without it is not a cache.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import numpy as np

from pta_core.errors import DataFormatError

FORMAT_VERSION = 1
MANIFEST = "manifest.json"


def input_file(modality: str, field: str) -> str:
    return f"input.{modality}.{field}.npy"


def meta_file(name: str) -> str:
    return f"meta.{name}.npy"


class IndexedArray:
    """Rows ``indices`` of a base array, read lazily: ``view[i]`` reads ``base[indices[i]]``."""

    def __init__(self, base: np.ndarray, indices: np.ndarray):
        self.base = base
        self.indices = indices

    @property
    def shape(self) -> tuple[int, ...]:
        return (len(self.indices), *self.base.shape[1:])

    @property
    def dtype(self) -> np.dtype:
        return self.base.dtype

    def __len__(self) -> int:
        return len(self.indices)

    def __getitem__(self, item: Any) -> np.ndarray:
        return self.base[self.indices[item]]

    def __array__(self, dtype: Any = None, copy: Any = None) -> np.ndarray:
        out = self.base[self.indices]
        return out if dtype is None else out.astype(dtype)


class PackedSplit:
    """A packed split (or a row subset of one), with memory-mapped arrays.

    Attributes:
        modalities: modality names; column order of ``present``.
        activity_classes: class names; ``activity`` holds indices into it.
        has_pose: whether ``pose`` exists (MM-Fi).
        manifest: the manifest written by the packer.
        arrays: ``arrays[modality][field]`` (N, *field_shape), memmaps (lazy views for a subset).
        present: (N, M) bool; pose: (N, 17, 3) float32 metres or None; activity: (N,) int64;
        meta: name → (N,) int32.
    """

    def __init__(self, path: str | Path, indices: np.ndarray | None = None):
        self.path = Path(path)
        self.manifest = read_manifest(self.path)
        self.modalities: tuple[str, ...] = tuple(self.manifest["modalities"])
        self.activity_classes: tuple[str, ...] = tuple(self.manifest["activity_classes"])
        self.has_pose: bool = bool(self.manifest["has_pose"])
        self.meta_names: tuple[str, ...] = tuple(self.manifest["meta_names"])
        num = int(self.manifest["num_samples"])
        self._base = {name: _open(self.path, spec) for name, spec in self.manifest["arrays"].items()}
        if indices is not None:
            indices = np.asarray(indices, dtype=np.int64)
            if indices.ndim != 1 or (indices.size and (indices.min() < -num or indices.max() >= num)):
                raise IndexError(f"subset indices must be a 1-D array within 0..{num - 1}")
            indices = indices % max(num, 1)
        self.indices = indices
        self.arrays: dict[str, dict[str, Any]] = {
            m: {f: self._view(f"input.{m}.{f}") for f in self.manifest["fields"][m]} for m in self.modalities
        }
        self.present = self._rows("present")
        self.pose = self._rows("pose") if self.has_pose else None
        self.activity = self._rows("activity")
        self.meta = {name: self._rows(f"meta.{name}") for name in self.meta_names}

    def __len__(self) -> int:
        return int(self.manifest["num_samples"]) if self.indices is None else len(self.indices)

    def __repr__(self) -> str:
        return f"PackedSplit({str(self.path)!r}, n={len(self)}, modalities={list(self.modalities)})"

    def _view(self, name: str) -> Any:
        base = self._base[name]
        return base if self.indices is None else IndexedArray(base, self.indices)

    def _rows(self, name: str) -> np.ndarray:
        # Small per-sample arrays are materialised for a subset (a few bytes per sample).
        base = self._base[name]
        return base if self.indices is None else base[self.indices]

    def base_index(self, indices: np.ndarray) -> np.ndarray:
        """Rows of the packed arrays for positions ``indices`` of this (possibly subset) split."""
        indices = np.asarray(indices, dtype=np.int64)
        return indices if self.indices is None else self.indices[indices]

    def subset(self, indices: Any) -> PackedSplit:
        """A view of rows ``indices`` of this split (composes with an existing subset)."""
        return PackedSplit(self.path, self.base_index(np.asarray(indices, dtype=np.int64)))

    def gather(self, indices: Any) -> dict[str, Any]:
        """Read rows ``indices`` of this split with one fancy-indexed read per array.

        Returns numpy arrays in the batch layout of :func:`pta_core.data.dataset.collate`
        (``inputs``, ``present``, ``pose`` when ``has_pose``, ``activity``, ``index``).
        """
        positions = np.asarray(indices, dtype=np.int64)
        rows = self.base_index(positions)
        batch: dict[str, Any] = {
            "inputs": {
                m: {f: self._base[f"input.{m}.{f}"][rows] for f in self.manifest["fields"][m]}
                for m in self.modalities
            },
            "present": self._base["present"][rows],
        }
        if self.has_pose:
            batch["pose"] = self._base["pose"][rows]
        batch["activity"] = self._base["activity"][rows]
        batch["index"] = positions
        return batch

    # Pickle by path so DataLoader workers (spawn) reopen the memmaps instead of copying them.
    def __getstate__(self) -> dict[str, Any]:
        return {"path": str(self.path), "indices": self.indices}

    def __setstate__(self, state: dict[str, Any]) -> None:
        self.__init__(state["path"], state["indices"])


def read_manifest(path: Path) -> dict[str, Any]:
    """The manifest of a packed split; raises DataFormatError when it is absent, unreadable or foreign."""
    file = Path(path) / MANIFEST
    try:
        manifest = json.loads(file.read_text())
    except FileNotFoundError as err:
        raise DataFormatError(file, "missing: not a complete packed split") from err
    except (OSError, ValueError) as err:
        raise DataFormatError(file, f"unreadable manifest: {err}") from err
    if not isinstance(manifest, dict) or manifest.get("format_version") != FORMAT_VERSION:
        version = manifest.get("format_version") if isinstance(manifest, dict) else None
        raise DataFormatError(file, f"cache format {version!r} is not {FORMAT_VERSION}")
    return manifest


def _open(path: Path, spec: dict[str, Any]) -> np.ndarray:
    file = path / spec["file"]
    try:
        array = np.load(file, mmap_mode="r", allow_pickle=False)
    except (OSError, ValueError) as err:
        raise DataFormatError(file, f"unreadable packed array: {err}") from err
    if list(array.shape) != list(spec["shape"]) or array.dtype.str != spec["dtype"]:
        raise DataFormatError(
            file, f"expected {spec['shape']} {spec['dtype']}, got {list(array.shape)} {array.dtype.str}"
        )
    return array
