"""Align: diffusion KD from the purified teacher to every present student (pta-method.md §3.4, §4).

Training only; it lives outside the inference model (the objective owns it), so exported model files
never carry it. For samples with |S| ≥ 2 present modalities, each student F_m is refined by DiffKD
(one shared module, or one per modality), distilled towards the teacher latent with DIST on
(B·L, D′) rows, and decoded back to D channels; the head then sees the mean of the decoded students
(equal to PTA's concat along tokens, since the heads average over tokens). Samples with |S| = 1 get
no KD and their head input is F_m.
"""
from __future__ import annotations

from dataclasses import dataclass

import torch
from torch import nn

from pta_core.config import AlignConfig
from pta_core.models.diffusion.diffkd import DiffKD
from pta_core.models.diffusion.dist import dist_loss

SHARED_KEY = "shared"


@dataclass
class AlignOutput:
    head_tokens: torch.Tensor  # (B, L, D): per-sample mean over present modalities of the (refined) students
    kd_loss: torch.Tensor  # λ-free KD term: Σ or mean over modalities of DIST + L_diff + L_ae
    terms: dict[str, torch.Tensor]  # detached parts for logging: dist, diffusion, ae (aggregated like kd_loss)


class Align(nn.Module):
    """DiffKD bank plus the PTA KD aggregation. ``modalities`` in the model's order."""

    def __init__(self, modalities: tuple[str, ...], dim: int, cfg: AlignConfig):
        super().__init__()
        self.modalities = tuple(modalities)
        self.cfg = cfg
        names = (SHARED_KEY,) if cfg.sharing == "shared" else self.modalities
        self.diffkd = nn.ModuleDict(
            {name: DiffKD(dim, ae_channels=cfg.ae_channels, ddim=cfg.ddim) for name in names}
        )

    def module_for(self, modality: str) -> DiffKD:
        return self.diffkd[SHARED_KEY if self.cfg.sharing == "shared" else modality]

    def forward(
        self,
        features: dict[str, torch.Tensor],
        present: torch.Tensor,
        teacher: torch.Tensor,
        generator: torch.Generator | None = None,
    ) -> AlignOutput:
        """features: modality → (B, L, D); present (B, M) bool; teacher (B, L, D), detached."""
        present = present.bool()
        distil = present.sum(dim=1) >= 2  # (B,) samples that get KD
        teacher_cl = teacher.detach().transpose(1, 2)  # (B, D, L)
        total = None
        parts = {"dist": [], "diffusion": [], "ae": []}
        head_sum = None
        for index, name in enumerate(self.modalities):
            if name not in features:
                continue
            student = features[name]
            column = present[:, index]
            rows = torch.nonzero(column & distil).squeeze(1)
            tokens = student
            if rows.numel() > 0:
                out = self.module_for(name)(student[rows].transpose(1, 2), teacher_cl[rows], generator)
                latent = out.refined.shape[1]
                # DIST on one row per token: (b, C′, L) → (b·L, C′)
                dist = dist_loss(
                    out.refined.transpose(1, 2).reshape(-1, latent),
                    out.teacher.transpose(1, 2).reshape(-1, latent),
                    beta=self.cfg.dist_beta,
                    gamma=self.cfg.dist_gamma,
                    tau=self.cfg.dist_tau,
                )
                term = dist + out.diffusion_loss + out.ae_loss
                total = term if total is None else total + term
                parts["dist"].append(dist.detach())
                parts["diffusion"].append(out.diffusion_loss.detach())
                parts["ae"].append(out.ae_loss.detach())
                decoded = self.module_for(name).decode(out.refined).transpose(1, 2).to(student.dtype)  # (b, L, D)
                tokens = student.index_put((rows,), decoded)  # out of place: refined rows replace F_m
            masked = tokens * column[:, None, None].to(tokens.dtype)
            head_sum = masked if head_sum is None else head_sum + masked
        if head_sum is None:
            raise ValueError("no modality is present in the batch")
        count = present.sum(dim=1).clamp(min=1).to(head_sum.dtype)
        head_tokens = head_sum / count[:, None, None]
        calls = len(parts["dist"])
        if total is None:
            total = head_tokens.new_zeros(())
        elif self.cfg.aggregate == "mean":
            total = total / calls
        scale = 1.0 if self.cfg.aggregate == "sum" or calls == 0 else 1.0 / calls
        terms = {k: (torch.stack(v).sum() * scale if v else head_tokens.new_zeros(()).detach()) for k, v in parts.items()}
        return AlignOutput(head_tokens=head_tokens, kd_loss=total, terms=terms)
