"""DIST loss (Huang et al., NeurIPS 2022, "Knowledge Distillation from A Stronger Teacher").

Rows are softmax distributions p = softmax(z / τ). The inter term is 1 − mean Pearson correlation
between matching student and teacher rows; the intra term is the same on the transposed matrices
(per column). loss = τ² (β · inter + γ · intra). PTA applies it to (B·L, D′) rows, one per token
(docs/method.md §3.4).
"""
from __future__ import annotations

import torch


def pearson_correlation(a: torch.Tensor, b: torch.Tensor, eps: float = 1e-8) -> torch.Tensor:
    """Row-wise Pearson correlation of (N, C) tensors → (N,). Invariant to a positive affine map of a row."""
    a = a - a.mean(dim=1, keepdim=True)
    b = b - b.mean(dim=1, keepdim=True)
    return (a * b).sum(dim=1) / (a.norm(dim=1) * b.norm(dim=1) + eps)


def inter_relation(student: torch.Tensor, teacher: torch.Tensor) -> torch.Tensor:
    return 1 - pearson_correlation(student, teacher).mean()


def intra_relation(student: torch.Tensor, teacher: torch.Tensor) -> torch.Tensor:
    return inter_relation(student.transpose(0, 1), teacher.transpose(0, 1))


def dist_loss(
    student: torch.Tensor, teacher: torch.Tensor, *, beta: float = 1.0, gamma: float = 1.0, tau: float = 1.0
) -> torch.Tensor:
    """DIST between (N, C) student and teacher logits (scalar). 0 when they are equal; symmetric in its inputs."""
    if student.shape != teacher.shape or student.dim() != 2:
        raise ValueError(f"DIST needs two (N, C) tensors of one shape, got {tuple(student.shape)}, {tuple(teacher.shape)}")
    # float32 for the softmax and correlations (inputs may come from bf16 autocast).
    p_s = torch.softmax(student.float() / tau, dim=1)
    p_t = torch.softmax(teacher.float() / tau, dim=1)
    return tau**2 * (beta * inter_relation(p_s, p_t) + gamma * intra_relation(p_s, p_t))
