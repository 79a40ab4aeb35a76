"""Per-modality projector to L tokens × D channels (X-Fi / PTA, pta-method.md §3.2)."""
from __future__ import annotations

import torch
from torch import nn


class Projector(nn.Module):
    """(B, L_m, C_m) → (B, L, D): Conv1d(C_m→D, 1)+BN+ReLU over channels, Linear(L_m→L)+ReLU over tokens."""

    def __init__(self, in_tokens: int, in_channels: int, tokens: int, dim: int):
        super().__init__()
        self.channels = nn.Sequential(nn.Conv1d(in_channels, dim, 1), nn.BatchNorm1d(dim), nn.ReLU(inplace=True))
        self.tokens = nn.Sequential(nn.Linear(in_tokens, tokens), nn.ReLU(inplace=True))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = self.channels(x.transpose(1, 2))  # (B, D, L_m)
        return self.tokens(x).transpose(1, 2)  # (B, L, D)
