"""DiffKD, 1-D port as in PTA's ``meta_diffusion/losses/diffkd`` (docs/method.md §3.4).

Student features are treated as noisy teacher features: a small diffusion model, trained on
(auto-encoded) teacher features, denoises the student before distillation. Layout: features are
(B, C, L) = channels × tokens (the model's (B, L, D) tokens transposed).

Per call: ŝ (B, C′, L) refined student, t (B, C′, L) teacher latent (detached), L_diff, L_ae;
C′ = ``ae_channels`` (D/2 by default).
"""
from __future__ import annotations

from dataclasses import dataclass

import torch
import torch.nn.functional as F
from torch import nn

from pta_core.config import DDIMConfig
from pta_core.models.diffusion.ddim import DDIMScheduler

TIME_EMBEDDINGS = 1280  # Embedding(1280, C) as in DiffKD (covers t < 1000 with room to spare)


class Bottleneck(nn.Module):
    """1×1 → 3-tap → 1×1 with BatchNorm, residual (DiffKD's ``Bottleneck``, 1-D)."""

    def __init__(self, channels: int, reduction: int = 4):
        super().__init__()
        hidden = max(channels // reduction, 1)
        self.block = nn.Sequential(
            nn.Conv1d(channels, hidden, 1),
            nn.BatchNorm1d(hidden),
            nn.ReLU(inplace=True),
            nn.Conv1d(hidden, hidden, 3, padding=1),
            nn.BatchNorm1d(hidden),
            nn.ReLU(inplace=True),
            nn.Conv1d(hidden, channels, 1),
            nn.BatchNorm1d(channels),
        )

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.block(x) + x


class Denoiser(nn.Module):
    """ε_θ(x_t, t): x + Embedding(t) → Bottleneck → Bottleneck → Conv1×1 → BN."""

    def __init__(self, channels: int):
        super().__init__()
        self.time_embedding = nn.Embedding(TIME_EMBEDDINGS, channels)
        self.pred = nn.Sequential(
            Bottleneck(channels), Bottleneck(channels), nn.Conv1d(channels, channels, 1), nn.BatchNorm1d(channels)
        )

    def forward(self, x: torch.Tensor, timesteps: torch.Tensor) -> torch.Tensor:
        """x (B, C, L); timesteps () or (B,) long."""
        emb = self.time_embedding(timesteps.long().to(x.device))  # (C,) or (B, C)
        return self.pred(x + emb.unsqueeze(-1))


class NoiseAdapter(nn.Module):
    """Per-sample γ ∈ (0, 1): how much of the student to keep in the starting point x = γ s + (1 − γ) ε."""

    def __init__(self, channels: int):
        super().__init__()
        self.feat = nn.Sequential(Bottleneck(channels, reduction=8), nn.AdaptiveAvgPool1d(1))
        self.pred = nn.Linear(channels, 2)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """x (B, C, L) → γ (B,)."""
        return self.pred(self.feat(x).flatten(1)).softmax(dim=1)[:, 0]


class AutoEncoder(nn.Module):
    """Linear teacher autoencoder: enc Conv1×1(C→C′)+BN, dec Conv1×1(C′→C)."""

    def __init__(self, channels: int, latent_channels: int):
        super().__init__()
        self.encoder = nn.Sequential(nn.Conv1d(channels, latent_channels, 1), nn.BatchNorm1d(latent_channels))
        self.decoder = nn.Conv1d(latent_channels, channels, 1)

    def forward(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        hidden = self.encoder(x)
        return hidden, self.decoder(hidden)


@dataclass
class DiffKDOutput:
    refined: torch.Tensor  # ŝ (B, C′, L)
    teacher: torch.Tensor  # t (B, C′, L), detached
    diffusion_loss: torch.Tensor  # L_diff (scalar)
    ae_loss: torch.Tensor  # L_ae (scalar)


class DiffKD(nn.Module):
    """Refines a student with DDIM sampling guided by a denoiser trained on teacher latents.

    Args:
        channels: C, feature channels of student and teacher.
        ae_channels: C′, the teacher latent width (0: C // 2).
        ddim: scheduler and sampling settings.
    """

    def __init__(self, channels: int, *, ae_channels: int = 0, ddim: DDIMConfig | None = None):
        super().__init__()
        ddim = ddim or DDIMConfig()
        latent = ae_channels or channels // 2
        self.latent_channels = latent
        self.ae = AutoEncoder(channels, latent)
        self.trans = nn.Conv1d(channels, latent, 1)  # student → teacher-latent width
        self.model = Denoiser(latent)
        self.noise_adapter = NoiseAdapter(latent)
        self.proj = nn.Sequential(nn.Conv1d(latent, latent, 1), nn.BatchNorm1d(latent))
        self.scheduler = DDIMScheduler(
            num_train_timesteps=ddim.num_train_timesteps,
            beta_start=ddim.beta_start,
            beta_end=ddim.beta_end,
            eta=ddim.eta,
        )
        self.scheduler.set_timesteps(ddim.num_inference_steps, ddim.start_timestep)

    def decode(self, latent: torch.Tensor) -> torch.Tensor:
        """AE decoder: (B, C′, L) → (B, C, L)."""
        return self.ae.decoder(latent)

    def refine(self, student: torch.Tensor, generator: torch.Generator | None = None) -> torch.Tensor:
        """DDIM sampling from x = γ s + (1 − γ) ε through the scheduler's timesteps, then ``proj``.

        Gradients flow through the loop into the student and the denoiser (as in PTA / DiffKD).
        """
        noise = torch.randn(student.shape, generator=generator, device=student.device, dtype=student.dtype)
        gamma = self.noise_adapter(student).view(-1, 1, 1)
        x = gamma * student + (1 - gamma) * noise
        for t in self.scheduler.timesteps:
            eps = self.model(x, t)
            x = self.scheduler.step(eps, t, x, generator=generator).prev_sample
        return self.proj(x)

    def diffusion_loss(self, latent: torch.Tensor, generator: torch.Generator | None = None) -> torch.Tensor:
        """L_diff = MSE(ε, ε_θ(√ᾱ_t z + √(1−ᾱ_t) ε, t)), t ~ U{0, …, T−1} per sample."""
        noise = torch.randn(latent.shape, generator=generator, device=latent.device, dtype=latent.dtype)
        timesteps = torch.randint(
            0, self.scheduler.num_train_timesteps, (latent.shape[0],), generator=generator, device=latent.device
        )
        noisy = self.scheduler.add_noise(latent, noise, timesteps)
        return F.mse_loss(self.model(noisy, timesteps).float(), noise.float())

    def forward(
        self,
        student: torch.Tensor,
        teacher: torch.Tensor,
        generator: torch.Generator | None = None,
        teacher_rows: torch.Tensor | None = None,
    ) -> DiffKDOutput:
        """student (N, C, L), teacher (B, C, L) → :class:`DiffKDOutput`. The teacher should already be
        detached. ``teacher_rows`` (N,) pairs each student row with its teacher row (None: N = B, in
        order), so several students of one sample share one teacher (the AE and L_diff see each
        teacher once)."""
        latent, reconstruction = self.ae(teacher)
        ae_loss = F.mse_loss(reconstruction.float(), teacher.float())
        latent = latent.detach()  # the AE learns only from L_ae; the denoiser trains on a fixed target
        refined = self.refine(self.trans(student), generator)
        return DiffKDOutput(
            refined=refined,
            teacher=latent if teacher_rows is None else latent[teacher_rows],
            diffusion_loss=self.diffusion_loss(latent, generator),
            ae_loss=ae_loss,
        )
