"""Single-frame inference for serving (the ROS node): checkpoint → preprocessing → model → prediction.

Uses the checkpoint's own preprocessing parameters, so serving preprocesses exactly as training did.
"""
from __future__ import annotations

import logging
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch

from pta_core.checkpoint import Checkpoint, ValidationRow, load_checkpoint
from pta_core.config import PreprocessConfig
from pta_core.errors import CheckpointError
from pta_core.modalities import empty_sample, get_modality

log = logging.getLogger(__name__)

Sample = dict[str, np.ndarray]


@dataclass(frozen=True)
class Prediction:
    joints: np.ndarray | None  # (17, 3) float32 metres, H36M order
    activity_probs: np.ndarray | None  # (K,) float32, checkpoint class order
    modalities: tuple[str, ...]  # the modalities the prediction used


def resolve_device(device: str) -> torch.device:
    """``auto`` → CUDA when available, else CPU; anything else as torch spells it."""
    if device == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    resolved = torch.device(device)
    if resolved.type == "cuda" and not torch.cuda.is_available():
        raise ValueError(f"device {device!r} requested but CUDA is not available")
    return resolved


class Predictor:
    def __init__(self, checkpoint: Checkpoint, device: str | torch.device = "auto"):
        self.checkpoint = checkpoint
        self.device = resolve_device(device) if isinstance(device, str) else device
        self.model = checkpoint.build().to(self.device)
        self.modalities: tuple[str, ...] = checkpoint.modalities
        self.preprocess_config: PreprocessConfig = checkpoint.config.data.preprocess
        self.joint_names = checkpoint.joint_names
        self.activity_classes = checkpoint.activity_classes
        self.validation: list[ValidationRow] = list(checkpoint.validation)
        self._metric, self._lower_is_better = checkpoint.selection_metric
        # Zero inputs for absent modalities, built once (absent modalities are masked, not computed).
        self._empty = {
            name: {k: torch.from_numpy(v)[None].to(self.device) for k, v in empty_sample(get_modality(name), self.preprocess_config).items()}
            for name in self.modalities
        }

    @classmethod
    def from_checkpoint(cls, path: str | Path, device: str = "auto") -> Predictor:
        checkpoint = load_checkpoint(path)
        try:
            return cls(checkpoint, device)
        except (RuntimeError, ValueError) as err:
            raise CheckpointError(f"{path}: cannot build the model: {err}") from err

    def best_subset(self, live: Iterable[str]) -> tuple[str, ...] | None:
        """The validated combination of live modalities with the best score.

        Without a validation table (an untrained checkpoint) every live modality the model knows is used.
        """
        available = {m for m in live if m in self.modalities}
        if not available:
            return None
        scored = [
            row
            for row in self.validation
            if set(row.modalities) <= available and getattr(row, self._metric) is not None
        ]
        if not scored:
            return tuple(m for m in self.modalities if m in available)
        sign = 1.0 if self._lower_is_better else -1.0
        best = min(scored, key=lambda row: (sign * getattr(row, self._metric), -len(row.modalities)))
        return tuple(m for m in self.modalities if m in best.modalities)

    def preprocess(self, modality: str, raw: np.ndarray) -> Sample:
        """The training preprocessing; raises :class:`~pta_core.errors.InvalidInput` for unusable samples."""
        return get_modality(modality).preprocess(raw, self.preprocess_config)

    @torch.inference_mode()
    def predict(self, samples: dict[str, Sample]) -> Prediction:
        """Predict one frame from preprocessed samples of any non-empty subset of the model's modalities."""
        unknown = set(samples) - set(self.modalities)
        if unknown:
            raise ValueError(f"modalities {sorted(unknown)} are not in the model ({list(self.modalities)})")
        if not samples:
            raise ValueError("no modality to predict from")
        inputs = {}
        for name in self.modalities:
            if name in samples:
                inputs[name] = {k: torch.from_numpy(np.ascontiguousarray(v))[None].to(self.device) for k, v in samples[name].items()}
            else:
                inputs[name] = self._empty[name]
        present = torch.tensor([[name in samples for name in self.modalities]], device=self.device)
        output = self.model(inputs, present)
        joints = output.pose[0].float().cpu().numpy() if output.pose is not None else None
        probs = torch.softmax(output.activity[0].float(), 0).cpu().numpy() if output.activity is not None else None
        used = tuple(m for m in self.modalities if m in samples)
        return Prediction(joints=joints, activity_probs=probs, modalities=used)
