"""DIST loss properties, the DiffKD module, and the Align aggregation over present modalities."""
from __future__ import annotations

import pytest
import torch

from pta_core.config import AlignConfig, DDIMConfig
from pta_core.models.align import Align
from pta_core.models.diffusion.diffkd import DiffKD
from pta_core.models.diffusion.dist import dist_loss, pearson_correlation


def test_dist_is_zero_for_identical_inputs_and_symmetric():
    torch.manual_seed(0)
    a, b = torch.randn(10, 16), torch.randn(10, 16)
    assert dist_loss(a, a).item() == pytest.approx(0.0, abs=1e-6)
    assert dist_loss(a, b).item() == pytest.approx(dist_loss(b, a).item(), abs=1e-7)
    assert dist_loss(a, b).item() > 0.1


def test_dist_ignores_a_per_row_logit_shift():
    # softmax is invariant to adding a constant per row, so both Pearson terms are unchanged.
    torch.manual_seed(1)
    a, b = torch.randn(6, 8), torch.randn(6, 8)
    shift = torch.randn(6, 1) * 5
    assert dist_loss(a + shift, b).item() == pytest.approx(dist_loss(a, b).item(), abs=1e-5)


def test_pearson_is_invariant_to_positive_affine_maps_per_row():
    torch.manual_seed(2)
    a, b = torch.randn(5, 9), torch.randn(5, 9)
    scale, shift = torch.rand(5, 1) * 3 + 0.1, torch.randn(5, 1)
    torch.testing.assert_close(pearson_correlation(a * scale + shift, b), pearson_correlation(a, b), rtol=1e-4, atol=1e-5)
    torch.testing.assert_close(pearson_correlation(-a, b), -pearson_correlation(a, b), rtol=1e-4, atol=1e-5)
    torch.testing.assert_close(pearson_correlation(a, a), torch.ones(5), rtol=1e-5, atol=1e-5)


def test_dist_weights_and_temperature_combine_the_terms():
    torch.manual_seed(3)
    a, b = torch.randn(7, 5), torch.randn(7, 5)
    inter = dist_loss(a, b, beta=1.0, gamma=0.0)
    intra = dist_loss(a, b, beta=0.0, gamma=1.0)
    assert dist_loss(a, b).item() == pytest.approx((inter + intra).item(), abs=1e-6)
    assert dist_loss(a, b, beta=2.0, gamma=0.5).item() == pytest.approx((2 * inter + 0.5 * intra).item(), abs=1e-6)
    with pytest.raises(ValueError, match="DIST"):
        dist_loss(a, b[:, :4])


def test_diffkd_shapes_gradients_and_seeded_noise():
    torch.manual_seed(4)
    diffkd = DiffKD(16, ddim=DDIMConfig())
    assert diffkd.scheduler.timesteps.tolist() == [800, 600, 400, 200, 0]
    student = torch.randn(3, 16, 4, requires_grad=True)
    teacher = torch.randn(3, 16, 4)
    out = diffkd(student, teacher, torch.Generator().manual_seed(0))
    assert out.refined.shape == (3, 8, 4) and out.teacher.shape == (3, 8, 4)  # ae_channels = D/2
    assert not out.teacher.requires_grad  # alignment target only
    assert out.diffusion_loss.dim() == 0 and out.ae_loss.dim() == 0
    (out.refined.sum() + out.diffusion_loss + out.ae_loss).backward()
    assert student.grad is not None and student.grad.abs().sum() > 0  # gradients flow through the DDIM loop
    assert diffkd.model.time_embedding.weight.grad is not None
    assert diffkd.ae.encoder[0].weight.grad.abs().sum() > 0
    assert diffkd.decode(out.refined).shape == (3, 16, 4)
    # Same generator seed → the same noise → the same result.
    again = diffkd(student, teacher, torch.Generator().manual_seed(0))
    other = diffkd(student, teacher, torch.Generator().manual_seed(1))
    torch.testing.assert_close(again.refined, out.refined)
    assert not torch.allclose(other.refined, out.refined)


def _features(batch: int, modalities: tuple[str, ...], tokens: int = 4, dim: int = 16) -> dict[str, torch.Tensor]:
    return {m: torch.randn(batch, tokens, dim) for m in modalities}


def test_align_distils_only_samples_with_two_or_more_modalities():
    torch.manual_seed(5)
    modalities = ("a", "b", "c")
    align = Align(modalities, 16, AlignConfig())
    assert list(align.diffkd) == ["shared"]
    features = _features(3, modalities)
    present = torch.tensor([[True, False, False], [True, True, False], [True, True, True]])
    teacher = torch.randn(3, 4, 16)
    out = align(features, present, teacher, torch.Generator().manual_seed(0))
    assert out.head_tokens.shape == (3, 4, 16)
    # A single-modality sample gets no KD: its head input is exactly its own tokens.
    torch.testing.assert_close(out.head_tokens[0], features["a"][0])
    assert not torch.allclose(out.head_tokens[1], (features["a"][1] + features["b"][1]) / 2)
    assert out.kd_loss.dim() == 0 and torch.isfinite(out.kd_loss)
    assert set(out.terms) == {"dist", "diffusion", "ae"}
    # With no sample holding two modalities there is nothing to distil.
    single = align(features, torch.tensor([[True, False, False]] * 3), teacher)
    assert single.kd_loss.item() == 0.0
    torch.testing.assert_close(single.head_tokens, features["a"])


def test_align_per_modality_modules_and_mean_aggregation():
    modalities = ("a", "b")
    features = _features(2, modalities)
    present = torch.ones(2, 2, dtype=torch.bool)
    teacher = torch.randn(2, 4, 16)
    torch.manual_seed(6)
    summed = Align(modalities, 16, AlignConfig(sharing="per_modality", aggregate="sum"))
    torch.manual_seed(6)
    averaged = Align(modalities, 16, AlignConfig(sharing="per_modality", aggregate="mean"))
    assert sorted(summed.diffkd) == ["a", "b"]
    a = summed(features, present, teacher, torch.Generator().manual_seed(0))
    b = averaged(features, present, teacher, torch.Generator().manual_seed(0))
    assert a.kd_loss.item() == pytest.approx(2 * b.kd_loss.item(), rel=1e-5)


def test_a_shared_module_refines_every_student_in_one_pass_and_counts_the_teacher_terms_per_student():
    modalities = ("a", "b", "c")
    features = {m: f.requires_grad_() for m, f in _features(4, modalities).items()}
    present = torch.ones(4, 3, dtype=torch.bool)
    present[0, 2] = False
    teacher = torch.randn(4, 4, 16)
    torch.manual_seed(7)
    summed = Align(modalities, 16, AlignConfig(aggregate="sum"))
    averaged = Align(modalities, 16, AlignConfig(aggregate="mean"))
    averaged.load_state_dict(summed.state_dict())
    a = summed(features, present, teacher, torch.Generator().manual_seed(0))
    b = averaged(features, present, teacher, torch.Generator().manual_seed(0))
    # Σ_m (DIST_m + L_diff + L_ae) = 3 × mean_m (DIST_m) + 3 × (L_diff + L_ae) for three students.
    assert a.kd_loss.item() == pytest.approx(3 * b.kd_loss.item(), rel=1e-5)
    a.kd_loss.backward()
    assert all(f.grad is not None and f.grad.abs().sum() > 0 for f in features.values())
