"""Align: diffusion KD from the purified teacher to every present student (docs/method.md §3.4, §4).

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
        """features: modality → (B, L, D); present (B, M) bool; teacher (B, L, D), detached.

        With a shared DiffKD the students of every modality are refined in one batched pass (rows
        stacked), and L_diff and L_ae, which depend on the teacher alone, are computed once and
        counted once per student (``sum``, as the reference code adds them) or once (``mean``).
        """
        present = present.bool()
        distil = present.sum(dim=1) >= 2  # (B,) samples that get KD
        teacher_cl = teacher.detach().transpose(1, 2)  # (B, D, L)
        students = []  # (modality index, name, rows that get KD)
        for index, name in enumerate(self.modalities):
            if name in features:
                rows = torch.nonzero(present[:, index] & distil).squeeze(1)
                if rows.numel() > 0:
                    students.append((index, name, rows))
        refined_by_name: dict[str, torch.Tensor] = {}
        dists, diffusion, ae = [], [], []
        groups = [students] if self.cfg.sharing == "shared" else [[s] for s in students]
        for group in groups:
            if not group:
                continue
            module = self.module_for(group[0][1])
            rows_all = torch.cat([rows for _, _, rows in group])
            stacked = torch.cat([features[name][rows] for _, name, rows in group]).transpose(1, 2)
            taught = torch.unique(rows_all)
            out = module(stacked, teacher_cl[taught], generator, teacher_rows=torch.searchsorted(taught, rows_all))
            diffusion.append(out.diffusion_loss)
            ae.append(out.ae_loss)
            start = 0
            for _, name, rows in group:
                refined = out.refined[start : start + len(rows)]
                target = out.teacher[start : start + len(rows)]
                start += len(rows)
                latent = refined.shape[1]
                # DIST on one row per token: (b, C′, L) → (b·L, C′)
                dists.append(dist_loss(
                    refined.transpose(1, 2).reshape(-1, latent),
                    target.transpose(1, 2).reshape(-1, latent),
                    beta=self.cfg.dist_beta, gamma=self.cfg.dist_gamma, tau=self.cfg.dist_tau,
                ))
                refined_by_name[name] = module.decode(refined).transpose(1, 2)
        head_tokens = self._head_tokens(features, present, students, refined_by_name)
        calls = len(dists)
        if calls == 0:
            zero = head_tokens.new_zeros(())
            return AlignOutput(head_tokens, zero, {k: zero.detach() for k in ("dist", "diffusion", "ae")})
        dist = torch.stack(dists)
        # Per student: DIST_m + L_diff + L_ae (the teacher terms of its DiffKD module).
        teacher_terms = torch.stack(diffusion) + torch.stack(ae)  # one per module call
        if self.cfg.aggregate == "sum":
            shared_calls = calls if self.cfg.sharing == "shared" else 1  # one shared call stands for every student
            total = dist.sum() + teacher_terms.sum() * shared_calls
            scale = float(calls)
        else:
            total = dist.mean() + teacher_terms.mean()
            scale = 1.0
        terms = {
            "dist": (dist.sum() if self.cfg.aggregate == "sum" else dist.mean()).detach(),
            "diffusion": (torch.stack(diffusion).mean() * scale).detach(),
            "ae": (torch.stack(ae).mean() * scale).detach(),
        }
        return AlignOutput(head_tokens=head_tokens, kd_loss=total, terms=terms)

    def _head_tokens(self, features, present, students, refined_by_name) -> torch.Tensor:
        """Per sample, the mean over its present modalities of the students, refined rows replaced by
        their decoded refinement (the reference code's head input)."""
        rows_of = {name: rows for _, name, rows in students}
        head_sum = None
        for index, name in enumerate(self.modalities):
            if name not in features:
                continue
            tokens = features[name]
            if name in refined_by_name:
                tokens = tokens.index_put((rows_of[name],), refined_by_name[name].to(tokens.dtype))  # out of place
            masked = tokens * present[:, index, None, None].to(tokens.dtype)
            head_sum = masked if head_sum is None else head_sum + masked
        if head_sum is None:
            raise ValueError("no modality is present in the batch")
        count = present.sum(dim=1).clamp(min=1).to(head_sum.dtype)
        return head_sum / count[:, None, None]
