"""DDIM scheduler against hand-computed values and closed-form "models" (no network involved)."""
from __future__ import annotations

import math

import pytest
import torch

from pta_core.models.diffusion.ddim import DDIMScheduler


def hand_alpha_bar(t: int, start: float = 1e-4, end: float = 0.02, steps: int = 1000) -> float:
    """ᾱ_t = Π_{s ≤ t} (1 − β_s), β linear from ``start`` to ``end`` over ``steps`` (float64, by hand)."""
    product = 1.0
    for s in range(t + 1):
        product *= 1.0 - (start + (end - start) * s / (steps - 1))
    return product


def test_alpha_bar_matches_hand_computation():
    scheduler = DDIMScheduler()
    assert scheduler.alphas_cumprod[0].item() == pytest.approx(0.9999, abs=1e-7)
    assert scheduler.alphas_cumprod[1].item() == pytest.approx(0.9999 * (1 - (1e-4 + 0.0199 / 999)), rel=1e-6)
    for t in (10, 400, 800, 999):
        assert scheduler.alphas_cumprod[t].item() == pytest.approx(hand_alpha_bar(t), rel=1e-5)
    # The reference's remark (docs/method.md §3.4): √ᾱ ≈ 0.44 at t = 400 and ≈ 0.039 at t = 800.
    assert math.sqrt(scheduler.alphas_cumprod[400]) == pytest.approx(0.44, abs=5e-3)
    assert math.sqrt(scheduler.alphas_cumprod[800]) == pytest.approx(0.039, abs=5e-4)


def test_timesteps_lists():
    scheduler = DDIMScheduler()
    scheduler.set_timesteps(5)
    assert scheduler.timesteps.tolist() == [800, 600, 400, 200, 0] and scheduler.step_ratio == 200
    scheduler.set_timesteps(5, 800)
    assert scheduler.timesteps.tolist() == [800, 600, 400, 200, 0]
    scheduler.set_timesteps(5, 400)  # DiffKD: second half of 10 steps
    assert scheduler.timesteps.tolist() == [400, 300, 200, 100, 0] and scheduler.step_ratio == 100
    scheduler.set_timesteps(10)
    assert scheduler.timesteps.tolist() == list(range(900, -1, -100))
    with pytest.raises(ValueError, match="multiple"):
        scheduler.set_timesteps(4, 800)
    with pytest.raises(ValueError, match="start_timestep"):
        scheduler.set_timesteps(5, 1000)
    with pytest.raises(ValueError):
        scheduler.set_timesteps(0)


def test_one_step_by_hand():
    scheduler = DDIMScheduler()
    scheduler.set_timesteps(5)
    sample = torch.arange(12, dtype=torch.float64).reshape(2, 3, 2) / 10 - 0.5
    eps = torch.cos(torch.arange(12, dtype=torch.float64)).reshape(2, 3, 2)
    out = scheduler.step(eps.float(), 800, sample.float())
    a_t, a_prev = hand_alpha_bar(800), hand_alpha_bar(600)
    x0 = (sample - math.sqrt(1 - a_t) * eps) / math.sqrt(a_t)
    prev = math.sqrt(a_prev) * x0 + math.sqrt(1 - a_prev) * eps  # η = 0: σ_t = 0
    torch.testing.assert_close(out.pred_original_sample.double(), x0, rtol=1e-4, atol=1e-4)
    torch.testing.assert_close(out.prev_sample.double(), prev, rtol=1e-4, atol=1e-4)
    # The last step (t = 0 → "−200") uses ᾱ = 1, so it returns the x̂_0 prediction itself.
    last = scheduler.step(eps.float(), 0, sample.float())
    torch.testing.assert_close(last.prev_sample, last.pred_original_sample)


def test_eta_zero_is_deterministic_and_eta_positive_uses_the_generator():
    sample, eps = torch.linspace(-1, 1, 8).view(2, 4), torch.linspace(1, -1, 8).view(2, 4)
    plain = DDIMScheduler()
    plain.set_timesteps(5)
    a = plain.step(eps, 600, sample, generator=torch.Generator().manual_seed(1)).prev_sample
    b = plain.step(eps, 600, sample, generator=torch.Generator().manual_seed(2)).prev_sample
    assert torch.equal(a, b)
    noisy = DDIMScheduler(eta=1.0)
    noisy.set_timesteps(5)
    c = noisy.step(eps, 600, sample, generator=torch.Generator().manual_seed(1)).prev_sample
    d = noisy.step(eps, 600, sample, generator=torch.Generator().manual_seed(1)).prev_sample
    e = noisy.step(eps, 600, sample, generator=torch.Generator().manual_seed(2)).prev_sample
    assert torch.equal(c, d) and not torch.equal(c, e)


def test_add_noise_and_exact_denoising_with_the_true_noise_predictor():
    scheduler = DDIMScheduler()
    x0 = torch.linspace(-2, 2, 24, dtype=torch.float64).view(3, 4, 2)
    noise = torch.sin(torch.arange(24, dtype=torch.float64)).view(3, 4, 2)
    t = torch.tensor([0, 400, 999])
    noisy = scheduler.add_noise(x0, noise, t)
    for i, step in enumerate(t.tolist()):
        a = hand_alpha_bar(step)
        torch.testing.assert_close(noisy[i], math.sqrt(a) * x0[i] + math.sqrt(1 - a) * noise[i], rtol=1e-5, atol=1e-6)

    # A closed-form "model" that knows x0 predicts the noise exactly; deterministic DDIM then lands on x0.
    def true_eps(x, step):
        a = scheduler.alphas_cumprod[int(step)].double()
        return (x - a.sqrt() * x0) / (1 - a).sqrt()

    scheduler.set_timesteps(5)
    x = scheduler.add_noise(x0, noise, torch.full((3,), 800))
    for step in scheduler.timesteps:
        x = scheduler.step(true_eps(x, step), step, x).prev_sample
    torch.testing.assert_close(x, x0, rtol=1e-5, atol=1e-5)


def test_step_is_differentiable():
    scheduler = DDIMScheduler()
    scheduler.set_timesteps(5)
    x = torch.randn(2, 3, requires_grad=True)
    eps = torch.randn(2, 3, requires_grad=True)
    scheduler.step(eps, 400, x).prev_sample.sum().backward()
    assert x.grad is not None and eps.grad is not None and torch.isfinite(x.grad).all()


def test_bad_arguments_are_rejected():
    with pytest.raises(ValueError, match="beta"):
        DDIMScheduler(beta_start=0.03, beta_end=0.02)
    with pytest.raises(ValueError, match="eta"):
        DDIMScheduler(eta=-1)
