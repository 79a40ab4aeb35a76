"""The PTA network: per-modality encoder → projector → Purify-weighted fusion → heads.

This module holds the inference path (docs/method.md §8): for a present set S the prediction is
head(Σ_{m∈S} w̃_m F_m), or, with ``model.student_heads``, head_m(F_m) when S is one modality m
(and with ``model.fused_readout: students``, Σ_{m∈S} w̃_m head_m(F_m) plus the shared head's
correction from Σ w̃ F_m when S has several; ``activity.fused_readout: students`` reads a fused
set's activity logits the same way).
The Align module (diffusion KD) is used only in training (`models/diffusion`).
"""
from __future__ import annotations

from dataclasses import dataclass, fields
from typing import NamedTuple

import torch
from torch import nn

from pta_core.config import ActivityConfig, ModelConfig, PreprocessConfig, PurifyConfig
from pta_core.models.encoders import build_encoder
from pta_core.models.heads import ActivityHead, PoseHead, PoseScale
from pta_core.models.projector import Projector
from pta_core.models.temporal import WindowActivityHead
from pta_core.models.weighting import ModalityWeights
from pta_core.skeleton import NUM_JOINTS

Inputs = dict[str, dict[str, torch.Tensor]]  # modality → field → (B, ...)


@dataclass
class ModelOutput:
    pose: torch.Tensor | None = None  # (B, J, 3) metres
    activity: torch.Tensor | None = None  # (B, K) logits of a per-sample activity head (XRF55)
    embedding: torch.Tensor | None = None  # (B, E) the frame's embedding, for a windowed activity head

    def rows(self, index: torch.Tensor) -> ModelOutput:
        pick = lambda t: None if t is None else t[index]  # noqa: E731
        return ModelOutput(pose=pick(self.pose), activity=pick(self.activity), embedding=pick(self.embedding))


class TaskHeads(nn.Module):
    """The task heads on fused tokens: pose (:class:`PoseHead`), and activity either per sample
    (:class:`ActivityHead`, ``activity.window`` 0: XRF55) or over a window of frames
    (:class:`WindowActivityHead`, which reads per-frame embeddings: the pose head's or, for activity
    alone (RadHAR), a per-frame activity head's, which trains the network on each frame's label)."""

    def __init__(self, model_cfg: ModelConfig, activity_cfg: ActivityConfig, tasks: tuple[str, ...], num_classes: int,
                 num_joints: int = NUM_JOINTS):
        super().__init__()
        tokens, dim, kind, hidden, dropout = (
            model_cfg.tokens, model_cfg.dim, model_cfg.head, model_cfg.head_hidden, model_cfg.dropout
        )
        self.pose_head = PoseHead(tokens, dim, kind, hidden, dropout, num_joints) if "pose" in tasks else None
        self.windowed = "activity" in tasks and activity_cfg.window > 0
        self.activity_head: nn.Module | None = None
        self.frame_head: ActivityHead | None = None
        if self.windowed:
            framer = self.pose_head
            if framer is None:
                framer = self.frame_head = ActivityHead(tokens, dim, num_classes, kind, hidden, dropout)
            self.activity_head = WindowActivityHead(
                framer.embedding_dim, num_classes, activity_cfg.width, activity_cfg.layers, activity_cfg.dropout
            )
        elif "activity" in tasks and not self.windowed:
            self.activity_head = ActivityHead(tokens, dim, num_classes, kind, hidden, dropout)

    def forward(self, tokens: torch.Tensor) -> ModelOutput:
        if self.frame_head is not None:  # activity alone, windowed: each frame's logits and embedding
            embedding = self.frame_head.embed(tokens)
            return ModelOutput(activity=self.frame_head.fc(embedding), embedding=embedding)
        if self.pose_head is None:
            return ModelOutput(activity=self.activity_head(tokens) if self.activity_head is not None else None)
        embedding = self.pose_head.embed(tokens)
        return ModelOutput(
            pose=self.pose_head.from_embedding(embedding),
            activity=None if self.windowed or self.activity_head is None else self.activity_head(tokens),
            embedding=embedding if self.windowed else None,
        )

    def window_activity(self, embeddings: torch.Tensor, valid: torch.Tensor) -> torch.Tensor:
        """(B, T, E) embeddings of a window's frames, (B, T) validity → (B, K) logits."""
        if not self.windowed or self.activity_head is None:
            raise ValueError("this model has no windowed activity head (activity.window is 0 or no activity task)")
        return self.activity_head(embeddings, valid)

    @property
    def pose_scale(self) -> PoseScale | None:
        return self.pose_head.scale if self.pose_head is not None else None

    def fit_pose_targets(self, poses: torch.Tensor) -> None:
        """Fit the pose head's target statistics to training poses (N, J, 3) metres."""
        if self.pose_head is not None:
            self.pose_head.fit_targets(poses)


class WindowState(NamedTuple):
    """A window of frame states from :meth:`PTAModel.read`, split into its parts: the served
    embeddings (B, T, E); with ``activity.fused_readout: students`` each student's embeddings
    (B, T, M, E) and the frames' presence (B, T, M), else None; and with student heads (B, M):
    modality m's heads served every valid frame of the window alone, else None."""

    served: torch.Tensor
    students: torch.Tensor | None
    present: torch.Tensor | None
    alone: torch.Tensor | None


def pick_rows(rows: torch.Tensor, chosen: ModelOutput, other: ModelOutput) -> ModelOutput:
    """Each output field from ``chosen`` where ``rows`` (B,) is true, else from ``other``."""
    def pick(a: torch.Tensor | None, b: torch.Tensor | None) -> torch.Tensor | None:
        if a is None or b is None:
            return b
        return torch.where(rows.view(-1, *([1] * (a.dim() - 1))), a, b)

    return ModelOutput(**{f.name: pick(getattr(chosen, f.name), getattr(other, f.name)) for f in fields(ModelOutput)})


def encode_present(
    encoders: nn.ModuleDict, projectors: nn.ModuleDict, modalities: tuple[str, ...], inputs: Inputs, present: torch.Tensor
) -> dict[str, torch.Tensor]:
    """modality → projected tokens (B, L, D) for each modality present in some row, zero where absent.

    Only the rows that have the modality go through its encoder: absent rows hold zero-filled
    placeholders, and letting them into the encoder would put them into BatchNorm's batch
    statistics (and running averages), which then no longer describe real inputs.
    """
    features = {}
    for index, name in enumerate(modalities):
        column = present[:, index]
        if not bool(column.any()):
            continue
        if bool(column.all()):
            features[name] = projectors[name](encoders[name](inputs[name]))
            continue
        rows = torch.nonzero(column).squeeze(1)
        tokens = projectors[name](encoders[name]({k: v[rows] for k, v in inputs[name].items()}))
        full = tokens.new_zeros((column.shape[0], *tokens.shape[1:]))
        features[name] = full.index_put((rows,), tokens)
    return features


class PTAModel(nn.Module):
    def __init__(
        self,
        modalities: tuple[str, ...],
        *,
        model_cfg: ModelConfig,
        purify_cfg: PurifyConfig,
        preprocess_cfg: PreprocessConfig,
        activity_cfg: ActivityConfig,
        tasks: tuple[str, ...],
        num_classes: int,
        num_joints: int = NUM_JOINTS,
    ):
        super().__init__()
        self.modalities = tuple(modalities)
        self.encoders = nn.ModuleDict()
        self.projectors = nn.ModuleDict()
        for name in self.modalities:
            encoder = build_encoder(name, model_cfg, preprocess_cfg)
            self.encoders[name] = encoder
            self.projectors[name] = Projector(
                encoder.num_tokens, encoder.out_channels, model_cfg.tokens, model_cfg.dim, model_cfg.projector,
                model_cfg.feature_norm,
            )
        self.weights = ModalityWeights(
            self.modalities,
            init=purify_cfg.phi_init,
            renorm_present=purify_cfg.renorm_present,
            learnable=purify_cfg.enabled,
        )
        self.task = TaskHeads(model_cfg, activity_cfg, tasks, num_classes, num_joints)
        # A modality's own heads (model.student_heads): a student read by the heads fitted to the
        # fused sets loses to its single network (docs/RESULTS.md "Why stage 2 loses").
        self.students: nn.ModuleDict | None = None
        if model_cfg.student_heads and len(self.modalities) > 1:
            self.students = nn.ModuleDict({
                name: TaskHeads(model_cfg, activity_cfg, tasks, num_classes, num_joints) for name in self.modalities
            })
        # model.fused_readout "students": a fused set's pose is its students' Purify-weighted average
        # plus the shared pose head's correction, which starts at zero (its output layer zeroed).
        self.average_students = self.students is not None and model_cfg.fused_readout == "students"
        if self.average_students and self.task.pose_head is not None:
            nn.init.zeros_(self.task.pose_head.fc.weight)
            nn.init.zeros_(self.task.pose_head.fc.bias)
        # activity.fused_readout "students": the same for a fused set's activity logits; the shared
        # activity head's output layer starts at zero, so its correction does too.
        self.average_activity = self.students is not None and activity_cfg.fused_readout == "students"
        if self.average_activity and self.task.activity_head is not None:
            head = self.task.activity_head
            output_layer = head.out[-1] if isinstance(head, WindowActivityHead) else head.fc
            nn.init.zeros_(output_layer.weight)
            nn.init.zeros_(output_layer.bias)

    def encode(self, inputs: Inputs, present: torch.Tensor) -> dict[str, torch.Tensor]:
        """Tokens (B, L, D) for every modality present in at least one sample of the batch; zero rows
        where the modality is absent."""
        return encode_present(self.encoders, self.projectors, self.modalities, inputs, present)

    def fuse(self, features: dict[str, torch.Tensor], present: torch.Tensor) -> torch.Tensor:
        """Σ_m w̃_m F_m with weights renormalised per sample over its present modalities → (B, L, D)."""
        weights = self.weights(present)
        fused = None
        for index, name in enumerate(self.modalities):
            if name in features:
                term = weights[:, index, None, None] * features[name]
                fused = term if fused is None else fused + term
        if fused is None:
            raise ValueError("no modality is present in the batch")
        return fused

    def heads(self, tokens: torch.Tensor) -> ModelOutput:
        return self.task(tokens)

    def student(self, name: str) -> TaskHeads:
        """The heads that read modality ``name`` alone: its own, or the shared ones."""
        return self.students[name] if self.students is not None else self.task

    def read(self, fused: torch.Tensor, features: dict[str, torch.Tensor], present: torch.Tensor) -> ModelOutput:
        """The shared heads on the fused tokens; with student heads, a row with one modality
        present is read by that modality's own heads instead. Every head runs on every row and
        ``torch.where`` picks (no data-dependent shapes, so the graph exports).

        With student heads the embedding (a windowed activity head's per-frame state) ends in M
        flags, flag m set where modality m's own heads served the row, so :meth:`window_activity`
        knows whose window head reads the window. With ``activity.fused_readout: students`` every
        student's embedding (zero where absent) and the row's presence come before those flags."""
        output = self.task(fused)
        if self.students is None:
            return output
        own = {name: self.students[name](features[name]) for name in self.modalities if name in features}
        if self.average_students and output.pose is not None:
            output.pose = self._student_average(own, present, "pose") + output.pose - self.pose_scale.mean_pose()
        if self.average_activity and output.activity is not None:
            output.activity = self._student_average(own, present, "activity") + output.activity
        state = []
        if self.average_activity and output.embedding is not None:
            flags = present.to(output.embedding.dtype)
            state = [own[name].embedding * flags[:, index, None] if name in own else torch.zeros_like(output.embedding)
                     for index, name in enumerate(self.modalities)] + [flags]
        served = (present.sum(dim=1, keepdim=True) == 1) & present
        for index, name in enumerate(self.modalities):
            if name in own:
                output = pick_rows(served[:, index], own[name], output)
        if output.embedding is not None:
            output.embedding = torch.cat([output.embedding, *state, served.to(output.embedding.dtype)], dim=1)
        return output

    def _student_average(self, own: dict[str, ModelOutput], present: torch.Tensor, field: str) -> torch.Tensor:
        """Σ_{m∈S} w̃_m · (student m's ``field``) over each row's present students; absent ones weigh 0."""
        weights = self.weights(present)
        average = None
        for index, name in enumerate(self.modalities):
            if name in own:
                value = getattr(own[name], field)
                term = weights[:, index].view(-1, *([1] * (value.dim() - 1))) * value
                average = term if average is None else average + term
        return average

    def decode(self, features: dict[str, torch.Tensor], present: torch.Tensor) -> ModelOutput:
        """Everything after the encoders: heads(Σ w̃_m F_m), or a modality's own heads where it is alone."""
        return self.read(self.fuse(features, present), features, present)

    def window_readers(self, embeddings: torch.Tensor, valid: torch.Tensor) -> WindowState:
        """(B, T, E') window of frame states from :meth:`read`, (B, T) validity → its parts
        (:class:`WindowState`); without student heads the state is the served embedding alone."""
        if self.students is None:
            return WindowState(embeddings, None, None, None)
        count = len(self.modalities)
        flags = embeddings[..., -count:]
        served = (flags > 0.5) | ~valid[..., None]
        alone = served.all(dim=1) & valid.any(dim=1, keepdim=True)
        if not self.average_activity:
            return WindowState(embeddings[..., :-count], None, None, alone)
        width = (embeddings.shape[-1] - 2 * count) // (count + 1)
        students = embeddings[..., width : width * (count + 1)].unflatten(-1, (count, width))
        present = (embeddings[..., width * (count + 1) : -count] > 0.5) & valid[..., None]
        return WindowState(embeddings[..., :width], students, present, alone)

    def window_activity(self, embeddings: torch.Tensor, valid: torch.Tensor) -> torch.Tensor:
        """(B, T, E') frame states of a window (from :meth:`read`), (B, T) validity → (B, K) logits:
        a window one modality's heads served alone is read by its own window head, any other as
        :meth:`fused_window_activity` reads it (every head runs; ``torch.where`` picks)."""
        state = self.window_readers(embeddings, valid)
        logits, own = self._fused_window_logits(state, valid)
        for index, name in enumerate(self.modalities if state.alone is not None else ()):
            # With the students' readout their window logits are already computed: on a window m
            # served alone, m's part of the state is the served embedding and its frames are the valid ones.
            alone = own[name] if own else self.students[name].window_activity(state.served, valid)
            logits = torch.where(state.alone[:, index, None], alone, logits)
        return logits

    def fused_window_activity(self, embeddings: torch.Tensor, valid: torch.Tensor) -> torch.Tensor:
        """(B, T, E') frame states of windows with fused frames, (B, T) validity → (B, K) logits of
        the shared window head, or with ``activity.fused_readout: students`` the Purify-weighted
        average of the students' window heads (each on its own frames, weights over the modalities
        the window has) plus the shared head's correction."""
        return self._fused_window_logits(self.window_readers(embeddings, valid), valid)[0]

    def _fused_window_logits(self, state: WindowState, valid: torch.Tensor) -> tuple[torch.Tensor, dict[str, torch.Tensor]]:
        """The fused readout's logits and, with the students' readout, each student's window logits."""
        logits = self.task.window_activity(state.served, valid)
        if state.students is None:
            return logits, {}
        seen = state.present.any(dim=1)  # (B, M): the modality has a frame in the window
        weights = self.weights(seen)
        own = {name: self.students[name].window_activity(state.students[:, :, index], state.present[..., index])
               for index, name in enumerate(self.modalities)}
        for index, name in enumerate(self.modalities):
            logits = logits + torch.where(seen[:, index, None], weights[:, index, None] * own[name], 0.0)
        return logits, own

    def window_heads(self) -> list[nn.Module]:
        """Every windowed activity head: the shared one and, with student heads, each modality's."""
        heads = [self.task, *(self.students.values() if self.students is not None else ())]
        return [h.activity_head for h in heads if h.windowed and h.activity_head is not None]

    @property
    def pose_scale(self) -> PoseScale | None:
        return self.task.pose_scale

    def fit_pose_targets(self, poses: torch.Tensor) -> None:
        for heads in [self.task, *(self.students.values() if self.students is not None else ())]:
            heads.fit_pose_targets(poses)

    def forward(self, inputs: Inputs, present: torch.Tensor) -> ModelOutput:
        """Inference path (:meth:`decode`). ``present`` (B, M) bool in ``self.modalities`` order."""
        return self.decode(self.encode(inputs, present), present)
