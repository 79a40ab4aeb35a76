"""Small building blocks for the from-scratch encoders (sized for real-time CPU inference)."""
from __future__ import annotations

import torch
from torch import nn


def conv_out(size: int, kernel: int, stride: int, padding: int) -> int:
    """Output length of a convolution along one axis."""
    return (size + 2 * padding - kernel) // stride + 1


class ResidualBlock(nn.Module):
    """Two 3-tap convolutions with BatchNorm and a (strided) shortcut; 1-D or 2-D."""

    def __init__(self, in_channels: int, out_channels: int, stride: int | tuple[int, int] = 1, *, dims: int = 2):
        super().__init__()
        conv = nn.Conv2d if dims == 2 else nn.Conv1d
        norm = nn.BatchNorm2d if dims == 2 else nn.BatchNorm1d
        self.body = nn.Sequential(
            conv(in_channels, out_channels, 3, stride, 1, bias=False),
            norm(out_channels),
            nn.ReLU(inplace=True),
            conv(out_channels, out_channels, 3, 1, 1, bias=False),
            norm(out_channels),
        )
        needs_projection = in_channels != out_channels or stride not in (1, (1, 1))
        self.shortcut = (
            nn.Sequential(conv(in_channels, out_channels, 1, stride, bias=False), norm(out_channels))
            if needs_projection
            else nn.Identity()
        )
        self.act = nn.ReLU(inplace=True)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.act(self.body(x) + self.shortcut(x))


def conv_stem(in_channels: int, out_channels: int, kernel: int, stride, *, dims: int = 2) -> nn.Sequential:
    conv = nn.Conv2d if dims == 2 else nn.Conv1d
    norm = nn.BatchNorm2d if dims == 2 else nn.BatchNorm1d
    return nn.Sequential(
        conv(in_channels, out_channels, kernel, stride, kernel // 2, bias=False),
        norm(out_channels),
        nn.ReLU(inplace=True),
    )


def feature_map_to_tokens(x: torch.Tensor) -> torch.Tensor:
    """(B, C, *spatial) → (B, prod(spatial), C)."""
    return x.flatten(2).transpose(1, 2)


class AttentionPool(nn.Module):
    """Pools a masked set of features into ``num_queries`` tokens with learned queries.

    Permutation-invariant over the set. A learned null key/value is always attendable, so an
    all-padding set (an empty point cloud) still yields finite tokens. No LayerNorm on the output:
    it would divide away each token's scale, which carries how strongly the set matches the query.
    """

    def __init__(self, channels: int, num_queries: int, heads: int = 4):
        super().__init__()
        self.queries = nn.Parameter(torch.randn(num_queries, channels) * 0.02)
        self.null = nn.Parameter(torch.zeros(1, channels))
        self.attn = nn.MultiheadAttention(channels, heads, batch_first=True)

    def forward(self, features: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
        """features (B, N, C), mask (B, N) True = valid → (B, num_queries, C)."""
        batch = features.shape[0]
        keys = torch.cat([self.null.expand(batch, 1, -1), features], dim=1)
        padding = torch.cat([mask.new_zeros(batch, 1), ~mask.bool()], dim=1)  # True = ignore
        queries = self.queries.expand(batch, -1, -1)
        pooled, _ = self.attn(queries, keys, keys, key_padding_mask=padding, need_weights=False)
        return pooled + queries
