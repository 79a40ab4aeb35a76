"""Training forward passes: one objective per training method, each an ``nn.Module`` wrapping the
inference network (``.model``), so DDP wraps the objective and the exported state dict is
``objective.model``'s alone.

Task loss (pta-method.md §6): ``pose_loss_weight`` · MSE(pose) + ``activity_loss_weight`` · CE.
PTA adds λ_kd · KD (Align); see :mod:`pta_core.models.align`.
"""
from __future__ import annotations

from dataclasses import dataclass, field

import torch
import torch.nn.functional as F
from torch import nn

from pta_core.config import Config, TrainConfig
from pta_core.models.align import Align
from pta_core.models.baselines import LateFusionModel
from pta_core.models.pta import Inputs, ModelOutput, PTAModel


@dataclass
class Targets:
    pose: torch.Tensor | None = None  # (B, 17, 3) metres
    activity: torch.Tensor | None = None  # (B,) class indices

    def rows(self, index: torch.Tensor) -> Targets:
        return Targets(
            pose=None if self.pose is None else self.pose[index],
            activity=None if self.activity is None else self.activity[index],
        )


@dataclass
class LossOutput:
    total: torch.Tensor  # scalar to backpropagate
    terms: dict[str, torch.Tensor] = field(default_factory=dict)  # detached scalars for logging


def task_loss(output: ModelOutput, targets: Targets, cfg: TrainConfig) -> tuple[torch.Tensor, dict[str, torch.Tensor]]:
    """Weighted pose MSE + activity cross-entropy over the tasks the output carries (float32)."""
    total = None
    terms = {}
    if output.pose is not None:
        if targets.pose is None:
            raise ValueError("the model predicts pose but the batch has no pose targets (XRF55 has none)")
        pose = F.mse_loss(output.pose.float(), targets.pose.float())
        terms["pose"] = pose.detach()
        total = cfg.pose_loss_weight * pose
    if output.activity is not None:
        if targets.activity is None:
            raise ValueError("the model predicts activity but the batch has no activity labels")
        activity = F.cross_entropy(output.activity.float(), targets.activity.long())
        terms["activity"] = activity.detach()
        term = cfg.activity_loss_weight * activity
        total = term if total is None else total + term
    if total is None:
        raise ValueError("the model predicts nothing (train.tasks is empty)")
    return total, terms


class Objective(nn.Module):
    """Base: ``forward(inputs, present, targets) -> LossOutput``; ``present`` already includes sampled masks."""

    uses_presence_sampling = True  # false: train on the data's own presence (single models, late fusion)

    def __init__(self, model: nn.Module, train_cfg: TrainConfig):
        super().__init__()
        self.model = model
        self.train_cfg = train_cfg
        self.generator: torch.Generator | None = None  # diffusion noise; set by the trainer


class SupervisedObjective(Objective):
    """The inference path trained with the task loss (single, X-Fi)."""

    def forward(self, inputs: Inputs, present: torch.Tensor, targets: Targets) -> LossOutput:
        total, terms = task_loss(self.model(inputs, present), targets, self.train_cfg)
        return LossOutput(total, terms)


class SingleObjective(SupervisedObjective):
    uses_presence_sampling = False


class PTAObjective(Objective):
    """PTA (pta-method.md §4): Align on samples with ≥ 2 modalities; without Align, the inference path."""

    def __init__(self, model: PTAModel, cfg: Config):
        super().__init__(model, cfg.train)
        self.lambda_kd = cfg.align.lambda_kd
        self.head_input = cfg.align.head_input
        # Training only: a sibling of .model, so model.pt (model's state dict) never carries it.
        self.align = Align(model.modalities, cfg.model.dim, cfg.align) if cfg.align.enabled else None

    def forward(self, inputs: Inputs, present: torch.Tensor, targets: Targets) -> LossOutput:
        model: PTAModel = self.model
        features = model.encode(inputs, present)
        fused = model.fuse(features, present)
        if self.align is None:
            tokens, kd = fused, None
        else:
            teacher = fused.detach()  # T = sg(Σ w̃_m F_m): φ gets no gradient from the KD terms
            kd = self.align(features, present, teacher, self.generator)
            tokens = kd.head_tokens if self.head_input == "refined" else fused
        total, terms = task_loss(model.heads(tokens), targets, self.train_cfg)
        if kd is not None:
            total = total + self.lambda_kd * kd.kd_loss
            terms["kd"] = kd.kd_loss.detach()
            terms.update({f"kd_{k}": v for k, v in kd.terms.items()})
        return LossOutput(total, terms)


class LateFusionObjective(Objective):
    """Trains the members jointly but independently: each on the samples where its modality has data,
    with its own task loss; the total is their sum (disjoint parameters, so it equals separate runs
    over the same batches)."""

    uses_presence_sampling = False

    def forward(self, inputs: Inputs, present: torch.Tensor, targets: Targets) -> LossOutput:
        model: LateFusionModel = self.model
        total = None
        terms = {}
        for index, name in enumerate(model.modalities):
            rows = torch.nonzero(present[:, index]).squeeze(1)
            if rows.numel() == 0:
                continue
            sub_inputs = {name: {k: v[rows] for k, v in inputs[name].items()}}
            ones = torch.ones(rows.numel(), 1, dtype=torch.bool, device=present.device)
            loss, parts = task_loss(model.members[name](sub_inputs, ones), targets.rows(rows), self.train_cfg)
            total = loss if total is None else total + loss
            terms.update({f"{name}_{k}": v for k, v in parts.items()})
        if total is None:
            raise ValueError("no modality is present in the batch")
        return LossOutput(total, terms)


def build_objective(cfg: Config, model: nn.Module) -> Objective:
    """The training objective of ``cfg.train.method`` around ``model`` (from ``build_model``)."""
    method = cfg.train.method
    if method == "pta":
        return PTAObjective(model, cfg)
    if method == "single":
        return SingleObjective(model, cfg.train)
    if method == "xfi":
        return SupervisedObjective(model, cfg.train)
    if method == "late_fusion":
        return LateFusionObjective(model, cfg.train)
    raise ValueError(f"unknown train.method {method!r}; known: pta, single, late_fusion, xfi")
