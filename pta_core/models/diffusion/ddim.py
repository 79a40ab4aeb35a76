"""DDIM noise scheduler (Song et al., 2021), shaped like diffusers' ``DDIMScheduler``.

A plain object (not an ``nn.Module``, no network inside): the denoiser is called by the caller.
PTA's Align module samples 5 steps from t = 800 (docs/method.md §3.4):
``set_timesteps(5)`` → timesteps 800, 600, 400, 200, 0.

Paper notation ↔ code (DDIM eq. 12, ε-prediction):

    ᾱ_t                     alpha_prod_t        = Π_{s≤t} (1 − β_s)
    ᾱ_{t−Δ}                 alpha_prod_t_prev   (1 at the end of the chain: ``set_alpha_to_one``)
    x_t                     sample
    ε_θ(x_t, t)             model_output
    x̂_0 = (x_t − √(1−ᾱ_t) ε_θ) / √ᾱ_t                          pred_original_sample  (eq. 12, "predicted x_0")
    σ_t = η √((1−ᾱ_{t−Δ})/(1−ᾱ_t)) √(1 − ᾱ_t/ᾱ_{t−Δ})            std_dev_t            (eq. 16)
    x_{t−Δ} = √ᾱ_{t−Δ} x̂_0 + √(1−ᾱ_{t−Δ}−σ_t²) ε_θ + σ_t z        prev_sample          (eq. 12)

Forward noising (training the denoiser): x_t = √ᾱ_t x_0 + √(1−ᾱ_t) ε (``add_noise``).
"""
from __future__ import annotations

from dataclasses import dataclass

import torch


@dataclass
class DDIMStepOutput:
    prev_sample: torch.Tensor  # x_{t−Δ}, same shape as the input sample
    pred_original_sample: torch.Tensor  # x̂_0


class DDIMScheduler:
    """Linear-β DDIM with ε-prediction and no sample clipping (the DiffKD / PTA settings).

    Args:
        num_train_timesteps: T, length of the training noise chain.
        beta_start, beta_end: the linear β schedule (β_t for t = 0 … T−1).
        eta: η; 0 makes sampling deterministic.
        set_alpha_to_one: ᾱ used after the last step (t − Δ < 0): 1 (diffusers' default) or ᾱ_0.
    """

    def __init__(
        self,
        *,
        num_train_timesteps: int = 1000,
        beta_start: float = 1e-4,
        beta_end: float = 0.02,
        eta: float = 0.0,
        set_alpha_to_one: bool = True,
    ):
        if num_train_timesteps < 2:
            raise ValueError(f"num_train_timesteps must be ≥ 2, got {num_train_timesteps}")
        if not 0.0 < beta_start <= beta_end < 1.0:
            raise ValueError(f"need 0 < beta_start ≤ beta_end < 1, got {beta_start}, {beta_end}")
        if eta < 0:
            raise ValueError(f"eta must be ≥ 0, got {eta}")
        self.num_train_timesteps = num_train_timesteps
        self.eta = eta
        # Computed in float64, stored in float32 (as diffusers does).
        betas = torch.linspace(beta_start, beta_end, num_train_timesteps, dtype=torch.float64)
        self.betas = betas.float()
        self.alphas_cumprod = torch.cumprod(1.0 - betas, dim=0).float()  # ᾱ_t, (T,)
        self.final_alpha_cumprod = torch.tensor(1.0) if set_alpha_to_one else self.alphas_cumprod[0].clone()
        self.timesteps = torch.arange(num_train_timesteps - 1, -1, -1)
        self.step_ratio = 1

    def set_timesteps(self, num_inference_steps: int, start_timestep: int | None = None) -> None:
        """Choose the sampling timesteps (descending).

        Without ``start_timestep`` this is diffusers' "leading" spacing: Δ = T // n and
        timesteps (n−1)Δ, …, Δ, 0 (n = 5, T = 1000 → 800, 600, 400, 200, 0). With it, n evenly
        spaced steps from ``start_timestep`` to 0 (DiffKD's second half of 10 steps: n = 5,
        start 400 → 400, 300, 200, 100, 0); ``start_timestep`` must be a multiple of n − 1.
        """
        if num_inference_steps < 1:
            raise ValueError(f"num_inference_steps must be ≥ 1, got {num_inference_steps}")
        if start_timestep is None:
            if num_inference_steps > self.num_train_timesteps:
                raise ValueError(f"{num_inference_steps} steps exceed the {self.num_train_timesteps} training steps")
            self.step_ratio = self.num_train_timesteps // num_inference_steps
            start_timestep = (num_inference_steps - 1) * self.step_ratio
        else:
            if not 0 <= start_timestep < self.num_train_timesteps:
                raise ValueError(f"start_timestep must be in [0, {self.num_train_timesteps}), got {start_timestep}")
            if num_inference_steps == 1:
                self.step_ratio = max(start_timestep, 1)
            else:
                if start_timestep % (num_inference_steps - 1):
                    raise ValueError(
                        f"start_timestep {start_timestep} is not a multiple of num_inference_steps - 1 = "
                        f"{num_inference_steps - 1}"
                    )
                self.step_ratio = start_timestep // (num_inference_steps - 1)
                if self.step_ratio == 0:
                    raise ValueError("start_timestep 0 with more than one step gives repeated timesteps")
        self.timesteps = start_timestep - torch.arange(num_inference_steps) * self.step_ratio

    def _alpha_prod(self, timestep: int) -> torch.Tensor:
        return self.alphas_cumprod[timestep] if timestep >= 0 else self.final_alpha_cumprod

    def step(
        self,
        model_output: torch.Tensor,
        timestep: int | torch.Tensor,
        sample: torch.Tensor,
        generator: torch.Generator | None = None,
    ) -> DDIMStepOutput:
        """One reverse step x_t → x_{t−Δ} (Δ from :meth:`set_timesteps`). Differentiable in both tensors."""
        t = int(timestep)
        # 1. ᾱ_t and ᾱ_{t−Δ} (scalars, on the sample's device and dtype).
        alpha_prod_t = self._alpha_prod(t).to(sample.device, sample.dtype)
        alpha_prod_t_prev = self._alpha_prod(t - self.step_ratio).to(sample.device, sample.dtype)
        beta_prod_t = 1 - alpha_prod_t
        # 2. Predicted x_0 (eq. 12), no clipping.
        pred_original_sample = (sample - beta_prod_t.sqrt() * model_output) / alpha_prod_t.sqrt()
        # 3. σ_t (eq. 16); zero for η = 0.
        variance = (1 - alpha_prod_t_prev) / beta_prod_t * (1 - alpha_prod_t / alpha_prod_t_prev)
        std_dev_t = self.eta * variance.clamp(min=0).sqrt()
        # 4. Direction pointing to x_t, then x_{t−Δ} (eq. 12).
        direction = (1 - alpha_prod_t_prev - std_dev_t**2).clamp(min=0).sqrt() * model_output
        prev_sample = alpha_prod_t_prev.sqrt() * pred_original_sample + direction
        if self.eta > 0:
            noise = torch.randn(sample.shape, generator=generator, device=sample.device, dtype=sample.dtype)
            prev_sample = prev_sample + std_dev_t * noise
        return DDIMStepOutput(prev_sample=prev_sample, pred_original_sample=pred_original_sample)

    def add_noise(self, original: torch.Tensor, noise: torch.Tensor, timesteps: torch.Tensor) -> torch.Tensor:
        """x_t = √ᾱ_t x_0 + √(1−ᾱ_t) ε; ``timesteps`` (B,) long, one per sample of ``original`` (B, ...)."""
        alpha = self.alphas_cumprod.to(original.device)[timesteps.long()].to(original.dtype)
        alpha = alpha.view(-1, *([1] * (original.dim() - 1)))
        return alpha.sqrt() * original + (1 - alpha).sqrt() * noise
