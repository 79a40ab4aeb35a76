"""XRF55 in its raw ``.npy`` layouts (docs/datasets.md §2): one ``a_b_c.npy`` per modality and sample,
a = volunteer, b = action class 1–55, c = repetition 1–20.

Two layouts are read:

- per scene: ``<root>/<Scene>/<WiFi|RFID|mmWave>/a_b_c.npy`` (Kaggle's ``<Scene>_partN`` folders count
  as that scene too);
- single scene: ``<root>/<WiFi|RFID|mmWave>/a_b_c.npy``, the scene taken from the config (one scene).

Subjects are keyed by (scene, volunteer): volunteer ids may restart per scene. The official split
puts repetitions 1..``train_repetitions`` (14) in train and the rest in test. A sample is the union
of the selected modalities' files with the same name; a modality without that file is absent there.
Empty (0-byte) and corrupt files follow the MM-Fi rules (see :mod:`pta_core.data.records`).
"""

from __future__ import annotations

import logging
import os
import re
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from pta_core.data.records import MISSING, ReadStats, read_raw
from pta_core.errors import DataFormatError
from pta_core.modalities import get_modality

log = logging.getLogger(__name__)

XRF55_CLASSES: tuple[str, ...] = (
    "carrying weight", "mopping the floor", "using a phone", "throwing something", "picking something",
    "putting something on the table", "cutting something", "wearing a hat",
    "putting on clothing", "blowing dry hair", "combing hair", "brushing teeth", "drinking", "eating", "smoking",
    "shaking hands", "hugging", "handing something to someone", "kicking someone", "hitting someone with something",
    "choking someone's neck", "pushing someone",
    "body weight squats", "Tai Chi", "boxing", "weightlifting", "hula hooping", "jumping rope", "jumping jack",
    "high leg lifting",
    "waving", "clapping hands", "falling on the floor", "jumping", "running", "sitting down",
    "standing up", "turning", "walking", "stretching", "patting on the shoulder",
    "playing Er-Hu", "playing Ukulele", "playing drum", "foot stamping",
    "shaking head", "nodding", "drawing a circle", "drawing a cross", "pushing", "pulling",
    "swiping left", "swiping right", "swiping up", "swiping down",
)  # fmt: skip
NUM_REPETITIONS = 20
_NAME = re.compile(r"(\d+)_(\d+)_(\d+)\.npy")


@dataclass(frozen=True, order=True)
class XRFKey:
    """One sample: scene index (position in the configured scenes), volunteer, class 1–55, repetition 1–20."""

    scene: int
    volunteer: int
    action: int
    repetition: int


@dataclass(frozen=True)
class XRFFile:
    path: Path
    size: int
    mtime_ns: int


@dataclass(frozen=True)
class XRFSample:
    """Raw arrays as stored (or None where absent, with the reason in ``absent``)."""

    scene: str
    key: XRFKey
    raw: dict[str, np.ndarray | None]
    absent: dict[str, str]

    @property
    def activity(self) -> int:
        return self.key.action - 1


def check_modalities(modalities: Sequence[str]) -> tuple[str, ...]:
    names = tuple(modalities)
    for name in names:
        if get_modality(name).dataset != "xrf55":
            raise ValueError(f"modality {name!r} is not an XRF55 modality (xrf-mmwave, xrf-wifi, xrf-rfid)")
    if len(set(names)) != len(names):
        raise ValueError(f"duplicate modality in {list(names)}")
    return names


def scene_dirs(root: str | Path, scenes: Sequence[str]) -> dict[str, list[Path]]:
    """Folders holding each scene's modality folders, detecting the layout.

    Raises:
        FileNotFoundError: no XRF55 layout under ``root``.
        ValueError: a single-scene tree with several scenes configured.
    """
    root = Path(root)
    folders = {get_modality(m).folder for m in ("xrf-mmwave", "xrf-wifi", "xrf-rfid")}
    if not root.is_dir():
        raise FileNotFoundError(f"XRF55 root {root} does not exist")
    names = sorted(os.listdir(root))
    per_scene = {
        s: [root / n for n in names if re.fullmatch(re.escape(s) + r"(_part\d+)?", n) and (root / n).is_dir()]
        for s in scenes
    }
    if any(per_scene.values()):
        return per_scene
    if any((root / f).is_dir() for f in folders):
        if len(scenes) != 1:
            raise ValueError(
                f"{root} holds a single scene (WiFi/RFID/mmWave at the top) but data.scenes is {list(scenes)}"
            )
        return {scenes[0]: [root]}
    raise FileNotFoundError(
        f"no XRF55 data under {root}: expected <root>/<Scene>/<WiFi|RFID|mmWave>/a_b_c.npy "
        f"for scenes {list(scenes)} or <root>/<WiFi|RFID|mmWave>/a_b_c.npy"
    )


def scan_xrf55(
    root: str | Path,
    scenes: Sequence[str],
    modalities: Sequence[str],
    *,
    lenient: bool = False,
    stats: ReadStats | None = None,
) -> dict[XRFKey, dict[str, XRFFile]]:
    """Every sample on disk → its files per modality.

    Names that are not ``a_b_c.npy`` are stray (counted); a name with a class outside 1–55 or a
    repetition outside 1–20, or two files for one sample, raises (lenient: counted, skipped).
    """
    names = check_modalities(modalities)
    stats = stats if stats is not None else ReadStats()
    samples: dict[XRFKey, dict[str, XRFFile]] = {}
    for scene_index, (scene, dirs) in enumerate(scene_dirs(root, scenes).items()):
        if not dirs:
            log.warning("XRF55 scene %s is not on disk under %s", scene, root)
            stats.count("scenes_missing")
        for base in dirs:
            for name in names:
                folder = base / get_modality(name).folder
                if folder.is_dir():
                    _scan_folder(folder, scene_index, name, samples, lenient, stats)
    return samples


def _scan_folder(
    folder: Path, scene: int, modality: str, samples: dict, lenient: bool, stats: ReadStats
) -> None:
    with os.scandir(folder) as entries:
        for entry in entries:
            match = _NAME.fullmatch(entry.name)
            if match is None or not entry.is_file():
                stats.count("stray_files")
                continue
            volunteer, action, repetition = (int(g) for g in match.groups())
            path = folder / entry.name
            try:
                if not (1 <= action <= len(XRF55_CLASSES) and 1 <= repetition <= NUM_REPETITIONS):
                    raise DataFormatError(
                        path, f"class must be 1..{len(XRF55_CLASSES)} and repetition 1..{NUM_REPETITIONS}"
                    )
                key = XRFKey(scene, volunteer, action, repetition)
                files = samples.setdefault(key, {})
                if modality in files:
                    raise DataFormatError(path, f"same sample as {files[modality].path}")
            except DataFormatError as err:
                if not lenient:
                    raise
                log.warning("skipping file (lenient): %s", err)
                stats.count("bad_file_names")
                continue
            stat = entry.stat()
            files[modality] = XRFFile(path, stat.st_size, stat.st_mtime_ns)


def split_keys(keys: Sequence[XRFKey], side: str, train_repetitions: int) -> list[XRFKey]:
    """Official rule: repetitions 1..``train_repetitions`` train, the rest test (sorted keys)."""
    if side not in ("train", "test"):
        raise ValueError(f"unknown split side {side!r}; expected 'train' or 'test'")
    if not 0 <= train_repetitions <= NUM_REPETITIONS:
        raise ValueError(f"train_repetitions must be in 0..{NUM_REPETITIONS}, got {train_repetitions}")
    train = side == "train"
    return sorted(k for k in keys if (k.repetition <= train_repetitions) == train)


def iter_samples(
    files: dict[XRFKey, dict[str, XRFFile]],
    keys: Sequence[XRFKey],
    scenes: Sequence[str],
    modalities: Sequence[str],
    *,
    lenient: bool = False,
) -> Iterator[XRFSample]:
    """Read the given samples in order.

    Raises:
        DataFormatError: a corrupt file (not lenient); the message names the file.
    """
    names = check_modalities(modalities)
    for key in keys:
        raw: dict[str, np.ndarray | None] = {}
        absent: dict[str, str] = {}
        for name in names:
            entry = files[key].get(name)
            if entry is None:
                raw[name], reason = None, MISSING
            else:
                raw[name], reason = read_raw(get_modality(name), entry.path, entry.size, lenient=lenient)
            if reason is not None:
                absent[name] = reason
        yield XRFSample(scenes[key.scene], key, raw, absent)
