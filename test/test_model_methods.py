"""Every method's network serves the inference interface; baselines mask per sample; Align never
reaches the exported weights; presence sampling."""
from __future__ import annotations

import pytest
import torch
from train_helpers import TINY_MODEL, one_thread, random_inputs  # noqa: F401  (autouse fixture)

from pta_core.checkpoint import inference_state_dict
from pta_core.config import ConfigError, load_config
from pta_core.models.baselines import LateFusionModel, XFiModel, late_fusion_state_dict
from pta_core.models.factory import build_model, build_objective
from pta_core.models.objectives import Targets, pose_loss
from pta_core.models.pta import PTAModel
from pta_core.training.presence import PresenceSampler


def _cfg(*extra: str):
    return load_config(None, [*TINY_MODEL, *extra])


@pytest.mark.parametrize("method", ["pta", "single", "late_fusion", "xfi"])
def test_every_method_trains_and_serves_the_inference_interface(method):
    torch.manual_seed(0)
    cfg = _cfg(f"train.method={method}", "train.single_modality=lidar")
    model = build_model(cfg, 27)
    objective = build_objective(cfg, model)
    inputs = random_inputs(model, cfg.data.preprocess, 6)
    present = torch.rand(6, len(model.modalities)) < 0.5
    present[:, 0] = True
    targets = Targets(pose=torch.randn(6, 17, 3), activity=torch.randint(0, 27, (6,)))
    loss = objective(inputs, present, targets)
    loss.total.backward()
    assert torch.isfinite(loss.total) and "pose" in "".join(loss.terms)
    trained = [p for p in model.parameters() if p.grad is not None and p.grad.abs().sum() > 0]
    assert trained, "no parameter of the network received a gradient"
    model.eval()
    with torch.no_grad():
        out = model(inputs, present)
    assert out.pose.shape == (6, 17, 3) and out.activity.shape == (6, 27)


@pytest.mark.parametrize("method", ["late_fusion", "xfi", "pta"])
def test_absent_modalities_do_not_change_a_prediction(method):
    torch.manual_seed(1)
    cfg = _cfg(f"train.method={method}")
    model = build_model(cfg, 27).eval()
    inputs = random_inputs(model, cfg.data.preprocess, 4)
    present = torch.tensor([[True, False, True, False, False]] * 4)
    changed = {m: {k: v.clone() for k, v in f.items()} for m, f in inputs.items()}
    changed["depth"]["image"] = torch.rand_like(changed["depth"]["image"])  # depth is absent everywhere
    with torch.no_grad():
        a, b = model(inputs, present), model(changed, present)
        # Per-sample presence: sample 0 sees rgb+mmwave, sample 1 rgb only; sample 1 matches a batch of its own.
        mixed = present.clone()
        mixed[1, 2] = False
        c = model(inputs, mixed)
        alone = model({m: {k: v[1:2] for k, v in f.items()} for m, f in inputs.items()}, mixed[1:2])
    torch.testing.assert_close(a.pose, b.pose)
    torch.testing.assert_close(c.pose[1:2], alone.pose, rtol=1e-4, atol=1e-5)


def test_late_fusion_averages_its_members_over_present_modalities():
    torch.manual_seed(2)
    cfg = _cfg("train.method=late_fusion")
    model: LateFusionModel = build_model(cfg, 27).eval()
    inputs = random_inputs(model, cfg.data.preprocess, 3)
    present = torch.tensor([[True, True, False, False, False], [False, False, False, True, False], [True] * 5])
    with torch.no_grad():
        out = model(inputs, present)
        members = {m: model.members[m]({m: inputs[m]}, torch.ones(3, 1, dtype=torch.bool)) for m in model.modalities}
    torch.testing.assert_close(out.pose[0], (members["rgb"].pose[0] + members["depth"].pose[0]) / 2)
    torch.testing.assert_close(out.pose[1], members["lidar"].pose[1])
    torch.testing.assert_close(out.activity[2], sum(members[m].activity[2] for m in model.modalities) / 5)
    # Single-modality weights drop straight into the late-fusion network.
    single = build_model(_cfg("train.method=single", "train.single_modality=lidar"), 27)
    state = late_fusion_state_dict({m: model.members[m].state_dict() for m in model.modalities if m != "lidar"}
                                   | {"lidar": single.state_dict()})
    model.load_state_dict(state, strict=True)
    torch.testing.assert_close(model.members["lidar"].task.pose_head.fc.weight, single.task.pose_head.fc.weight)


def test_xfi_uses_standard_attention_scaling():
    from pta_core.models.baselines import Attention

    torch.manual_seed(3)
    attention = Attention(8, 2)
    q, k = torch.randn(1, 3, 8), torch.randn(1, 5, 8)
    out = attention(q, k)
    # By hand: per head (d_head = 4) softmax(QKᵀ/√4) V.
    qh = attention.q(q).view(1, 3, 2, 4).transpose(1, 2)
    kh = attention.k(k).view(1, 5, 2, 4).transpose(1, 2)
    vh = attention.v(k).view(1, 5, 2, 4).transpose(1, 2)
    expected = (torch.softmax(qh @ kh.transpose(-1, -2) / 2.0, dim=-1) @ vh).transpose(1, 2).reshape(1, 3, 8)
    torch.testing.assert_close(out, expected, rtol=1e-5, atol=1e-6)
    assert isinstance(build_model(_cfg("train.method=xfi"), 27), XFiModel)


def test_align_modules_stay_out_of_the_exported_state_dict():
    cfg = _cfg("train.method=pta")
    model = build_model(cfg, 27)
    objective = build_objective(cfg, model)
    align_keys = [k for k in objective.state_dict() if k.startswith("align.")]
    assert align_keys and any("diffkd" in k for k in align_keys)
    exported = inference_state_dict(objective.model)
    assert not any("diffkd" in k or "align" in k or "noise_adapter" in k for k in exported)
    assert set(exported) == set(PTAModel(model.modalities, model_cfg=cfg.model, purify_cfg=cfg.purify,
                                         preprocess_cfg=cfg.data.preprocess, activity_cfg=cfg.activity,
                                         tasks=cfg.train.tasks, num_classes=27).state_dict())
    # Without Align (ablation) there is no training-only module at all.
    plain = build_objective(_cfg("align.enabled=false"), build_model(_cfg("align.enabled=false"), 27))
    assert plain.align is None and not any(k.startswith("align.") for k in plain.state_dict())


@pytest.mark.parametrize("target", ["features", "predictions"])
def test_the_available_teacher_distils_students_the_heads_do_not_see(target):
    """align.teacher=available: a sensor hidden from the heads by presence sampling still teaches and
    is taught (its encoder gets KD's gradient); with the sampled teacher it gets none."""
    torch.manual_seed(2)
    grads = {}
    for teacher in ("sampled", "available"):
        torch.manual_seed(2)
        cfg = _cfg("train.method=pta", f"align.teacher={teacher}", f"align.target={target}")
        model = build_model(cfg, 27)
        objective = build_objective(cfg, model)
        inputs = random_inputs(model, cfg.data.preprocess, 6)
        available = torch.ones(6, len(model.modalities), dtype=torch.bool)
        present = available.clone()
        hidden = model.modalities.index("lidar")
        present[:, hidden] = False  # the sampled mask drops LiDAR in this batch
        targets = Targets(pose=torch.randn(6, 17, 3), activity=torch.randint(0, 27, (6,)))
        objective(inputs, present, targets, available).total.backward()
        grads[teacher] = sum(float(p.grad.abs().sum()) for p in model.encoders["lidar"].parameters() if p.grad is not None)
    assert grads["sampled"] == 0.0
    assert grads["available"] > 0.0


def test_the_available_teacher_needs_the_fused_head_input():
    with pytest.raises(ConfigError, match="align.teacher"):
        _cfg("align.teacher=available", "align.head_input=refined")


def test_presence_sampler_masks_batches_and_respects_the_data():
    generator = torch.Generator().manual_seed(0)
    sampler = PresenceSampler(("a", "b", "c"), {"a": 0.5, "b": 0.5, "c": 0.5}, "independent", generator)
    data = torch.ones(64, 3, dtype=torch.bool)
    data[:8, :] = torch.tensor([False, False, True])  # these samples only have "c"
    data[8:10] = False  # no data at all
    seen = []
    for _ in range(50):
        present, keep = sampler.apply(data)
        assert not (present & ~data).any()  # never present without data
        assert present[keep].any(dim=1).all()  # every kept sample has a modality
        assert not keep[8:10].any() and keep[10:].all()
        seen.append(present[10:].float().mean(dim=0))
        rows = present[10:]
        assert (rows == rows[0]).all()  # one mask per batch for samples that have every modality
    rate = torch.stack(seen).mean(dim=0)
    assert ((rate > 0.4) & (rate < 0.85)).all()  # ≈ P(present | mask non-empty) = 0.5 / (1 − 0.125)
    with pytest.raises(ValueError, match="not among"):
        PresenceSampler(("a",), {"z": 0.5}, "independent", generator)
    # A single-modality network shares the multimodal config: other modalities are fine, a typo is not.
    single = PresenceSampler.for_model(("mmwave",), {"lidar": 0.2, "mmwave": 0.4}, "independent", generator)
    assert single.probs.tolist() == pytest.approx([0.4])
    with pytest.raises(ValueError, match="lidr.*not modalities"):
        PresenceSampler.for_model(("mmwave",), {"lidr": 0.2}, "independent", generator)
    subset = PresenceSampler(("a", "b", "c"), {}, "subset_size", generator)
    sizes = torch.stack([subset.draw(1)[0].sum() for _ in range(300)])
    assert set(sizes.tolist()) == {1, 2, 3}


def test_pta_head_input_flag():
    """refined (reference code): the heads train on decoded refined students; fused: on the inference path."""
    torch.manual_seed(4)
    targets = Targets(pose=torch.randn(4, 17, 3), activity=torch.randint(0, 27, (4,)))
    present = torch.tensor([[True, True, False, True, False]] * 4)
    losses = {}
    for head_input in ("refined", "fused"):
        cfg = _cfg(f"align.head_input={head_input}")
        torch.manual_seed(5)
        model = build_model(cfg, 27)
        objective = build_objective(cfg, model).train()
        inputs = random_inputs(model, cfg.data.preprocess, 4, torch.Generator().manual_seed(0))
        out = objective(inputs, present, targets)
        assert out.terms["kd"] > 0  # Align runs either way
        inference = pose_loss(model(inputs, present).pose, targets.pose, model.pose_scale)[0]
        losses[head_input] = (out.terms["pose"].item(), inference.item())
    assert losses["fused"][0] == pytest.approx(losses["fused"][1], rel=1e-6)
    assert losses["refined"][0] != pytest.approx(losses["refined"][1], rel=1e-3)


def test_student_heads_read_a_modality_alone_and_the_shared_heads_read_fused_sets():
    """model.student_heads: a row with one modality present is read by that modality's own heads
    (what the student loss trains), a row with several by the shared heads on Σ w̃ F_m."""
    torch.manual_seed(6)
    cfg = _cfg("model.student_heads=true", "activity.window=4")
    model = build_model(cfg, 27).eval()
    assert set(model.students) == set(model.modalities)
    inputs = random_inputs(model, cfg.data.preprocess, 3)
    present = torch.tensor([[False, False, False, True, False], [True, False, False, True, False],
                            [False, True, False, False, False]])
    with torch.no_grad():
        out = model(inputs, present)
        features = model.encode(inputs, present)
        shared = model.heads(model.fuse(features, present))
        lidar, depth = model.students["lidar"](features["lidar"]), model.students["depth"](features["depth"])
    width = shared.embedding.shape[1]
    for field, cut in (("pose", None), ("embedding", width)):
        torch.testing.assert_close(getattr(out, field)[0, :cut], getattr(lidar, field)[0])
        torch.testing.assert_close(getattr(out, field)[1, :cut], getattr(shared, field)[1])
        torch.testing.assert_close(getattr(out, field)[2, :cut], getattr(depth, field)[2])
    assert not torch.allclose(shared.pose[0], lidar.pose[0])
    # The embedding's last M flags say whose heads served the row: lidar, none (shared), depth.
    flags = out.embedding[:, width:]
    torch.testing.assert_close(flags, torch.tensor([[0.0, 0, 0, 1, 0], [0, 0, 0, 0, 0], [0, 1, 0, 0, 0]]))
    # Training: the shared heads get the fused rows' loss, each modality's own heads its student loss.
    model.train()
    objective = build_objective(cfg, model)
    targets = Targets(pose=torch.randn(3, 17, 3))
    objective(inputs, present, targets).total.backward()
    grads = {name: sum(float(p.grad.abs().sum()) for p in heads.parameters() if p.grad is not None)
             for name, heads in [("shared", model.task), *model.students.items()]}
    assert grads["shared"] > 0 and grads["lidar"] > 0 and grads["depth"] > 0 and grads["rgb"] > 0
    assert grads["mmwave"] == 0 and grads["wifi-csi"] == 0  # absent everywhere
    single = build_model(_cfg("model.student_heads=true", "train.method=single", "train.single_modality=lidar"), 27)
    assert single.students is None  # a single network's heads are its student heads


def test_a_window_served_by_one_modality_is_read_by_its_own_window_head():
    """With student heads every modality has its own window head too: a window whose valid frames
    that modality's heads all served is read by it; a window with any fused frame by the shared one."""
    torch.manual_seed(9)
    model = build_model(_cfg("model.student_heads=true", "activity.window=4"), 27).eval()
    for heads in model.window_heads():  # distinct heads, so the pick is visible
        torch.nn.init.normal_(heads.out[1].bias)
    vectors = torch.randn(3, 4, model.task.pose_head.embedding_dim)
    valid = torch.tensor([[True, True, False, True], [True, True, True, True], [False, False, False, False]])
    served = torch.zeros(3, 4, len(model.modalities))
    lidar = model.modalities.index("lidar")
    served[0, :, lidar] = 1.0  # window 0: lidar alone (its invalid frame's flag does not matter)
    served[0, 2] = 0.0
    served[1, :2, lidar] = 1.0  # window 1: lidar, then fused frames
    served[2, :, lidar] = 1.0  # window 2: no valid frame
    with torch.no_grad():
        logits = model.window_activity(torch.cat([vectors, served], dim=-1), valid)
        own = model.students["lidar"].window_activity(vectors, valid)
        shared = model.task.window_activity(vectors, valid)
    torch.testing.assert_close(logits[0], own[0])
    torch.testing.assert_close(logits[1:], shared[1:])
    assert len(model.window_heads()) == 1 + len(model.modalities)


def test_students_can_learn_from_every_modality_a_sample_has():
    """train.student_presence=available: a modality the sampled mask dropped still trains its student
    on the rows whose data have it; "sampled" trains only the sampled ones."""
    torch.manual_seed(7)
    present = torch.tensor([[True, False, False, True, False], [False, False, False, True, False]])
    available = torch.tensor([[True, True, False, True, False], [True, True, False, True, False]])
    targets = Targets(pose=torch.randn(2, 17, 3), activity=torch.randint(0, 27, (2,)))
    grads = {}
    for mode in ("sampled", "available"):
        cfg = _cfg("model.student_heads=true", f"train.student_presence={mode}", "align.enabled=false")
        torch.manual_seed(8)
        model = build_model(cfg, 27)
        inputs = random_inputs(model, cfg.data.preprocess, 2, torch.Generator().manual_seed(0))
        build_objective(cfg, model)(inputs, present, targets, available).total.backward()
        grads[mode] = {name: sum(float(p.grad.abs().sum()) for p in model.encoders[name].parameters() if p.grad is not None)
                       for name in model.modalities}
    assert grads["sampled"]["depth"] == 0 and grads["available"]["depth"] > 0
    assert grads["sampled"]["rgb"] > 0 and grads["available"]["mmwave"] == 0  # no data, no loss


def test_the_students_readout_starts_a_fused_set_at_its_students_weighted_average():
    """model.fused_readout=students: a fused set's pose is Σ w̃_m pose_m of its students plus the
    shared head's correction, zero at the start; a set of one is still its own heads'."""
    torch.manual_seed(11)
    model = build_model(_cfg("model.student_heads=true", "model.fused_readout=students"), 27).eval()
    model.fit_pose_targets(torch.randn(50, 17, 3) + torch.tensor([0.0, 0.0, 3.0]))
    with torch.no_grad():
        model.weights.logits.copy_(torch.tensor([0.5, -1.0, 0.0, 2.0, 1.0]))
    inputs = random_inputs(model, load_config(None, TINY_MODEL).data.preprocess, 2)
    present = torch.tensor([[True, False, False, True, True], [False, False, False, True, False]])
    with torch.no_grad():
        out = model(inputs, present)
        features = model.encode(inputs, present)
        poses = {m: model.students[m](features[m]).pose for m in ("rgb", "lidar", "wifi-csi")}
    w = torch.softmax(torch.tensor([0.5, 2.0, 1.0]), 0)
    average = w[0] * poses["rgb"][0] + w[1] * poses["lidar"][0] + w[2] * poses["wifi-csi"][0]
    torch.testing.assert_close(out.pose[0], average)
    torch.testing.assert_close(out.pose[1], poses["lidar"][1])
    # The fused loss reaches the correction and the students' heads.
    model.train()
    objective = build_objective(_cfg("model.student_heads=true", "model.fused_readout=students",
                                     "align.enabled=false"), model)
    targets = Targets(pose=torch.randn(2, 17, 3), activity=torch.randint(0, 27, (2,)))
    objective(inputs, present, targets).total.backward()
    assert model.task.pose_head.fc.weight.grad.abs().sum() > 0
    assert model.students["rgb"].pose_head.fc.weight.grad.abs().sum() > 0


def test_the_students_activity_readout_starts_a_fused_window_at_its_students_weighted_average():
    """activity.fused_readout=students: a fused window's logits are Σ w̃_m of its students' window
    logits (each on the frames that have it, weights over the modalities the window has) plus the
    shared window head's correction, zero at the start; a window one modality served alone is its
    own window head's. Without a window (one sample) the same holds for the per-sample logits."""
    torch.manual_seed(13)
    model = build_model(_cfg("model.student_heads=true", "activity.window=4", "activity.fused_readout=students"), 27).eval()
    for heads in model.window_heads():  # distinct students, so a wrong pick or weight is visible
        torch.nn.init.normal_(heads.out[1].bias)
    torch.nn.init.zeros_(model.task.activity_head.out[1].bias)  # the correction starts at zero
    with torch.no_grad():
        model.weights.logits.copy_(torch.tensor([0.5, -1.0, 0.0, 2.0, 1.0]))
    inputs = random_inputs(model, load_config(None, TINY_MODEL).data.preprocess, 4)
    rgb, lidar = model.modalities.index("rgb"), model.modalities.index("lidar")
    present = torch.zeros(4, 5, dtype=torch.bool)
    present[:, lidar] = True
    present[:3, rgb] = True  # one window: three frames rgb+lidar, the last lidar alone
    valid = torch.ones(1, 4, dtype=torch.bool)
    with torch.no_grad():
        state = model(inputs, present).embedding[None]
        logits = model.window_activity(state, valid)
        features = model.encode(inputs, present)
        own = {m: model.students[m](features[m]).embedding[None] for m in ("rgb", "lidar")}
        rgb_logits = model.students["rgb"].window_activity(own["rgb"], present[None, :, rgb])
        lidar_logits = model.students["lidar"].window_activity(own["lidar"], valid)
        alone = model.window_activity(state[:, 3:], valid[:, 3:])
        lidar_alone = model.students["lidar"].window_activity(own["lidar"][:, 3:], valid[:, 3:])
    w = torch.softmax(torch.tensor([0.5, 2.0]), 0)
    torch.testing.assert_close(logits, w[0] * rgb_logits + w[1] * lidar_logits)
    torch.testing.assert_close(alone, lidar_alone)
    # One sample (activity.window 0): the per-sample logits of a fused row average the students'.
    model = build_model(_cfg("model.student_heads=true", "activity.fused_readout=students"), 27).eval()
    with torch.no_grad():
        model.weights.logits.copy_(torch.tensor([0.5, -1.0, 0.0, 2.0, 1.0]))
        out = model(inputs, present)
        features = model.encode(inputs, present)
        students = {m: model.students[m](features[m]).activity for m in ("rgb", "lidar")}
    torch.testing.assert_close(out.activity[:3], w[0] * students["rgb"][:3] + w[1] * students["lidar"][:3])
    torch.testing.assert_close(out.activity[3], students["lidar"][3])
    with pytest.raises(ConfigError, match="set model.student_heads true"):
        _cfg("activity.fused_readout=students")


def test_the_students_readout_needs_student_heads():
    with pytest.raises(ConfigError, match="set model.student_heads true"):
        _cfg("model.fused_readout=students")


def test_align_on_predictions_pulls_each_student_towards_the_detached_fused_prediction():
    """align.target=predictions: on a sample with two or more present modalities, KD is the mean over
    its present students of the pose loss between the student's own prediction and the fused one
    plus the KL of their activity logits; a sample read by one modality gets none, and no DiffKD module is built."""
    cfg = _cfg("model.student_heads=true", "model.fused_readout=students", "align.target=predictions",
               "align.lambda_kd=1.0")
    torch.manual_seed(12)
    model = build_model(cfg, 27)
    model.fit_pose_targets(torch.randn(50, 17, 3) + torch.tensor([0.0, 0.0, 3.0]))
    objective = build_objective(cfg, model).eval()  # no dropout: the same forward twice
    assert not any("diffkd" in name for name, _ in objective.named_parameters())
    inputs = random_inputs(model, cfg.data.preprocess, 2)
    present = torch.tensor([[True, False, False, True, True], [False, False, False, True, False]])
    targets = Targets(pose=torch.randn(2, 17, 3), activity=torch.randint(0, 27, (2,)))
    out = objective(inputs, present, targets)
    with torch.no_grad():
        features = model.encode(inputs, present)
        fused = model(inputs, present)
        per_student = []
        for m in ("rgb", "lidar", "wifi-csi"):
            own = model.students[m](features[m][:1])
            kl = torch.nn.functional.kl_div(own.activity.log_softmax(1), fused.activity[:1].softmax(1), reduction="batchmean")
            per_student.append(pose_loss(own.pose, fused.pose[:1], model.pose_scale)[0] + kl)
        expected = torch.stack(per_student).mean()
    torch.testing.assert_close(out.terms["kd"], expected)
    with torch.no_grad():  # one modality everywhere: no KD term
        alone = objective(inputs, present & torch.tensor([False, False, False, True, False]), targets)
    assert "kd" not in alone.terms


@pytest.mark.parametrize("target", ["features", "predictions"])
def test_unlabelled_rows_reach_align_alone(target):
    """train.labelled_fraction: a batch's unlabelled rows (NaN pose, activity -1) leave every task
    loss as it is on the labelled rows alone and enter only Align's KD."""
    cfg = _cfg("model.student_heads=true", "model.fused_readout=students", "train.student_presence=available",
               f"align.target={target}", "align.teacher=available", "align.lambda_kd=1.0")
    torch.manual_seed(13)
    model = build_model(cfg, 27)
    model.fit_pose_targets(torch.randn(50, 17, 3) + torch.tensor([0.0, 0.0, 3.0]))
    objective = build_objective(cfg, model).eval()  # no dropout: the same forward twice
    assert objective.learns_from_unlabelled
    inputs = random_inputs(model, cfg.data.preprocess, 4)
    present = torch.ones(4, 5, dtype=torch.bool)
    labelled = torch.tensor([True, True, False, False])
    pose, activity = torch.randn(4, 17, 3), torch.randint(0, 27, (4,))
    pose[~labelled], activity[~labelled] = float("nan"), -1
    generator = lambda: torch.Generator().manual_seed(5)  # noqa: E731  (DiffKD's noise, the same draw twice)
    objective.generator = generator()
    both = objective(inputs, present, Targets(pose=pose, activity=activity, labelled=labelled))
    objective.generator = generator()
    first = {m: {k: v[:2] for k, v in fields.items()} for m, fields in inputs.items()}
    alone = objective(first, present[:2], Targets(pose=pose[:2], activity=activity[:2]))
    assert torch.isfinite(both.total)
    for term in ("pose", "activity", "students"):
        torch.testing.assert_close(both.terms[term], alone.terms[term], msg=term)
    assert not torch.isclose(both.terms["kd"], alone.terms["kd"])  # the unlabelled rows are distilled too


def test_a_labelled_fraction_must_leave_some_labels():
    with pytest.raises(ConfigError, match="train.labelled_fraction"):
        _cfg("train.labelled_fraction=0")


def test_align_on_predictions_needs_the_served_head_input():
    with pytest.raises(ConfigError, match='align.target "predictions"'):
        _cfg("align.target=predictions", "align.head_input=refined")
