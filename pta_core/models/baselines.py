"""Baselines served through the same interface as PTA: ``forward(inputs, present) -> ModelOutput``.

- :class:`LateFusionModel`: one single-modality network per modality; the prediction averages the
  members' predictions (pose) or logits (activity) over the present modalities (X-Fi ``baseline2``).
- :class:`XFiModel`: X-Fi-style cross-attention fusion (docs/method.md §11), scaled down by config,
  with the standard 1/√d_head attention scaling before the softmax (not X-Fi's √512 after it).

Both handle a different present set per sample by masking.
"""
from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

from pta_core.config import ActivityConfig, ModelConfig, PreprocessConfig, PurifyConfig
from pta_core.models.encoders import build_encoder
from pta_core.models.heads import PoseScale
from pta_core.models.projector import Projector
from pta_core.models.pta import Inputs, ModelOutput, PTAModel, TaskHeads, encode_present
from pta_core.skeleton import NUM_JOINTS

# ---------------------------------------------------------------------------------------------
# Late fusion


class LateFusionModel(nn.Module):
    """Average of independent single-modality PTA networks (each is exactly a ``method=single`` network)."""

    def __init__(
        self,
        modalities: tuple[str, ...],
        *,
        model_cfg: ModelConfig,
        preprocess_cfg: PreprocessConfig,
        activity_cfg: ActivityConfig,
        tasks: tuple[str, ...],
        num_classes: int,
        num_joints: int = NUM_JOINTS,
    ):
        super().__init__()
        self.modalities = tuple(modalities)
        no_purify = PurifyConfig(enabled=False)
        self.members = nn.ModuleDict(
            {
                name: PTAModel(
                    (name,),
                    model_cfg=model_cfg,
                    purify_cfg=no_purify,
                    preprocess_cfg=preprocess_cfg,
                    activity_cfg=activity_cfg,
                    tasks=tasks,
                    num_classes=num_classes,
                    num_joints=num_joints,
                )
                for name in self.modalities
            }
        )

    def fit_pose_targets(self, poses: torch.Tensor) -> None:
        """Fit every member's pose target statistics to training poses (N, J, 3) metres."""
        for member in self.members.values():
            member.fit_pose_targets(poses)

    def member_outputs(self, inputs: Inputs, present: torch.Tensor) -> dict[str, ModelOutput]:
        """Each present member's prediction for the whole batch (rows where it is absent are unused)."""
        outputs = {}
        for index, name in enumerate(self.modalities):
            column = present[:, index : index + 1]
            if bool(column.any()):
                outputs[name] = self.members[name]({name: inputs[name]}, column)
        return outputs

    def forward(self, inputs: Inputs, present: torch.Tensor) -> ModelOutput:
        present = present.bool()
        outputs = self.member_outputs(inputs, present)
        if not outputs:
            raise ValueError("no modality is present in the batch")
        count = present.sum(dim=1).clamp(min=1)
        result = {}
        for field in ("pose", "activity"):
            total = None
            for index, name in enumerate(self.modalities):
                value = getattr(outputs.get(name, ModelOutput()), field)
                if value is None:
                    continue
                mask = present[:, index].to(value.dtype).view(-1, *([1] * (value.dim() - 1)))
                total = value * mask if total is None else total + value * mask
            if total is not None:
                result[field] = total / count.to(total.dtype).view(-1, *([1] * (total.dim() - 1)))
        embeddings = [outputs[n].embedding for n in outputs if outputs[n].embedding is not None]
        if embeddings:
            # The window state of late fusion: every member's embedding (zero where absent) and its presence.
            parts = []
            for index, name in enumerate(self.modalities):
                flag = present[:, index : index + 1].to(embeddings[0].dtype)
                member = outputs.get(name)
                value = member.embedding * flag if member is not None else embeddings[0].new_zeros(embeddings[0].shape)
                parts += [value, flag]
            result["embedding"] = torch.cat(parts, dim=1)
        return ModelOutput(**result)

    def window_activity(self, embeddings: torch.Tensor, valid: torch.Tensor) -> torch.Tensor:
        """The mean of the members' window logits, over members present in some frame of the window."""
        width = (embeddings.shape[-1] // len(self.modalities)) - 1
        total, members = None, None
        for index, name in enumerate(self.modalities):
            start = index * (width + 1)
            member_valid = valid & (embeddings[..., start + width] > 0.5)
            logits = self.members[name].window_activity(embeddings[..., start : start + width], member_valid)
            used = member_valid.any(dim=1, keepdim=True).to(logits.dtype)
            total = logits * used if total is None else total + logits * used
            members = used if members is None else members + used
        return total / members.clamp(min=1.0)


def late_fusion_state_dict(singles: dict[str, dict[str, torch.Tensor]]) -> dict[str, torch.Tensor]:
    """Merge single-modality state dicts (modality → state dict) into a :class:`LateFusionModel` state dict."""
    return {f"members.{name}.{key}": value for name, state in singles.items() for key, value in state.items()}


# ---------------------------------------------------------------------------------------------
# X-Fi-style cross-attention fusion


class Attention(nn.Module):
    """Multi-head attention with separate (bias-free) K/V inputs and scaled-dot-product scaling 1/√d_head."""

    def __init__(self, dim: int, heads: int):
        super().__init__()
        if dim % heads:
            raise ValueError(f"model.dim {dim} is not divisible by model.fusion_heads {heads}")
        self.heads = heads
        self.q = nn.Linear(dim, dim, bias=False)
        self.k = nn.Linear(dim, dim, bias=False)
        self.v = nn.Linear(dim, dim, bias=False)

    def forward(self, query: torch.Tensor, context: torch.Tensor, key_valid: torch.Tensor | None = None) -> torch.Tensor:
        """query (B, Lq, D), context (B, Lk, D), key_valid (B, Lk) bool → (B, Lq, D)."""
        b, lq, d = query.shape
        split = lambda x: x.view(b, x.shape[1], self.heads, d // self.heads).transpose(1, 2)  # noqa: E731
        mask = None if key_valid is None else key_valid[:, None, None, :]
        out = F.scaled_dot_product_attention(split(self.q(query)), split(self.k(context)), split(self.v(context)), attn_mask=mask)
        return out.transpose(1, 2).reshape(b, lq, d)


def feed_forward(dim: int, hidden: int) -> nn.Sequential:
    return nn.Sequential(nn.LayerNorm(dim), nn.Linear(dim, hidden), nn.GELU(), nn.Linear(hidden, dim))


def group_mean(groups: torch.Tensor, valid: torch.Tensor) -> torch.Tensor:
    """Mean over the present groups: groups (B, G, L, D), valid (B, G) bool → (B, L, D)."""
    weight = valid.to(groups.dtype)[:, :, None, None]
    return (groups * weight).sum(dim=1) / weight.sum(dim=1).clamp(min=1)


class CrossModalTransformer(nn.Module):
    """Self-attention over all present tokens, pooled back to L tokens (+ pooled residual), then an FFN.

    X-Fi pools the token axis with AdaptiveAvgPool; here the pooling is the mean over present
    modalities of aligned tokens, which is the same size reduction but ignores absent modalities.
    """

    def __init__(self, dim: int, heads: int):
        super().__init__()
        self.norm = nn.LayerNorm(dim)
        self.attn = Attention(dim, heads)
        self.ffn = feed_forward(dim, 2 * dim)

    def forward(self, groups: torch.Tensor, valid: torch.Tensor) -> torch.Tensor:
        """groups (B, G, L, D), valid (B, G) → (B, L, D)."""
        b, g, length, d = groups.shape
        flat = groups.reshape(b, g * length, d)
        key_valid = valid[:, :, None].expand(b, g, length).reshape(b, g * length)
        normed = self.norm(flat)
        attended = self.attn(normed, normed, key_valid).view(b, g, length, d)
        pooled = group_mean(attended, valid) + group_mean(groups, valid)
        return pooled + self.ffn(pooled)


class XFusionBlock(nn.Module):
    """Per present modality: cross-attention (query = fused tokens, K/V = that modality) and an FFN;
    the per-modality outputs then go through a cross-modal transformer."""

    def __init__(self, modalities: tuple[str, ...], dim: int, heads: int):
        super().__init__()
        self.modalities = modalities
        self.kv = nn.ModuleDict(
            {m: nn.Sequential(nn.Linear(dim, 2 * dim), nn.LayerNorm(2 * dim), nn.ReLU(), nn.Linear(2 * dim, dim), nn.LayerNorm(dim)) for m in modalities}
        )
        self.query_norm = nn.LayerNorm(dim)
        self.cross = nn.ModuleDict({m: Attention(dim, heads) for m in modalities})
        self.out = nn.ModuleDict({m: nn.Sequential(nn.LayerNorm(dim), nn.Linear(dim, dim)) for m in modalities})
        self.ffn = nn.ModuleDict({m: feed_forward(dim, dim) for m in modalities})
        self.mixer = CrossModalTransformer(dim, heads)

    def forward(self, query: torch.Tensor, features: dict[str, torch.Tensor], valid: torch.Tensor) -> torch.Tensor:
        outputs = []
        q = self.query_norm(query)
        for name in self.modalities:
            if name not in features:
                outputs.append(torch.zeros_like(query))
                continue
            h = query + self.out[name](self.cross[name](q, self.kv[name](features[name])))
            outputs.append(h + self.ffn[name](h))
        return self.mixer(torch.stack(outputs, dim=1), valid)


class XFiModel(nn.Module):
    """Encoders and projectors as PTA, then X-Fusion (``model.fusion_depth`` blocks) and the PTA heads."""

    def __init__(
        self,
        modalities: tuple[str, ...],
        *,
        model_cfg: ModelConfig,
        preprocess_cfg: PreprocessConfig,
        activity_cfg: ActivityConfig,
        tasks: tuple[str, ...],
        num_classes: int,
        num_joints: int = NUM_JOINTS,
    ):
        super().__init__()
        self.modalities = tuple(modalities)
        dim = model_cfg.dim
        self.encoders = nn.ModuleDict()
        self.projectors = nn.ModuleDict()
        for name in self.modalities:
            encoder = build_encoder(name, model_cfg, preprocess_cfg)
            self.encoders[name] = encoder
            self.projectors[name] = Projector(
                encoder.num_tokens, encoder.out_channels, model_cfg.tokens, dim, model_cfg.projector, model_cfg.feature_norm
            )
        self.initial = CrossModalTransformer(dim, model_cfg.fusion_heads)
        self.blocks = nn.ModuleList(
            [XFusionBlock(self.modalities, dim, model_cfg.fusion_heads) for _ in range(model_cfg.fusion_depth)]
        )
        self.task = TaskHeads(model_cfg, activity_cfg, tasks, num_classes, num_joints)

    @property
    def pose_scale(self) -> PoseScale | None:
        return self.task.pose_scale

    def fit_pose_targets(self, poses: torch.Tensor) -> None:
        self.task.fit_pose_targets(poses)

    def encode(self, inputs: Inputs, present: torch.Tensor) -> dict[str, torch.Tensor]:
        """Projected tokens per modality present in some row (they do not depend on the other modalities)."""
        return encode_present(self.encoders, self.projectors, self.modalities, inputs, present)

    def decode(self, features: dict[str, torch.Tensor], present: torch.Tensor) -> ModelOutput:
        """X-Fusion over the present modalities' tokens, then the heads."""
        present = present.bool()
        if not features:
            raise ValueError("no modality is present in the batch")
        reference = next(iter(features.values()))
        groups = torch.stack([features.get(m, torch.zeros_like(reference)) for m in self.modalities], dim=1)
        query = self.initial(groups, present)  # (B, L, D)
        for block in self.blocks:
            query = block(query, features, present)
        return self.task(query)

    def window_activity(self, embeddings: torch.Tensor, valid: torch.Tensor) -> torch.Tensor:
        return self.task.window_activity(embeddings, valid)

    def forward(self, inputs: Inputs, present: torch.Tensor) -> ModelOutput:
        present = present.bool()
        return self.decode(self.encode(inputs, present), present)
