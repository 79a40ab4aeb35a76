"""Training forward passes: one objective per training method, each an ``nn.Module`` wrapping the
inference network (``.model``), so DDP wraps the objective and the exported state dict is
``objective.model``'s alone.

Task loss (docs/method.md §6): ``pose_loss_weight`` · MSE(pose) + ``activity_loss_weight`` · CE.
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
from pta_core.models.heads import PoseScale
from pta_core.models.pta import Inputs, ModelOutput, PTAModel


@dataclass
class Targets:
    pose: torch.Tensor | None = None  # (B, 17, 3) metres
    activity: torch.Tensor | None = None  # (B,) class indices
    # (B,) bool: rows whose labels training may use (train.labelled_fraction); None: every row. An
    # unlabelled row's pose is NaN and its activity -1, so a loss that forgot the mask fails loudly.
    labelled: torch.Tensor | None = None

    def rows(self, index: torch.Tensor) -> Targets:
        pick = lambda t: None if t is None else t[index]  # noqa: E731
        return Targets(pose=pick(self.pose), activity=pick(self.activity), labelled=pick(self.labelled))

    def labelled_rows(self) -> torch.Tensor | None:
        """Indices of the labelled rows; None when every row is labelled."""
        return None if self.labelled is None else torch.nonzero(self.labelled).squeeze(1)


@dataclass
class LossOutput:
    total: torch.Tensor  # scalar to backpropagate
    terms: dict[str, torch.Tensor] = field(default_factory=dict)  # detached scalars for logging


def pose_loss(pred: torch.Tensor, target: torch.Tensor, scale: PoseScale | None, root_weight: float = 1.0) -> tuple[torch.Tensor, dict[str, torch.Tensor]]:
    """Pose MSE in the head's standardised units: ``root_weight`` · MSE(root) + MSE(root-relative joints).

    Without a scale (a model that has none), plain MSE in metres.
    """
    if scale is None:
        loss = F.mse_loss(pred.float(), target.float())
        return loss, {"pose": loss.detach()}
    p, g = scale.normalise(pred.float()), scale.normalise(target.float())
    root, relative = F.mse_loss(p[:, 0], g[:, 0]), F.mse_loss(p[:, 1:], g[:, 1:])
    loss = root_weight * root + relative
    return loss, {"pose": loss.detach(), "pose_root": root.detach(), "pose_rel": relative.detach()}


def task_loss(
    output: ModelOutput, targets: Targets, cfg: TrainConfig, scale: PoseScale | None = None
) -> tuple[torch.Tensor, dict[str, torch.Tensor]]:
    """Weighted pose loss (:func:`pose_loss`) + activity cross-entropy over the tasks the output carries (float32)."""
    total = None
    terms = {}
    if output.pose is not None:
        if targets.pose is None:
            raise ValueError("the model predicts pose but the batch has no pose targets (XRF55 has none)")
        pose, parts = pose_loss(output.pose, targets.pose, scale, cfg.root_loss_weight)
        terms.update(parts)
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
    """Base: ``forward(inputs, present, targets, available=None) -> LossOutput``; ``present`` already
    includes the sampled masks, ``available`` (default ``present``) is the data's own presence."""

    uses_presence_sampling = True  # false: train on the data's own presence (single models, late fusion)
    learns_from_unlabelled = False  # true: a loss acts on frames without labels (train.labelled_fraction)

    def __init__(self, model: nn.Module, train_cfg: TrainConfig):
        super().__init__()
        self.model = model
        self.train_cfg = train_cfg
        self.generator: torch.Generator | None = None  # diffusion noise; set by the trainer


class SupervisedObjective(Objective):
    """The inference path trained with the task loss (single, X-Fi)."""

    def forward(self, inputs: Inputs, present: torch.Tensor, targets: Targets, available: torch.Tensor | None = None) -> LossOutput:
        total, terms = task_loss(self.model(inputs, present), targets, self.train_cfg, self.model.pose_scale)
        return LossOutput(total, terms)


class SingleObjective(SupervisedObjective):
    uses_presence_sampling = False


class PTAObjective(Objective):
    """PTA (docs/method.md §4, with the deviations of ``align.head_input`` and ``train.student_loss_weight``).

    - The heads train on ``head_input``: ``fused`` = what inference computes (the default; head(Σ w̃ F_m),
      or with ``model.student_heads`` a modality's own heads where it is alone), or ``refined`` = the
      mean of the AE-decoded DiffKD-refined students through the shared heads (the reference code).
    - Each present modality's own readout head(F_m) (its own heads with ``model.student_heads``,
      else the shared ones) also gets the task loss, weighted by
      ``student_loss_weight`` and averaged over the modalities, on the samples with ≥ 2 modalities
      (for one modality it equals the fused loss), or with ``train.student_presence: available`` on
      every sample whose data has the modality: so every student stands alone at inference.
    - Align (if enabled) adds λ_kd · KD, distilling each student towards the detached teacher
      T = sg(Σ w̃ F_m), summed over the sampled presence or, with ``align.teacher: available``, over
      every modality the sample has (then every available student is distilled); with
      ``align.target: predictions``, each student's prediction towards the fused set's detached
      prediction instead (:meth:`prediction_kd`).
    - With ``train.labelled_fraction`` < 1 a batch also holds unlabelled rows (``targets.labelled``):
      the task losses read the labelled rows only, Align's KD every row.
    """

    def __init__(self, model: PTAModel, cfg: Config):
        super().__init__(model, cfg.train)
        self.lambda_kd = cfg.align.lambda_kd
        self.head_input = cfg.align.head_input
        self.full_teacher = cfg.align.enabled and cfg.align.teacher == "available"
        self.student_weight = cfg.train.student_loss_weight
        self.students_available = self.student_weight > 0 and cfg.train.student_presence == "available"
        self.kd_aggregate = cfg.align.aggregate
        self.kd_on_predictions = cfg.align.enabled and cfg.align.target == "predictions"
        # Training only: a sibling of .model, so model.pt (model's state dict) never carries it.
        features_kd = cfg.align.enabled and cfg.align.target == "features"
        self.align = Align(model.modalities, cfg.model.dim, cfg.align) if features_kd else None
        self.learns_from_unlabelled = cfg.align.enabled  # Align's KD needs no labels

    def forward(self, inputs: Inputs, present: torch.Tensor, targets: Targets, available: torch.Tensor | None = None) -> LossOutput:
        model: PTAModel = self.model
        scale = model.pose_scale
        available = present if available is None else available.bool()
        taught = available if self.full_teacher else present
        features = model.encode(inputs, available if self.students_available else taught)
        fused = model.fuse(features, present)
        tokens, kd = fused, None
        if self.align is not None:
            # T = sg(Σ w̃_m F_m): φ gets no gradient from the KD terms
            teacher = (fused if taught is present else model.fuse(features, taught)).detach()
            kd = self.align(features, taught, teacher, self.generator)
            if self.head_input == "refined":
                tokens = kd.head_tokens
        output = model.heads(tokens) if self.head_input == "refined" else model.read(fused, features, present)
        labelled = targets.labelled_rows()  # None: every row (train.labelled_fraction 1)
        if labelled is None:
            total, terms = task_loss(output, targets, self.train_cfg, scale)
        elif labelled.numel() == 0:  # the sampled presence kept only unlabelled rows: Align's KD alone
            total, terms = sum(t.sum() for t in (output.pose, output.activity) if t is not None) * 0.0, {}
        else:
            total, terms = task_loss(output.rows(labelled), targets.rows(labelled), self.train_cfg, scale)
        if self.student_weight > 0:
            student, count = None, 0
            several = present.sum(dim=1) >= 2
            for index, name in enumerate(model.modalities):
                if self.students_available:  # every row with its data, but those the task loss read it alone
                    mask = available[:, index] & (several | ~present[:, index])
                else:
                    mask = present[:, index] & several
                if targets.labelled is not None:
                    mask = mask & targets.labelled
                rows = torch.nonzero(mask).squeeze(1)
                if name not in features or rows.numel() == 0:
                    continue
                loss, _ = task_loss(model.student(name)(features[name][rows]), targets.rows(rows), self.train_cfg, scale)
                student = loss if student is None else student + loss
                count += 1
            if student is not None:
                student = student / count
                total = total + self.student_weight * student
                terms["students"] = student.detach()
        if kd is not None:
            total = total + self.lambda_kd * kd.kd_loss
            terms["kd"] = kd.kd_loss.detach()
            terms.update({f"kd_{k}": v for k, v in kd.terms.items()})
        if self.kd_on_predictions:
            teacher = output
            if taught is not present:  # align.teacher "available": the fused prediction over every sensor the frame has
                teacher = model.read(model.fuse(features, taught), features, taught)
            kd_loss = self.prediction_kd(features, taught, teacher)
            if kd_loss is not None:
                total = total + self.lambda_kd * kd_loss
                terms["kd"] = kd_loss.detach()
        return LossOutput(total, terms)

    def prediction_kd(self, features: dict[str, torch.Tensor], present: torch.Tensor, teacher: ModelOutput) -> torch.Tensor | None:
        """``align.target: predictions``: on each sample with two or more modalities in ``present`` (the
        sampled set, or with ``align.teacher: available`` every modality the sample has), each such
        student's own prediction towards the fused prediction, detached (pose: the pose loss
        in the head's units; activity: KL to the fused softmax), averaged or summed over the
        students (``align.aggregate``). None when no sample has two modalities."""
        model: PTAModel = self.model
        several = present.sum(dim=1) >= 2
        losses = []
        for index, name in enumerate(model.modalities):
            rows = torch.nonzero(present[:, index] & several).squeeze(1)
            if name not in features or rows.numel() == 0:
                continue
            student = model.student(name)(features[name][rows])
            loss = None
            if student.pose is not None and teacher.pose is not None:
                loss, _ = pose_loss(student.pose, teacher.pose[rows].detach(), model.pose_scale, self.train_cfg.root_loss_weight)
            if student.activity is not None and teacher.activity is not None:
                kl = F.kl_div(F.log_softmax(student.activity.float(), dim=1),
                              F.softmax(teacher.activity[rows].detach().float(), dim=1), reduction="batchmean")
                loss = kl if loss is None else loss + kl
            if loss is not None:
                losses.append(loss)
        if not losses:
            return None
        stacked = torch.stack(losses)
        return stacked.sum() if self.kd_aggregate == "sum" else stacked.mean()


class LateFusionObjective(Objective):
    """Trains the members jointly but independently: each on the samples where its modality has data,
    with its own task loss; the total is their sum (disjoint parameters, so it equals separate runs
    over the same batches)."""

    uses_presence_sampling = False

    def forward(self, inputs: Inputs, present: torch.Tensor, targets: Targets, available: torch.Tensor | None = None) -> LossOutput:
        model: LateFusionModel = self.model
        total = None
        terms = {}
        for index, name in enumerate(model.modalities):
            rows = torch.nonzero(present[:, index]).squeeze(1)
            if rows.numel() == 0:
                continue
            sub_inputs = {name: {k: v[rows] for k, v in inputs[name].items()}}
            ones = torch.ones(rows.numel(), 1, dtype=torch.bool, device=present.device)
            member = model.members[name]
            loss, parts = task_loss(member(sub_inputs, ones), targets.rows(rows), self.train_cfg, member.pose_scale)
            total = loss if total is None else total + loss
            terms.update({f"{name}_{k}": v for k, v in parts.items()})
        if total is None:
            raise ValueError("no modality is present in the batch")
        return LossOutput(total, terms)
