"""The validation table: a model's scores per modality combination, and the set it serves for live sensors.

Torch-free: the checkpoint, the ONNX export's ``model.json`` and the node all read it.
"""
from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Any

SCORES = ("mpjpe_mm", "pa_mpjpe_mm", "root_mm", "rel_mpjpe_mm", "accuracy")  # ValidationRow's score columns


@dataclass
class ValidationRow:
    """Scores of one modality combination on the validation split."""

    modalities: tuple[str, ...]
    samples: int
    mpjpe_mm: float | None = None
    pa_mpjpe_mm: float | None = None
    root_mm: float | None = None  # error of the root joint: where the person is
    rel_mpjpe_mm: float | None = None  # MPJPE with the roots aligned: the body alone
    accuracy: float | None = None

    def to_dict(self) -> dict[str, Any]:
        return {
            "modalities": list(self.modalities),
            "samples": int(self.samples),
            **{name: getattr(self, name) for name in SCORES},
        }

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> ValidationRow:
        return cls(
            modalities=tuple(data["modalities"]),
            samples=int(data["samples"]),
            **{name: data.get(name) for name in SCORES},
        )


def best_subset(
    rows: Sequence[ValidationRow], metric: str, lower_is_better: bool, modalities: Sequence[str], live: Iterable[str]
) -> tuple[str, ...] | None:
    """The validated combination of ``live`` modalities with the best ``metric``, in ``modalities`` order.

    Ties go to the larger set. Without a score for any usable combination (an untrained model),
    every live modality the model knows; None when the model knows none of them.
    """
    available = {m for m in live if m in modalities}
    if not available:
        return None
    scored = [row for row in rows if set(row.modalities) <= available and getattr(row, metric) is not None]
    if not scored:
        return tuple(m for m in modalities if m in available)
    sign = 1.0 if lower_is_better else -1.0
    best = min(scored, key=lambda row: (sign * getattr(row, metric), -len(row.modalities)))
    return tuple(m for m in modalities if m in best.modalities)
