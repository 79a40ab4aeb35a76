"""The validation table: a model's scores per modality combination, and the set it serves for live sensors.

Torch-free: the checkpoint, the ONNX export's ``model.json`` and the node all read it.
"""
from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Any

SCORES = ("mpjpe_mm", "pa_mpjpe_mm", "root_mm", "rel_mpjpe_mm", "mae_mm", "accuracy")  # ValidationRow's score columns
# The scores that carry a standard error (sequence-clustered), and its column.
STANDARD_ERRORS = {"mpjpe_mm": "mpjpe_se_mm", "accuracy": "accuracy_se"}


@dataclass
class ValidationRow:
    """Scores of one modality combination on the validation split."""

    modalities: tuple[str, ...]
    samples: int
    mpjpe_mm: float | None = None
    pa_mpjpe_mm: float | None = None
    root_mm: float | None = None  # error of the root joint: where the person is
    rel_mpjpe_mm: float | None = None  # MPJPE with the roots aligned: the body alone
    mae_mm: float | None = None  # mean absolute coordinate error (MARS's metric)
    accuracy: float | None = None
    # Standard errors of mpjpe_mm and accuracy, frames clustered by sequence (None: not measured,
    # as in model files written before they were).
    mpjpe_se_mm: float | None = None
    accuracy_se: float | None = None

    def to_dict(self) -> dict[str, Any]:
        return {
            "modalities": list(self.modalities),
            "samples": int(self.samples),
            **{name: getattr(self, name) for name in (*SCORES, *STANDARD_ERRORS.values())},
        }

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> ValidationRow:
        return cls(
            modalities=tuple(data["modalities"]),
            samples=int(data["samples"]),
            **{name: data.get(name) for name in (*SCORES, *STANDARD_ERRORS.values())},
        )


def best_subset(
    rows: Sequence[ValidationRow], metric: str, lower_is_better: bool, modalities: Sequence[str], live: Iterable[str]
) -> tuple[str, ...] | None:
    """The validated combination of ``live`` modalities to serve, in ``modalities`` order.

    The one-standard-error rule (Hastie, Tibshirani & Friedman, *The Elements of Statistical
    Learning*, 2nd ed., §7.10.1): the fewest modalities whose ``metric`` is within one standard
    error of the best combination's, the best score among those. A larger set must beat a smaller
    one by more than the validation split can resolve; otherwise the node would chase noise and
    serve a set that is worse on new data than one of its members. Rows without a standard error
    (model files from before they were measured): the best score, ties to the larger set.
    Without a score for any usable combination (an untrained model), every live modality the model
    knows; None when the model knows none of them.
    """
    available = {m for m in live if m in modalities}
    if not available:
        return None
    scored = [row for row in rows if set(row.modalities) <= available and getattr(row, metric) is not None]
    if not scored:
        return tuple(m for m in modalities if m in available)
    sign = 1.0 if lower_is_better else -1.0

    def loss(row: ValidationRow) -> float:  # lower is better
        return sign * getattr(row, metric)

    best = min(scored, key=lambda row: (loss(row), -len(row.modalities)))
    column = STANDARD_ERRORS.get(metric)
    error = getattr(best, column) if column else None
    if error is not None:
        within = [row for row in scored if loss(row) <= loss(best) + error]
        best = min(within, key=lambda row: (len(row.modalities), loss(row)))
    return tuple(m for m in modalities if m in best.modalities)
