"""From a data-layer batch (:func:`pta_core.data.collate`) to what a network consumes.

The packed split may hold more modalities than a network uses (a single-modality baseline) and in a
different order; ``present`` columns are mapped by name.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import torch

from pta_core.models.objectives import Targets


@dataclass
class ModelBatch:
    inputs: dict[str, dict[str, torch.Tensor]]  # the network's modalities only
    present: torch.Tensor  # (B, M) bool, the network's modality order (data presence, before sampling)
    targets: Targets
    index: torch.Tensor  # (B,) sample index within the dataset

    def __len__(self) -> int:
        return int(self.present.shape[0])

    def rows(self, keep: torch.Tensor) -> ModelBatch:
        """The samples where ``keep`` (B,) bool is true."""
        keep = keep.to(self.present.device)
        return ModelBatch(
            inputs={m: {k: v[keep] for k, v in fields.items()} for m, fields in self.inputs.items()},
            present=self.present[keep],
            targets=self.targets.rows(keep),
            index=self.index[keep.to(self.index.device)],
        )

    def to(self, device: torch.device) -> ModelBatch:
        move = lambda t: None if t is None else t.to(device, non_blocking=True)  # noqa: E731
        return ModelBatch(
            inputs={m: {k: move(v) for k, v in fields.items()} for m, fields in self.inputs.items()},
            present=move(self.present),
            targets=Targets(pose=move(self.targets.pose), activity=move(self.targets.activity),
                            labelled=move(self.targets.labelled)),
            index=self.index,
        )

    def unlabelled(self) -> ModelBatch:
        """The same rows as unlabelled frames (``train.labelled_fraction``): NaN pose, activity -1, so a
        loss that reads them by mistake fails instead of learning from labels it may not have."""
        pose, activity = self.targets.pose, self.targets.activity
        return ModelBatch(
            inputs=self.inputs, present=self.present, index=self.index,
            targets=Targets(
                pose=None if pose is None else torch.full_like(pose, float("nan")),
                activity=None if activity is None else torch.full_like(activity, -1),
                labelled=torch.zeros(len(self), dtype=torch.bool),
            ),
        )


def concat_batches(labelled: ModelBatch, unlabelled: ModelBatch) -> ModelBatch:
    """One batch of ``labelled`` then ``unlabelled`` rows (CPU), with ``targets.labelled`` marking them."""
    cat = lambda a, b: None if a is None else torch.cat([a, b])  # noqa: E731
    flags = torch.ones(len(labelled), dtype=torch.bool) if labelled.targets.labelled is None else labelled.targets.labelled
    return ModelBatch(
        inputs={m: {k: torch.cat([v, unlabelled.inputs[m][k]]) for k, v in fields.items()}
                for m, fields in labelled.inputs.items()},
        present=torch.cat([labelled.present, unlabelled.present]),
        targets=Targets(
            pose=cat(labelled.targets.pose, unlabelled.targets.pose),
            activity=cat(labelled.targets.activity, unlabelled.targets.activity),
            labelled=torch.cat([flags, unlabelled.targets.labelled]),
        ),
        index=torch.cat([labelled.index, unlabelled.index]),
    )


def presence_columns(split_modalities: tuple[str, ...], modalities: tuple[str, ...]) -> list[int]:
    """Column of each network modality in the split's ``present`` matrix."""
    missing = [m for m in modalities if m not in split_modalities]
    if missing:
        raise ValueError(f"the packed split has no {missing} (it holds {list(split_modalities)}); check data.modalities")
    return [split_modalities.index(m) for m in modalities]


def model_batch(batch: dict[str, Any], split_modalities: tuple[str, ...], modalities: tuple[str, ...]) -> ModelBatch:
    """Select and reorder a collated batch for a network over ``modalities`` (stays on the CPU)."""
    columns = presence_columns(split_modalities, modalities)
    return ModelBatch(
        inputs={m: batch["inputs"][m] for m in modalities},
        present=batch["present"][:, columns].bool(),
        targets=Targets(pose=batch.get("pose"), activity=batch.get("activity")),
        index=batch["index"],
    )
