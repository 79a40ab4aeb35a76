"""``model.pt`` → ONNX graphs of the deployed path, for runtimes without PyTorch (onnxruntime, TensorRT).

Layout: one graph per modality, ``encoder_<modality>.onnx`` (preprocessed input fields → projected,
standardised tokens (B, L, D)), one ``fusion.onnx`` (tokens of every modality (B, M, L, D) and the
present mask (B, M) → pose (B, 17, 3) metres and the frame embedding (B, E)) and, with a windowed
activity head, ``activity_window.onnx`` (embeddings (B, T, E) and validity (B, T) → logits (B, K)).

Why this layout and not one graph per modality set: the node runs only the encoders of the set it
chose, and one fusion graph serves all 31 sets through its mask input (the Purify weights are
renormalised over the present modalities inside the graph, as in training). 31 whole-model graphs
would hold 16 copies of every encoder.

``model.json`` beside the graphs carries what the checkpoint carries: modalities, input fields,
preprocessing, joint and class names, the validation table, the Purify weights, the activity window.
Every export is checked against PyTorch on real samples (``check_against_torch``).
"""
from __future__ import annotations

import dataclasses
import hashlib
import json
import logging
import warnings
from pathlib import Path
from typing import Any

import numpy as np
import torch
from torch import nn

from pta_core.checkpoint import Checkpoint
from pta_core.config import activity_window
from pta_core.errors import CheckpointError
from pta_core.modalities import get_modality
from pta_core.models.pta import PTAModel
from pta_core.onnx_predictor import FORMAT, FORMAT_VERSION, METADATA

log = logging.getLogger(__name__)

OPSET = 18


class EncoderGraph(nn.Module):
    """One modality's encoder and projector, its input fields as positional arguments."""

    def __init__(self, model: PTAModel, modality: str, fields: list[str]):
        super().__init__()
        self.encoder, self.projector, self.fields = model.encoders[modality], model.projectors[modality], fields

    def forward(self, *inputs: torch.Tensor) -> torch.Tensor:
        return self.projector(self.encoder(dict(zip(self.fields, inputs))))


class FusionGraph(nn.Module):
    """heads(Σ w̃_m F_m) from every modality's tokens and the present mask → pose and, as the model
    has it, the frame embedding (windowed activity head) or per-frame activity logits."""

    def __init__(self, model: PTAModel):
        super().__init__()
        self.model = model
        self.outputs = ["pose"] + (["embedding"] if model.task.windowed else
                                   ["activity"] if model.task.activity_head is not None else [])

    def forward(self, tokens: torch.Tensor, present: torch.Tensor) -> tuple[torch.Tensor, ...]:
        features = {name: tokens[:, i] for i, name in enumerate(self.model.modalities)}
        output = self.model.decode(features, present)
        return tuple(getattr(output, name) for name in self.outputs)


class StudentsGraph(nn.Module):
    """Each modality's own pose readout (its student, or the shared heads without students) from every
    modality's tokens: what live quality reads per frame, without the fusion's other heads."""

    def __init__(self, model: PTAModel):
        super().__init__()
        self.model = model

    def forward(self, tokens: torch.Tensor) -> torch.Tensor:
        return torch.stack([self.model.student(name)(tokens[:, i]).pose for i, name in enumerate(self.model.modalities)],
                           dim=1)


class WindowGraph(nn.Module):
    def __init__(self, model: PTAModel):
        super().__init__()
        self.model = model

    def forward(self, embeddings: torch.Tensor, valid: torch.Tensor) -> torch.Tensor:
        return self.model.window_activity(embeddings, valid)


def _export(module: nn.Module, args: tuple, path: Path, names: list[str], outputs: list[str]) -> None:
    batch = torch.export.Dim("batch", min=1, max=4096)
    with warnings.catch_warnings():  # the exporter's own deprecation and naming chatter
        warnings.simplefilter("ignore", (UserWarning, FutureWarning, DeprecationWarning))
        _export_quietly(module, args, path, names, outputs, batch)


def _export_quietly(module: nn.Module, args: tuple, path: Path, names: list[str], outputs: list[str], batch) -> None:
    logging.getLogger("onnx_ir").setLevel(logging.WARNING)
    for name in ("onnxscript", "torch.onnx"):  # constant-folding notes; "torchvision is not installed"
        logging.getLogger(name).setLevel(logging.ERROR)
    torch.onnx.export(
        module, args, str(path), input_names=names, output_names=outputs, opset_version=OPSET,
        dynamic_shapes=(tuple({0: batch} for _ in args),) if isinstance(module, EncoderGraph)
        else tuple({0: batch} for _ in args),
        dynamo=True, external_data=False, verbose=False,
    )


def example_inputs(checkpoint: Checkpoint, batch: int = 2) -> dict[str, dict[str, np.ndarray]]:
    """Inputs of the right shapes and dtypes (for tracing only; values do not matter)."""
    pre = checkpoint.config.data.preprocess
    rng = np.random.default_rng(0)
    out = {}
    for name in checkpoint.modalities:
        fields = get_modality(name).input_fields(pre)
        out[name] = {
            key: (rng.random((batch, *f.shape)) > 0.5) if np.dtype(f.dtype) == np.bool_
            else rng.normal(0, 1, (batch, *f.shape)).astype(np.float32)
            for key, f in fields.items()
        }
    return out


def metadata(checkpoint: Checkpoint, source: Path) -> dict[str, Any]:
    cfg = checkpoint.config
    pre = cfg.data.preprocess
    metric, lower_is_better = checkpoint.selection_metric
    return {
        "format": FORMAT, "format_version": FORMAT_VERSION, "opset": OPSET,
        "source": {"file": source.name, "sha256": hashlib.sha256(source.read_bytes()).hexdigest()},
        "method": cfg.train.method, "modalities": list(checkpoint.modalities),
        "inputs": {name: {key: {"shape": list(f.shape), "dtype": np.dtype(f.dtype).name}
                          for key, f in get_modality(name).input_fields(pre).items()}
                   for name in checkpoint.modalities},
        "tokens": [cfg.model.tokens, cfg.model.dim],
        "preprocess": dataclasses.asdict(pre),
        "joint_names": list(checkpoint.joint_names), "activity_classes": list(checkpoint.activity_classes),
        "validation": [row.to_dict() for row in checkpoint.validation],
        "selection_metric": {"name": metric, "lower_is_better": lower_is_better},
        "modality_weights": dict(checkpoint.modality_weights),
        "activity_window": {"frames": activity_window(cfg), "frame_period_s": cfg.data.frame_period},
        "rig": list(checkpoint.metadata.get("rig", ())),  # the training rig (pta_ros.frames); empty: config/rig.yaml
        "live_quality": checkpoint.metadata.get("live_quality", {}),  # per-sensor verdicts (pta_core.live_quality)
        "graphs": {"encoders": {name: f"encoder_{name}.onnx" for name in checkpoint.modalities},
                   "fusion": "fusion.onnx",
                   "students": "students.onnx",  # optional in format v1: older exports decode each alone instead
                   "activity_window": "activity_window.onnx" if activity_window(cfg) else None},
        "training_metadata": checkpoint.metadata,
    }


def export_onnx(checkpoint: Checkpoint, source: Path, out_dir: Path) -> dict[str, Any]:
    """Write the graphs and ``model.json`` into ``out_dir``; returns the metadata written.

    Raises:
        CheckpointError: a method or layout that has no ONNX export (only PTA-layout networks do).
    """
    model = checkpoint.build()
    if not isinstance(model, PTAModel):
        raise CheckpointError(f"pta export supports PTA and single-modality networks, not {checkpoint.config.train.method}")
    if model.task.pose_head is None:
        raise CheckpointError("pta export needs a pose network (this model has no pose head)")
    out_dir.mkdir(parents=True, exist_ok=True)
    meta = metadata(checkpoint, source)
    examples = example_inputs(checkpoint)
    tokens = []
    with torch.no_grad():
        for name in model.modalities:
            fields = list(examples[name])
            graph = EncoderGraph(model, name, fields).eval()
            args = tuple(torch.from_numpy(examples[name][k]) for k in fields)
            _export(graph, args, out_dir / meta["graphs"]["encoders"][name], fields, ["tokens"])
            tokens.append(graph(*args))
        stacked = torch.stack(tokens, dim=1)
        present = torch.ones(stacked.shape[:2], dtype=torch.bool)
        fusion = FusionGraph(model).eval()
        _export(fusion, (stacked, present), out_dir / meta["graphs"]["fusion"], ["tokens", "present"], fusion.outputs)
        _export(StudentsGraph(model).eval(), (stacked,), out_dir / meta["graphs"]["students"], ["tokens"], ["poses"])
        if meta["graphs"]["activity_window"]:
            frames = meta["activity_window"]["frames"]
            embedding = fusion(stacked, present)[1]
            window = embedding[:, None].expand(-1, frames, -1).contiguous()
            valid = torch.ones(window.shape[:2], dtype=torch.bool)
            _export(WindowGraph(model).eval(), (window, valid), out_dir / meta["graphs"]["activity_window"],
                    ["embeddings", "valid"], ["logits"])
    (out_dir / METADATA).write_text(json.dumps(meta, indent=1))
    log.info("exported %s → %s (%d graphs)", source, out_dir, len(model.modalities) + 2 + bool(meta["graphs"]["activity_window"]))
    return meta


def check_against_torch(checkpoint: Checkpoint, out_dir: Path, inputs: dict[str, dict[str, torch.Tensor]],
                        present: torch.Tensor) -> dict[str, float]:
    """Max |ONNX − PyTorch| over a batch of real samples, for the data's own presence, each modality
    alone and all together: pose (metres), the embedding or per-frame activity logits, and window
    logits (windows of the batch's embeddings), and each modality's own readout (the students graph
    against the model on that modality alone). Returns ``{"pose_m": …, "students_pose_m": …,
    "samples": …}`` plus ``embedding``, ``activity_logits`` and ``window_logits`` as the model has them."""
    from pta_core.onnx_predictor import session

    model = checkpoint.build()
    meta = json.loads((out_dir / METADATA).read_text())
    encoders = {name: session(out_dir / file, 1) for name, file in meta["graphs"]["encoders"].items()}
    fusion = session(out_dir / meta["graphs"]["fusion"], 1)
    count = len(model.modalities)
    masks = [present] + [torch.eye(count, dtype=torch.bool)[i].expand_as(present) for i in range(count)]
    masks.append(torch.ones_like(present))
    worst: dict[str, float] = {"pose_m": 0.0, "samples": int(present.shape[0])}
    tokens = np.stack([encoders[name].run(None, {k: v.numpy() for k, v in inputs[name].items()})[0]
                       for name in model.modalities], axis=1)
    with torch.no_grad():
        for mask in masks:
            reference = model(inputs, mask)
            names = [o.name for o in fusion.get_outputs()]
            outputs = dict(zip(names, fusion.run(None, {"tokens": tokens, "present": mask.numpy()})))
            for name, key in (("pose", "pose_m"), ("embedding", "embedding"), ("activity", "activity_logits")):
                if name in outputs:
                    diff = float(np.abs(outputs[name] - getattr(reference, name).numpy()).max())
                    worst[key] = max(worst.get(key, 0.0), diff)
        students = session(out_dir / meta["graphs"]["students"], 1).run(None, {"tokens": tokens})[0]
        alone = np.stack([model(inputs, mask).pose.numpy() for mask in masks[1:1 + count]], axis=1)
        worst["students_pose_m"] = float(np.abs(students - alone).max())
        if meta["graphs"]["activity_window"]:
            window = session(out_dir / meta["graphs"]["activity_window"], 1)
            frames = meta["activity_window"]["frames"]
            for mask in masks:  # each modality alone too: with student heads, its own window head
                embeddings = model(inputs, mask).embedding
                usable = embeddings.shape[0] // frames * frames
                if usable:
                    batch = embeddings[:usable].reshape(-1, frames, embeddings.shape[-1])
                    valid = torch.ones(batch.shape[:2], dtype=torch.bool)
                    valid[:, ::3] = False  # masked instants too
                    logits = window.run(None, {"embeddings": batch.numpy(), "valid": valid.numpy()})[0]
                    diff = float(np.abs(logits - model.window_activity(batch, valid).numpy()).max())
                    worst["window_logits"] = max(worst.get("window_logits", 0.0), diff)
    return worst
