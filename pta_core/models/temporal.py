"""Activity over time: a small temporal network over a window of per-frame embeddings.

An action is a motion, so the activity head reads a window of frames (``activity.window`` frames
spaced by the dataset's frame period, the last one being the frame it labels), not one frame: from
a single frame a network can only learn which recording the frame came from (where the person
stood), which does not carry over to new people. The per-frame embedding is the pose head's hidden
vector (:meth:`pta_core.models.heads.TokenHead.embed`): a description of the body that the
pose task shaped. Frames of a window may be missing (no sensor data, a dropped message): they are
masked out of the convolutions' inputs and of the pooling.
"""
from __future__ import annotations

import torch
from torch import nn


class WindowActivityHead(nn.Module):
    """(B, T, E) frame embeddings + (B, T) validity → (B, K) class logits.

    Layout: LayerNorm → Linear(E→W) → GELU, then ``layers`` residual blocks of a temporal
    convolution (kernel 3, GELU), then masked mean and max pooling over time → Linear(2W→K).
    """

    def __init__(self, embedding_dim: int, num_classes: int, width: int = 128, layers: int = 2, dropout: float = 0.1):
        super().__init__()
        self.embedding_dim = embedding_dim
        self.inp = nn.Sequential(nn.LayerNorm(embedding_dim), nn.Linear(embedding_dim, width), nn.GELU())
        self.blocks = nn.ModuleList(
            [nn.Sequential(nn.Conv1d(width, width, 3, padding=1), nn.GELU(), nn.Dropout(dropout)) for _ in range(layers)]
        )
        self.out = nn.Sequential(nn.Dropout(dropout), nn.Linear(2 * width, num_classes))

    def forward(self, embeddings: torch.Tensor, valid: torch.Tensor) -> torch.Tensor:
        mask = valid.to(embeddings.dtype).unsqueeze(-1)  # (B, T, 1)
        x = self.inp(embeddings) * mask
        x = x.transpose(1, 2)  # (B, W, T)
        channel_mask = mask.transpose(1, 2)
        for block in self.blocks:
            x = (x + block(x)) * channel_mask
        count = channel_mask.sum(dim=2).clamp(min=1.0)
        mean = x.sum(dim=2) / count
        peak = x.masked_fill(channel_mask == 0, float("-inf")).amax(dim=2)
        peak = torch.where(torch.isfinite(peak), peak, torch.zeros_like(peak))  # an all-invalid window
        return self.out(torch.cat([mean, peak], dim=1))
