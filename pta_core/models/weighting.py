"""Purify: one learned logit per modality, softmax, renormalised over the modalities present.

docs/method.md §3.3: φ (M,), w = softmax(φ), w̃_m = w_m / Σ_{k∈S} w_k over the present set S
(HPE; HAR keeps the plain softmax). Absent modalities get weight 0 and therefore no gradient.
"""
from __future__ import annotations

import torch
from torch import nn


class ModalityWeights(nn.Module):
    def __init__(self, modalities: tuple[str, ...], *, init: str = "ones", renorm_present: bool = True,
                 learnable: bool = True, generator: torch.Generator | None = None):
        super().__init__()
        self.modalities = tuple(modalities)
        if init == "ones":
            logits = torch.ones(len(modalities))
        elif init == "uniform":
            logits = torch.rand(len(modalities), generator=generator)
        else:
            raise ValueError(f"unknown phi_init {init!r}; known: ones, uniform")
        # Not learnable (PTA without Purify): a buffer, so optimisers and the meta step never see it.
        if learnable:
            self.logits = nn.Parameter(logits)
        else:
            self.register_buffer("logits", torch.zeros(len(modalities)))
        self.renorm_present = renorm_present

    def forward(self, present: torch.Tensor) -> torch.Tensor:
        """present (B, M) bool → weights (B, M), zero where absent; rows sum to 1 when renormalising."""
        present = present.bool()
        logits = self.logits.unsqueeze(0).expand(present.shape[0], -1)
        if not self.renorm_present:
            return torch.softmax(logits, dim=1) * present.to(logits.dtype)
        # softmax over the present set = w_m / Σ_{k∈S} w_k, with exactly zero gradient for absent logits.
        weights = torch.softmax(logits.masked_fill(~present, float("-inf")), dim=1)
        return torch.where(present.any(dim=1, keepdim=True), weights, torch.zeros_like(weights))

    def as_dict(self) -> dict[str, float]:
        """Softmax weights over all modalities, by name (for logs and checkpoints)."""
        with torch.no_grad():
            return dict(zip(self.modalities, torch.softmax(self.logits, 0).tolist()))
