"""The PTA network: per-modality encoder → projector → Purify-weighted fusion → heads.

This module holds the inference path (pta-method.md §8): for a present set S the prediction is
head(Σ_{m∈S} w̃_m F_m). The Align module (diffusion KD) is used only in training (`models/diffusion`).
"""
from __future__ import annotations

from dataclasses import dataclass

import torch
from torch import nn

from pta_core.config import ModelConfig, PreprocessConfig, PurifyConfig
from pta_core.modalities import get_modality
from pta_core.models.heads import ActivityHead, PoseHead
from pta_core.models.projector import Projector
from pta_core.models.weighting import ModalityWeights

Inputs = dict[str, dict[str, torch.Tensor]]  # modality → field → (B, ...)


@dataclass
class ModelOutput:
    pose: torch.Tensor | None = None  # (B, 17, 3) metres
    activity: torch.Tensor | None = None  # (B, K) logits


def build_heads(model_cfg: ModelConfig, tasks: tuple[str, ...], num_classes: int) -> tuple[nn.Module | None, nn.Module | None]:
    """The pose and activity heads ``tasks`` asks for (None where not)."""
    tokens, dim, kind = model_cfg.tokens, model_cfg.dim, model_cfg.head
    pose = PoseHead(tokens, dim, kind) if "pose" in tasks else None
    activity = ActivityHead(tokens, dim, num_classes, kind) if "activity" in tasks else None
    return pose, activity


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
        tasks: tuple[str, ...],
        num_classes: int,
    ):
        super().__init__()
        self.modalities = tuple(modalities)
        self.encoders = nn.ModuleDict()
        self.projectors = nn.ModuleDict()
        for name in self.modalities:
            encoder = get_modality(name).build_encoder(model_cfg, preprocess_cfg)
            self.encoders[name] = encoder
            self.projectors[name] = Projector(
                encoder.num_tokens, encoder.out_channels, model_cfg.tokens, model_cfg.dim, model_cfg.projector
            )
        self.weights = ModalityWeights(
            self.modalities,
            init=purify_cfg.phi_init,
            renorm_present=purify_cfg.renorm_present,
            learnable=purify_cfg.enabled,
        )
        self.pose_head, self.activity_head = build_heads(model_cfg, tasks, num_classes)

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
        return ModelOutput(
            pose=self.pose_head(tokens) if self.pose_head is not None else None,
            activity=self.activity_head(tokens) if self.activity_head is not None else None,
        )

    def init_mean_pose(self, mean_pose: torch.Tensor) -> None:
        """Start the pose head's output at the training mean pose (17, 3) metres."""
        if self.pose_head is not None:
            self.pose_head.init_mean_pose(mean_pose)

    def forward(self, inputs: Inputs, present: torch.Tensor) -> ModelOutput:
        """Inference path: heads(Σ w̃_m F_m). ``present`` (B, M) bool in ``self.modalities`` order."""
        return self.heads(self.fuse(self.encode(inputs, present), present))
