"""The model file (`model.pt`): one file, loadable with ``torch.load(..., weights_only=True)``.

Contents (plain Python types and tensors only):
    format, format_version        identify the file and its layout
    config                        the resolved Config (dict), which rebuilds the network
    method, modalities, tasks     what the network consumes and predicts
    state_dict                    the weights (inference path; training-only modules are dropped)
    modality_weights              learned Purify weights (softmax over all modalities), by name
    preprocess                    PreprocessConfig used in training: the node preprocesses with it
    joint_names, activity_classes output orders
    validation                    per modality-combination scores on the validation (meta-val) split
    selection_metric              which validation column ranks combinations, and whether lower is better
    metadata                      creation time, versions, training step, data source
"""
from __future__ import annotations

import datetime
import io
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import torch
from torch import nn

from pta_core import __version__
from pta_core.config import Config, ConfigError, from_dict, to_dict
from pta_core.errors import CheckpointError
from pta_core.io import atomic_write_bytes
from pta_core.models.factory import build_model, model_modalities
from pta_core.skeleton import dataset_joint_set
from pta_core.validation import ValidationRow

FORMAT = "pta_ros.model"
FORMAT_VERSION = 1


@dataclass
class Checkpoint:
    config: Config
    state_dict: dict[str, torch.Tensor]
    activity_classes: tuple[str, ...]
    modality_weights: dict[str, float] = field(default_factory=dict)
    validation: list[ValidationRow] = field(default_factory=list)
    metadata: dict[str, Any] = field(default_factory=dict)
    # What the pose output's rows are (the dataset's joint set); empty for a model without pose.
    joint_names: tuple[str, ...] = ()

    def __post_init__(self) -> None:
        if not self.joint_names and "pose" in self.config.train.tasks:
            self.joint_names = dataset_joint_set(self.config.data.dataset).joints

    @property
    def modalities(self) -> tuple[str, ...]:
        return model_modalities(self.config)

    @property
    def selection_metric(self) -> tuple[str, bool]:
        """(validation column, lower_is_better): MPJPE when the model predicts pose, else accuracy."""
        return ("mpjpe_mm", True) if "pose" in self.config.train.tasks else ("accuracy", False)

    def build(self) -> nn.Module:
        """The network with these weights, in eval mode.

        Raises:
            CheckpointError: the weights do not fit the network the config describes (one line).
        """
        try:
            model = build_model(self.config, len(self.activity_classes))
        except (KeyError, ValueError) as err:
            raise CheckpointError(f"the model file's config builds no network: {err}") from None
        if not isinstance(self.state_dict, dict) or not all(isinstance(v, torch.Tensor) for v in self.state_dict.values()):
            raise CheckpointError("the model file's state_dict is not a mapping of names to tensors")
        try:
            missing, unexpected = model.load_state_dict(self.state_dict, strict=False)
        except RuntimeError as err:  # shape mismatches
            detail = next((line.strip() for line in str(err).splitlines() if "size mismatch" in line), str(err).splitlines()[0])
            raise CheckpointError(f"weights do not match the network: {detail}") from None
        if missing or unexpected:
            raise CheckpointError(f"weights do not match the network: missing {missing[:5]}, unexpected {unexpected[:5]}")
        return model.eval()


def inference_state_dict(model: nn.Module) -> dict[str, torch.Tensor]:
    """Weights of the inference path only (modules a model lists in ``training_only_prefixes`` are dropped)."""
    prefixes = tuple(getattr(model, "training_only_prefixes", ()))
    return {k: v.detach().cpu() for k, v in model.state_dict().items() if not (prefixes and k.startswith(prefixes))}


def save_checkpoint(path: str | Path, checkpoint: Checkpoint) -> None:
    """Write ``checkpoint`` atomically."""
    metric, lower = checkpoint.selection_metric
    payload = {
        "format": FORMAT,
        "format_version": FORMAT_VERSION,
        "config": to_dict(checkpoint.config),
        "method": checkpoint.config.train.method,
        "modalities": list(checkpoint.modalities),
        "tasks": list(checkpoint.config.train.tasks),
        "state_dict": checkpoint.state_dict,
        "modality_weights": dict(checkpoint.modality_weights),
        "preprocess": to_dict(checkpoint.config.data.preprocess),
        "joint_names": list(checkpoint.joint_names),
        "activity_classes": list(checkpoint.activity_classes),
        "validation": [row.to_dict() for row in checkpoint.validation],
        "selection_metric": {"name": metric, "lower_is_better": lower},
        "metadata": {
            "created": datetime.datetime.now(datetime.timezone.utc).isoformat(timespec="seconds"),
            "pta_ros": __version__,
            "torch": str(torch.__version__),
            **checkpoint.metadata,
        },
    }
    buffer = io.BytesIO()
    torch.save(payload, buffer)
    atomic_write_bytes(Path(path), buffer.getvalue())


def load_failure(err: Exception) -> str:
    """Why ``torch.load(weights_only=True)`` failed, in one line.

    torch's refusal of a file that needs arbitrary code advises retrying with ``weights_only=False``:
    that is the unsafe path, so only the refusal itself is kept.
    """
    text = str(err)
    if "WeightsUnpickler error:" in text:
        detail = text.split("WeightsUnpickler error:", 1)[1].strip().splitlines()[0]
        return f"it holds objects other than tensors and plain values (refused, not loaded): {detail}"
    first = text.strip().splitlines()[0] if text.strip() else type(err).__name__
    return f"corrupt or truncated? {first}"


def load_checkpoint(path: str | Path) -> Checkpoint:
    """Read a model file; every failure is a :class:`CheckpointError` that says what is wrong."""
    path = Path(path)
    if not path.is_file():
        raise CheckpointError(f"model file not found: {path}")
    try:
        payload = torch.load(path, map_location="cpu", weights_only=True)
    except Exception as err:  # corrupt zip, truncated file, the weights-only unpickler's refusal
        raise CheckpointError(f"{path} is not a loadable model file: {load_failure(err)}") from None
    if not isinstance(payload, dict) or payload.get("format") != FORMAT:
        raise CheckpointError(f"{path} is not a pta_ros model file (no '{FORMAT}' format tag)")
    version = payload.get("format_version")
    if version != FORMAT_VERSION:
        raise CheckpointError(f"{path} has model format version {version}; this build reads version {FORMAT_VERSION}")
    try:
        config = from_dict(Config, payload["config"])
        return Checkpoint(
            config=config,
            state_dict=payload["state_dict"],
            activity_classes=tuple(payload["activity_classes"]),
            modality_weights=dict(payload.get("modality_weights", {})),
            validation=[ValidationRow.from_dict(row) for row in payload.get("validation", [])],
            metadata=dict(payload.get("metadata", {})),
            joint_names=tuple(payload.get("joint_names", ())),
        )
    except (KeyError, TypeError, ConfigError) as err:
        raise CheckpointError(f"{path} is missing or has malformed fields: {err}") from err


def save_initial_checkpoint(path: str | Path, cfg: Config, activity_classes: tuple[str, ...], *, seed: int = 0) -> Checkpoint:
    """A randomly initialised model in the real format (for tests and for wiring up a robot before training)."""
    torch.manual_seed(seed)
    model = build_model(cfg, len(activity_classes))
    checkpoint = Checkpoint(
        config=cfg,
        state_dict=inference_state_dict(model),
        activity_classes=tuple(activity_classes),
        modality_weights=model.weights.as_dict() if hasattr(model, "weights") else {},
        metadata={"note": "randomly initialised, untrained"},
    )
    save_checkpoint(path, checkpoint)
    return checkpoint
