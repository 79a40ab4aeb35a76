"""Task heads: tokens (B, L, D) → pose (B, 17, 3) or class logits (B, K).

Two layouts (``model.head``):

- ``flatten`` (the project default): the L tokens are concatenated (L·D) and one Linear maps
  them to the output. Every token keeps its own weights, so what the projector put in token l is
  not averaged away.
- ``mean_ln`` (the reference code, pta-method.md §3.5): mean over tokens → LayerNorm → Linear.
  The reference pose head never applied its Linear (§10); this one does.

Why the default deviates (docs/RESULTS.md, "What changed"): the mean over tokens of a projector
whose channel map is shared by all tokens leaves the head one pooled vector whatever L is, and
LayerNorm then removes that vector's per-sample mean and scale. In the results suite, PTA with the
reference head and projector had 304.3 / 300.9 mm MPJPE and 202.1 / 191.4 mm PA-MPJPE over the 31
combinations (two seeds) against 247.5 / 292.5 and 115.8 / 122.0 mm with the defaults.

The pose head's bias starts at the training mean pose when the trainer calls
:meth:`PoseHead.init_mean_pose`: poses are absolute (camera frame, the root about 3 m in front),
so with a zero bias the first optimiser steps are spent moving the output to where people are.
"""
from __future__ import annotations

import torch
from torch import nn

from pta_core.skeleton import NUM_JOINTS

HEAD_KINDS = ("flatten", "mean_ln")


class TokenHead(nn.Module):
    """(B, L, D) → (B, out_features) with the ``kind`` layout above."""

    def __init__(self, tokens: int, dim: int, out_features: int, kind: str = "flatten"):
        super().__init__()
        if kind not in HEAD_KINDS:
            raise ValueError(f"unknown model.head {kind!r}; known: {', '.join(HEAD_KINDS)}")
        self.kind = kind
        self.norm = nn.LayerNorm(dim) if kind == "mean_ln" else None
        self.fc = nn.Linear(tokens * dim if kind == "flatten" else dim, out_features)

    def forward(self, tokens: torch.Tensor) -> torch.Tensor:
        if self.norm is None:
            return self.fc(tokens.flatten(1))  # (B, L·D)
        return self.fc(self.norm(tokens.mean(dim=1)))


class PoseHead(TokenHead):
    """(B, L, D) → (B, 17, 3) joints in metres."""

    def __init__(self, tokens: int, dim: int, kind: str = "flatten"):
        super().__init__(tokens, dim, NUM_JOINTS * 3, kind)

    def forward(self, tokens: torch.Tensor) -> torch.Tensor:
        return super().forward(tokens).view(-1, NUM_JOINTS, 3)

    @torch.no_grad()
    def init_mean_pose(self, mean_pose: torch.Tensor) -> None:
        """Start the output bias at ``mean_pose`` (17, 3) metres (before training)."""
        self.fc.bias.copy_(mean_pose.reshape(-1).to(self.fc.bias))


class ActivityHead(TokenHead):
    """(B, L, D) → (B, K) class logits."""

    def __init__(self, tokens: int, dim: int, num_classes: int, kind: str = "flatten"):
        super().__init__(tokens, dim, num_classes, kind)
