"""Task heads: tokens (B, L, D) → pose (B, J, 3) (J: the dataset's joint set) or class logits (B, K).

Three layouts (``model.head``):

- ``mlp`` (the project default): the L tokens are concatenated (L·D), layer-normalised and read
  by a two-layer MLP whose hidden vector is the frame's *embedding* (what the windowed activity
  head reads, :mod:`pta_core.models.temporal`). The pose comes out as a root joint plus a
  root-relative pose, each in units of its training standard deviation (:class:`PoseScale`).
- ``flatten``: one Linear over the L·D concatenated tokens.
- ``mean_ln`` (the reference code, docs/method.md §3.5): mean over tokens → LayerNorm → Linear.
  The reference pose head never applied its Linear (§10); this one does.

Why ``mlp`` is the default: with a linear projector, a head that is linear in the fused tokens
makes PTA a weighted late fusion, head(Σ w̃ F_m) = Σ w̃ head(F_m), so the modalities never combine
their features; the hidden layer makes the fusion a feature-level one. Why normalised root and
relative pose: poses are absolute (the root about 3 m in front of the camera) and vary far more
in where the person stands than in the body's shape, so an unnormalised MSE is dominated by the root.
"""
from __future__ import annotations

import torch
from torch import nn

from pta_core.skeleton import NUM_JOINTS

HEAD_KINDS = ("mlp", "flatten", "mean_ln")


class PoseScale(nn.Module):
    """Training statistics of the pose targets: root (joint 0) and root-relative pose.

    ``normalise(pose)`` maps (B, J, 3) metres to (B, J, 3) standardised units, row 0 the root and
    the other rows the root-relative joints; ``denormalise`` inverts it. Buffers, so they travel in
    the state dict (and in model.pt). Until :meth:`fit` is called the map is the identity.
    """

    def __init__(self, num_joints: int = NUM_JOINTS) -> None:
        super().__init__()
        self.register_buffer("mean", torch.zeros(num_joints, 3))
        self.register_buffer("std", torch.ones(num_joints, 3))

    @torch.no_grad()
    def fit(self, poses: torch.Tensor) -> None:
        """Set the statistics from training poses (N, J, 3) metres.

        Root: per-axis mean and standard deviation. Relative joints: per-joint, per-axis mean and one
        standard deviation shared by all relative coordinates (so no small-variance joint is inflated).
        """
        poses = poses.double()
        root = poses[:, 0]
        relative = poses[:, 1:] - root[:, None]
        mean = torch.cat([root.mean(0, keepdim=True), relative.mean(0)])
        std = torch.empty_like(mean)
        std[0] = root.std(0).clamp(min=1e-3)
        std[1:] = (relative - mean[1:]).std().clamp(min=1e-3)
        self.mean.copy_(mean.to(self.mean))
        self.std.copy_(std.to(self.std))

    def normalise(self, pose: torch.Tensor) -> torch.Tensor:
        root = pose[:, :1]
        parts = torch.cat([root, pose[:, 1:] - root], dim=1)
        return (parts - self.mean) / self.std

    def mean_pose(self) -> torch.Tensor:
        """(1, J, 3) metres: the pose at zero standardised units."""
        return self.denormalise(torch.zeros_like(self.mean)[None])

    def denormalise(self, units: torch.Tensor) -> torch.Tensor:
        parts = units * self.std + self.mean
        root = parts[:, :1]
        return torch.cat([root, parts[:, 1:] + root], dim=1)


class TokenHead(nn.Module):
    """(B, L, D) → (B, out_features) with the ``kind`` layout above."""

    def __init__(self, tokens: int, dim: int, out_features: int, kind: str = "mlp", hidden: int = 256, dropout: float = 0.0):
        super().__init__()
        if kind not in HEAD_KINDS:
            raise ValueError(f"unknown model.head {kind!r}; known: {', '.join(HEAD_KINDS)}")
        self.kind = kind
        self.embedding_dim = {"mlp": hidden, "flatten": tokens * dim, "mean_ln": dim}[kind]
        if kind == "mlp":
            self.body = nn.Sequential(
                nn.LayerNorm(tokens * dim), nn.Linear(tokens * dim, hidden), nn.GELU(), nn.Dropout(dropout)
            )
            self.fc = nn.Linear(hidden, out_features)
        elif kind == "flatten":
            self.fc = nn.Linear(tokens * dim, out_features)
        else:
            self.norm = nn.LayerNorm(dim)
            self.fc = nn.Linear(dim, out_features)

    def embed(self, tokens: torch.Tensor) -> torch.Tensor:
        """The vector the output layer reads: (B, hidden) for ``mlp``, else the pooled or flat tokens."""
        if self.kind == "mlp":
            return self.body(tokens.flatten(1))
        if self.kind == "flatten":
            return tokens.flatten(1)
        return self.norm(tokens.mean(dim=1))

    def forward(self, tokens: torch.Tensor) -> torch.Tensor:
        return self.fc(self.embed(tokens))


class PoseHead(TokenHead):
    """(B, L, D) → (B, J, 3) joints in metres (via :class:`PoseScale` units)."""

    def __init__(self, tokens: int, dim: int, kind: str = "mlp", hidden: int = 256, dropout: float = 0.0,
                 num_joints: int = NUM_JOINTS):
        super().__init__(tokens, dim, num_joints * 3, kind, hidden, dropout)
        self.num_joints = num_joints
        self.scale = PoseScale(num_joints)

    def from_embedding(self, embedding: torch.Tensor) -> torch.Tensor:
        return self.scale.denormalise(self.fc(embedding).view(-1, self.num_joints, 3))

    def forward(self, tokens: torch.Tensor) -> torch.Tensor:
        return self.from_embedding(self.embed(tokens))

    @torch.no_grad()
    def fit_targets(self, poses: torch.Tensor) -> None:
        """Fit :class:`PoseScale` to training poses (N, J, 3) metres and start the output at their mean."""
        self.scale.fit(poses)
        nn.init.zeros_(self.fc.bias)  # units are centred: a zero output is the mean pose


class ActivityHead(TokenHead):
    """(B, L, D) → (B, K) class logits, from one sample's tokens (XRF55: a sample is a 5 s sequence)."""

    def __init__(self, tokens: int, dim: int, num_classes: int, kind: str = "mlp", hidden: int = 256, dropout: float = 0.0):
        super().__init__(tokens, dim, num_classes, kind, hidden, dropout)
