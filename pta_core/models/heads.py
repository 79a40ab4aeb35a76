"""Task heads (pta-method.md §3.5): mean over tokens → LayerNorm → Linear.

The reference code's pose head never applied its Linear (§10); this one does.
"""
from __future__ import annotations

import torch
from torch import nn

from pta_core.skeleton import NUM_JOINTS


class PoseHead(nn.Module):
    """(B, L, D) → (B, 17, 3) joints in metres."""

    def __init__(self, dim: int):
        super().__init__()
        self.norm = nn.LayerNorm(dim)
        self.fc = nn.Linear(dim, NUM_JOINTS * 3)

    def forward(self, tokens: torch.Tensor) -> torch.Tensor:
        return self.fc(self.norm(tokens.mean(dim=1))).view(-1, NUM_JOINTS, 3)


class ActivityHead(nn.Module):
    """(B, L, D) → (B, K) class logits."""

    def __init__(self, dim: int, num_classes: int):
        super().__init__()
        self.norm = nn.LayerNorm(dim)
        self.fc = nn.Linear(dim, num_classes)

    def forward(self, tokens: torch.Tensor) -> torch.Tensor:
        return self.fc(self.norm(tokens.mean(dim=1)))
