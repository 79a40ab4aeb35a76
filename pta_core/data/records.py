"""What the dataset readers hand to the packer: one raw sample, its absent modalities, and the counts.

A modality is *absent* from a sample for a reason that gets counted: its file is ``missing``, is
``empty`` (0 bytes: real MM-Fi radar frames with no point), is ``corrupt`` (only when the config is
lenient; otherwise the read raises), or preprocessing rejected it (``invalid_<reason>``).
"""

from __future__ import annotations

import logging
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from pta_core.errors import DataFormatError
from pta_core.modalities import Modality

log = logging.getLogger(__name__)

MISSING = "missing"
EMPTY = "empty"
CORRUPT = "corrupt"

_LOUD_SKIPS = 20  # corrupt files logged at WARNING before the rest go to DEBUG (the total is always counted)


@dataclass
class ReadStats:
    """Counters of a scan or a read: ``events`` (e.g. ``sequences_missing``, ``stray_files``) and, per
    modality, the reasons it was absent from a sample."""

    events: Counter = field(default_factory=Counter)
    absent: dict[str, Counter] = field(default_factory=dict)

    def count(self, event: str, n: int = 1) -> None:
        self.events[event] += n

    def count_absent(self, modality: str, reason: str) -> None:
        self.absent.setdefault(modality, Counter())[reason] += 1

    def merge(self, other: ReadStats) -> None:
        self.events.update(other.events)
        for modality, reasons in other.absent.items():
            self.absent.setdefault(modality, Counter()).update(reasons)

    def to_dict(self) -> dict[str, Any]:
        return {
            "events": dict(sorted(self.events.items())),
            "absent": {m: dict(sorted(c.items())) for m, c in sorted(self.absent.items())},
        }

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> ReadStats:
        return cls(
            events=Counter(data.get("events", {})),
            absent={m: Counter(c) for m, c in data.get("absent", {}).items()},
        )


@dataclass(frozen=True)
class Record:
    """One sample as the packer consumes it.

    ``raw[m]`` is the array ``read_file`` returned, or None with ``absent[m]`` saying why.
    ``pose`` is (17, 3) metres (MM-Fi) or None (XRF55); ``activity`` the 0-based class label;
    ``meta`` integers in the order of the source's ``meta_names``.
    """

    raw: dict[str, np.ndarray | None]
    absent: dict[str, str]
    pose: np.ndarray | None
    activity: int
    meta: tuple[int, ...]


class _CorruptLog:
    """Logs the first corrupt files loudly, the rest quietly, so a bad disk does not flood the log."""

    seen = 0

    @classmethod
    def report(cls, err: DataFormatError) -> None:
        cls.seen += 1
        level = logging.WARNING if cls.seen <= _LOUD_SKIPS else logging.DEBUG
        log.log(level, "skipping corrupt file (lenient): %s", err)


def read_raw(
    modality: Modality, path: Path, size: int, *, lenient: bool
) -> tuple[np.ndarray | None, str | None]:
    """Read one modality file: ``(array, None)``, or ``(None, reason)`` for an empty or (lenient) corrupt file.

    Raises:
        DataFormatError: the file is corrupt and ``lenient`` is false (the message names the file).
    """
    if size == 0:
        return None, EMPTY
    try:
        return modality.read_file(path), None
    except DataFormatError as err:
        if not lenient:
            raise
        _CorruptLog.report(err)
        return None, CORRUPT
