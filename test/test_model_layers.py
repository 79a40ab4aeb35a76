"""The layer layouts of the heads, projector and point encoder, per-row encoding of present
modalities, the mean-pose start of the pose head, and the learning-rate warm-up."""
from __future__ import annotations

import copy

import pytest
import torch
from train_helpers import TINY_MODEL, one_thread, random_inputs  # noqa: F401  (autouse fixture)

from pta_core.config import load_config
from pta_core.models.encoders import PointEncoder
from pta_core.models.factory import build_model
from pta_core.models.heads import PoseHead, PoseScale
from pta_core.models.projector import Projector
from pta_core.models.temporal import WindowActivityHead
from pta_core.training.schedule import lr_factor


@pytest.mark.parametrize("head", ["mlp", "flatten", "mean_ln"])
@pytest.mark.parametrize("projector", ["linear", "bn_relu"])
def test_every_layout_builds_and_predicts(head, projector):
    torch.manual_seed(0)
    cfg = load_config(None, [*TINY_MODEL, f"model.head={head}", f"model.projector={projector}"])
    model = build_model(cfg, 27).eval()
    inputs = random_inputs(model, cfg.data.preprocess, 3)
    with torch.no_grad():
        out = model(inputs, torch.ones(3, len(model.modalities), dtype=torch.bool))
    assert out.pose.shape == (3, 17, 3) and torch.isfinite(out.pose).all()


def test_unknown_layouts_are_refused():
    with pytest.raises(ValueError, match="model.head"):
        PoseHead(4, 8, "avg")
    with pytest.raises(ValueError, match="model.projector"):
        Projector(4, 8, 4, 8, "mlp")


def test_flatten_head_keeps_each_token_apart():
    # Swapping two tokens changes a flatten head's output but not a mean-pooled one's.
    torch.manual_seed(0)
    tokens = torch.randn(2, 4, 8)
    swapped = tokens[:, [1, 0, 2, 3]]
    flatten, pooled = PoseHead(4, 8, "flatten"), PoseHead(4, 8, "mean_ln")
    assert not torch.allclose(flatten(tokens), flatten(swapped))
    torch.testing.assert_close(pooled(tokens), pooled(swapped))


def test_mlp_head_is_not_linear_in_the_fused_tokens():
    # head(a F1 + b F2) ≠ a head(F1) + b head(F2): the modalities combine features, not predictions.
    torch.manual_seed(0)
    head = PoseHead(4, 8, "mlp")
    f1, f2 = torch.randn(3, 4, 8), torch.randn(3, 4, 8)
    assert not torch.allclose(head(0.3 * f1 + 0.7 * f2), 0.3 * head(f1) + 0.7 * head(f2), atol=1e-4)


def test_pose_scale_round_trips_and_standardises_root_and_body():
    torch.manual_seed(0)
    root = torch.tensor([0.1, 0.9, 3.0]) + torch.randn(500, 1, 3) * torch.tensor([0.3, 0.05, 0.4])
    poses = root + torch.randn(500, 17, 3) * 0.2
    poses[:, 0] = root[:, 0]
    scale = PoseScale()
    scale.fit(poses)
    units = scale.normalise(poses)
    torch.testing.assert_close(scale.denormalise(units), poses, atol=1e-5, rtol=0)
    # Root and root-relative coordinates each come out centred with unit spread.
    assert units[:, 0].mean(0).abs().max() < 1e-4 and (units[:, 0].std(0) - 1).abs().max() < 1e-3
    assert units[:, 1:].mean().abs() < 1e-4 and abs(float(units[:, 1:].std()) - 1) < 1e-2


def test_pose_head_starts_at_the_mean_pose():
    torch.manual_seed(0)
    poses = torch.randn(100, 17, 3) * 0.1 + torch.tensor([0.0, 0.5, 3.0])
    head = PoseHead(4, 8)
    head.fit_targets(poses)
    torch.nn.init.zeros_(head.fc.weight)
    expected = poses.mean(0, keepdim=True).expand(5, 17, 3)
    torch.testing.assert_close(head(torch.randn(5, 4, 8)), expected, atol=1e-5, rtol=0)


def test_window_head_ignores_invalid_frames():
    torch.manual_seed(0)
    head = WindowActivityHead(6, 5, width=8).eval()
    frames = torch.randn(2, 4, 6)
    valid = torch.tensor([[True, True, False, True], [False, False, False, False]])
    with torch.no_grad():
        logits = head(frames, valid)
        changed = frames.clone()
        changed[0, 2] = 100.0  # an invalid frame's content must not matter
        assert torch.allclose(head(changed, valid)[0], logits[0])
    assert logits.shape == (2, 5) and torch.isfinite(logits).all()  # an all-invalid window stays finite


def test_absent_rows_stay_out_of_batchnorm_statistics():
    # The reference projector has BatchNorm: training on a batch in which a modality is absent for
    # some rows must update its statistics from the present rows only.
    torch.manual_seed(0)
    cfg = load_config(None, [*TINY_MODEL, "model.projector=bn_relu"])
    model = build_model(cfg, 27).train()
    reference = copy.deepcopy(model)
    inputs = random_inputs(model, cfg.data.preprocess, 6)
    present = torch.ones(6, len(model.modalities), dtype=torch.bool)
    present[3:, 0] = False
    with torch.no_grad():
        tokens = model.encode(inputs, present)
    name = model.modalities[0]
    assert torch.count_nonzero(tokens[name][3:]) == 0 and torch.count_nonzero(tokens[name][:3]) > 0
    # The same statistics as a copy of the untrained model that saw the three present rows alone.
    bn, ref_bn = model.projectors[name].channels[1], reference.projectors[name].channels[1]
    with torch.no_grad():
        reference.projectors[name](reference.encoders[name]({k: v[:3] for k, v in inputs[name].items()}))
    torch.testing.assert_close(bn.running_mean, ref_bn.running_mean)


def test_point_encoder_is_translation_aware_and_survives_an_empty_cloud():
    torch.manual_seed(0)
    encoder = PointEncoder(in_channels=3, width=8, num_tokens=4).eval()
    points = torch.randn(2, 16, 3)
    mask = torch.ones(2, 16, dtype=torch.bool)
    mask[1] = False  # an empty cloud
    with torch.no_grad():
        tokens = encoder({"points": points, "mask": mask})
        moved = encoder({"points": points + torch.tensor([0.5, 0.0, 0.0]), "mask": mask})
    assert tokens.shape == (2, 5, 16) and torch.isfinite(tokens).all()
    assert not torch.allclose(tokens[0], moved[0])  # where the cloud is matters
    torch.testing.assert_close(tokens[1], moved[1])  # an empty cloud has no position


def test_warmup_then_schedule():
    factors = [lr_factor("cosine", s, 110, 0.9, warmup=10) for s in range(110)]
    assert factors[0] == pytest.approx(0.1) and factors[9] == pytest.approx(1.0)
    assert factors[10] == pytest.approx(1.0) and factors[-1] < 0.01
    assert lr_factor("none", 5, 100, 0.9) == 1.0
