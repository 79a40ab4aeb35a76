"""Per-modality projector to L tokens × D channels (X-Fi / PTA, docs/method.md §3.2).

``model.projector``:

- ``linear`` (the project default): Conv1d(C_m→D, 1) over channels, then Linear(L_m→L) over tokens.
- ``bn_relu`` (the reference code): the same two maps, each followed by BatchNorm (channels only)
  and ReLU.

``model.feature_norm`` standardises each sample's projected (L, D) block (no learned scale), so every
modality enters the weighted fusion at the same scale and a Purify weight is the modality's share of
the fused features (an encoder cannot undo a small weight by growing its output).

Why the default drops BatchNorm and both ReLUs (docs/RESULTS.md): the ReLU after the token map
clips every fused feature at zero, and BatchNorm's statistics mix whatever rows a batch holds.
Together with the head's layout it is what the results suite's PTA-reference-layers run compares
(see heads.py).
"""
from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

PROJECTOR_KINDS = ("linear", "bn_relu")


class Projector(nn.Module):
    """(B, L_m, C_m) → (B, L, D)."""

    def __init__(self, in_tokens: int, in_channels: int, tokens: int, dim: int, kind: str = "linear",
                 normalize: bool = False):
        super().__init__()
        self.normalize = normalize
        if kind not in PROJECTOR_KINDS:
            raise ValueError(f"unknown model.projector {kind!r}; known: {', '.join(PROJECTOR_KINDS)}")
        if kind == "bn_relu":
            self.channels = nn.Sequential(nn.Conv1d(in_channels, dim, 1), nn.BatchNorm1d(dim), nn.ReLU(inplace=True))
            self.tokens = nn.Sequential(nn.Linear(in_tokens, tokens), nn.ReLU(inplace=True))
        else:
            self.channels = nn.Conv1d(in_channels, dim, 1)
            self.tokens = nn.Linear(in_tokens, tokens)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = self.channels(x.transpose(1, 2))  # (B, D, L_m)
        x = self.tokens(x).transpose(1, 2)  # (B, L, D)
        if self.normalize:  # each sample's (L, D) block to zero mean, unit variance: one scale for all modalities
            x = F.layer_norm(x, x.shape[1:])
        return x
