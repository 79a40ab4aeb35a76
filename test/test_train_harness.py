"""The training harness end to end on a tiny MM-Fi tree: CLI smoke run served by the Predictor,
exact resume after an interruption, refusal of unsafe resumes, late fusion from single runs."""
from __future__ import annotations

import json

import numpy as np
import pytest
import torch
from train_helpers import one_thread, tiny_overrides, write_tiny_mmfi  # noqa: F401  (autouse fixture)

from pta_core import cli
from pta_core.checkpoint import load_checkpoint
from pta_core.config import load_config
from pta_core.data import mmfi
from pta_core.data.splits import mmfi_split
from pta_core.torch_predictor import TorchPredictor
from pta_core.training.runstate import load_state, read_jsonl
from pta_core.training.train import Trainer, train


@pytest.fixture(scope="module")
def tree(tmp_path_factory):
    root = tmp_path_factory.mktemp("mmfi")
    write_tiny_mmfi(root / "tree")
    return root


def _overrides(tree, out, *extra):
    return tiny_overrides(tree / "tree", tree / "cache", out, *extra)


@pytest.mark.slow
def test_cli_two_step_run_writes_a_model_the_predictor_serves(tree, tmp_path, repo_root):
    out = tmp_path / "run"
    args = ["train", "--config", str(repo_root / "config/train_mmfi.yaml"), "--no-progress"]
    # The shipped config (depth as points, windowed activity) on tiny 64×48 depth maps and 10-frame sequences.
    extra = ("train.max_steps=2", "purify.meta_every=1", "data.preprocess.depth_intrinsics=[40,40,32,24]",
             "activity.window=4", "activity.steps=3", "activity.batch_size=4")
    for item in _overrides(tree, out, *extra):
        args += ["--set", item]
    assert cli.main(args) == 0
    for name in ("config.yaml", "run_info.json", "metrics.jsonl", "purify_weights.jsonl", "state.pt", "model.pt", "train.log"):
        assert (out / name).is_file(), name
    losses = [r["loss"] for r in read_jsonl(out / "metrics.jsonl") if "loss" in r and "event" not in r]
    assert len(losses) == 2 and all(np.isfinite(losses))
    weights = read_jsonl(out / "purify_weights.jsonl")
    assert [w["step"] for w in weights] == [0, 1, 2] and weights[-1]["weights"] != weights[0]["weights"]

    checkpoint = load_checkpoint(out / "model.pt")
    assert len(checkpoint.validation) == 31  # every combination of the five modalities, on meta-val
    assert checkpoint.metadata["validation_split"] == "meta_val" and checkpoint.metadata["step"] == 2
    assert checkpoint.metadata["rig"] == [] and checkpoint.metadata["reference_frame"] == "sensor_rig"  # no rig file
    assert all(r.samples == checkpoint.metadata["meta_val_samples"] for r in checkpoint.validation)
    assert not any(k.startswith("align") or "diffkd" in k for k in checkpoint.state_dict)
    predictor = TorchPredictor.from_checkpoint(out / "model.pt", "cpu")
    rng = np.random.default_rng(0)
    samples = {
        "lidar": predictor.preprocess("lidar", rng.normal(size=(300, 3))),
        "wifi-csi": predictor.preprocess("wifi-csi", rng.uniform(0, 30, (3, 114, 10))),
    }
    prediction = predictor.predict(samples, stamp_s=0.0)
    assert prediction.joints.shape == (17, 3) and np.isfinite(prediction.joints).all()
    assert prediction.activity_probs is None  # one frame is not yet a window
    assert predictor.predict(samples, stamp_s=0.1).activity_probs.shape == (27,)  # 2 of 4 instants at 0.1 s
    assert all(r.accuracy is not None for r in checkpoint.validation)  # windows of the meta-val sequences
    assert predictor.best_subset(["lidar", "wifi-csi"]) in {("lidar",), ("wifi-csi",), ("lidar", "wifi-csi")}

    # The node's choice over the test split, frame by frame, with live quality off and on.
    report = tmp_path / "eval"
    assert cli.main(["eval", "--checkpoint", str(out / "model.pt"), "--node-choice", "--no-progress",
                     "--combinations", "lidar", "--out", str(report)]) == 0
    choice = json.loads((report / "node_choice.json").read_text())["runs"]["run"]
    test_frames = sum(1 for _ in mmfi.iter_frames(tree / "tree", mmfi_split(checkpoint.config.data).side("test"), ("lidar",)))
    for label in ("today", "live_quality"):
        assert choice[label]["frames"] + choice[label]["frames_nothing_live"] == test_frames
        assert np.isfinite(choice[label]["mpjpe_mm"]) and sum(choice[label]["sets"].values()) == choice[label]["frames"]
    assert "live quality" in (report / "node_choice.md").read_text()
    assert cli.main(["eval", "--checkpoint", str(out / "model.pt"), "--node-choice", "--quality-tolerance", "0",
                     "--no-progress", "--combinations", "lidar", "--out", str(report)]) == 2  # one error line, before any work


class Interrupted(Exception):
    pass


def _params(state: dict) -> dict[str, torch.Tensor]:
    return {k: v for k, v in state["objective"].items() if v.is_floating_point()}


@pytest.mark.slow
def test_resume_after_an_interruption_equals_an_uninterrupted_run(tree, tmp_path, monkeypatch):
    # A log line every 3 steps: the state saved at step 4 holds a partial interval (step 4 of 4-6).
    extra = ("purify.meta_every=3", "train.checkpoint_every=2", "train.eval_every=0", "train.log_every=3")
    full = tmp_path / "full"
    train(load_config(None, _overrides(tree, full, "train.max_steps=9", *extra)), progress=False)

    # The same run, interrupted at step 5 (last saved state: step 4), then resumed.
    cut = tmp_path / "cut"
    cfg = load_config(None, _overrides(tree, cut, "train.max_steps=9", *extra))
    original = Trainer._train_step

    def interrupt_at_step_5(self, batch):
        if self.step == 4:
            raise Interrupted
        return original(self, batch)

    monkeypatch.setattr(Trainer, "_train_step", interrupt_at_step_5)
    with pytest.raises(Interrupted):
        train(cfg, progress=False)
    monkeypatch.setattr(Trainer, "_train_step", original)
    assert load_state(cut)["position"] == {"step": 4, "epoch": 0, "step_in_epoch": 4}
    (cut / ".state.pt.k1ll3d.tmp").write_bytes(b"half a file")  # what a kill mid-write leaves
    result = train(cfg, resume=True, progress=False)
    assert not list(cut.glob(".*.tmp"))
    assert result.steps == 9

    a, b = load_state(full), load_state(cut)
    assert a["position"] == b["position"] == {"step": 9, "epoch": 1, "step_in_epoch": 4}  # 40 samples: 5 steps an epoch
    for key, value in _params(a).items():
        torch.testing.assert_close(_params(b)[key], value, rtol=1e-5, atol=1e-6, msg=key)
    assert a["meta"]["steps"] == b["meta"]["steps"] == 3
    torch.testing.assert_close(b["objective"]["model.weights.logits"], a["objective"]["model.weights.logits"])
    # The logs continue without duplicated or missing lines, with the same interval means (the line at
    # step 6 spans steps 4-6, across the interruption).
    logged = lambda run: [(r["step"], r["loss"]) for r in read_jsonl(run / "metrics.jsonl") if "loss" in r]  # noqa: E731
    assert [s for s, _ in logged(cut)] == [3, 6, 9]
    np.testing.assert_allclose([v for _, v in logged(cut)], [v for _, v in logged(full)], rtol=1e-5)
    assert [w["step"] for w in read_jsonl(cut / "purify_weights.jsonl")] == [0, 3, 6, 9]


def test_unsafe_runs_are_refused(tree, tmp_path):
    out = tmp_path / "run"
    train(load_config(None, _overrides(tree, out, "train.max_steps=1")), progress=False)
    with pytest.raises(FileExistsError, match="--resume"):
        train(load_config(None, _overrides(tree, out, "train.max_steps=1")), progress=False)
    with pytest.raises(ValueError, match="train.lr"):
        train(load_config(None, _overrides(tree, out, "train.max_steps=2", "train.lr=0.1")), resume=True, progress=False)
    with pytest.raises(FileNotFoundError, match="resume"):
        train(load_config(None, _overrides(tree, tmp_path / "none", "train.max_steps=2")), resume=True, progress=False)
    (out / "state.pt").write_bytes(b"truncated")
    with pytest.raises(ValueError, match="not a loadable training state"):
        train(load_config(None, _overrides(tree, out, "train.max_steps=2")), resume=True, progress=False)


@pytest.mark.slow
def test_late_fusion_from_single_runs(tree, tmp_path, capsys):
    paths = []
    modalities = ("depth", "lidar")
    for name in modalities:
        out = tmp_path / name
        train(load_config(None, _overrides(tree, out, "train.max_steps=1", "data.modalities=[depth,lidar]",
                                           "train.method=single", f"train.single_modality={name}")), progress=False)
        paths.append(str(out / "model.pt"))
    fused = tmp_path / "late"
    args = ["train", "--no-progress", "--from-singles", *paths]
    for item in _overrides(tree, fused, "data.modalities=[depth,lidar]", "train.method=late_fusion"):
        args += ["--set", item]
    assert cli.main(args) == 0
    checkpoint = load_checkpoint(fused / "model.pt")
    assert checkpoint.config.train.method == "late_fusion" and len(checkpoint.validation) == 3
    singles = {m: load_checkpoint(p) for m, p in zip(modalities, paths)}
    # The late-fusion row of a single modality is that single model's own score.
    for row in checkpoint.validation:
        if len(row.modalities) == 1:
            own = singles[row.modalities[0]].validation[0]
            assert row.mpjpe_mm == pytest.approx(own.mpjpe_mm, rel=1e-5)
    assert json.loads(json.dumps(checkpoint.metadata))["late_fusion_members"] == paths
    # A member that is not a single-modality model is refused with a reason.
    args_bad = ["train", "--no-progress", "--from-singles", paths[0], str(fused / "model.pt")]
    for item in _overrides(tree, tmp_path / "bad", "data.modalities=[depth,lidar]", "train.method=late_fusion"):
        args_bad += ["--set", item]
    assert cli.main(args_bad) == 1
    assert "not a single-modality" in capsys.readouterr().err
    # The suite's config (student heads, which a single network never has) assembles the same members;
    # a setting that does change them is named.
    for extra, code in (("model.student_heads=true", 0), ("model.head_hidden=7", 1)):
        args_cfg = ["train", "--no-progress", "--from-singles", *paths]
        for item in _overrides(tree, tmp_path / f"late_{code}", "data.modalities=[depth,lidar]",
                               "train.method=late_fusion", extra):
            args_cfg += ["--set", item]
        assert cli.main(args_cfg) == code
    assert "model settings differ from this config's (head_hidden)" in capsys.readouterr().err


@pytest.mark.slow
def test_xrf55_activity_run_with_the_har_settings(tmp_path, repo_root):
    from data_trees import write_xrf55_tree

    modalities = ["xrf-mmwave", "xrf-wifi", "xrf-rfid"]
    write_xrf55_tree(tmp_path / "xrf" / "Scene1", [1, 2], [1, 2, 3], [1, 2, 3, 15], modalities)
    out = tmp_path / "run"
    cfg = load_config(repo_root / "config/train_xrf55.yaml", [
        "model.dim=32", "model.tokens=4", "model.encoder_width=8", f"data.root={tmp_path / 'xrf'}",
        f"data.cache_dir={tmp_path / 'cache'}", f"train.out_dir={out}", "train.max_steps=3", "train.batch_size=4",
        "purify.meta_every=2", "purify.meta_batch_size=2", "train.eval_every=0",
    ])
    assert cfg.align.sharing == "per_modality" and not cfg.purify.renorm_present and cfg.purify.phi_init == "uniform"
    result = train(cfg, progress=False)
    checkpoint = load_checkpoint(result.model_path)
    assert checkpoint.config.train.tasks == ("activity",) and len(checkpoint.activity_classes) == 55
    assert len(checkpoint.validation) == 7  # the combinations of three modalities
    assert all(r.accuracy is not None and r.mpjpe_mm is None for r in checkpoint.validation)
    assert checkpoint.selection_metric == ("accuracy", False)
    state = load_state(out)
    assert {k.split(".")[2] for k in state["objective"] if k.startswith("align.diffkd.")} == set(modalities)
    # One Adam step per meta-val batch (HAR): 4 meta-val samples in batches of 2 → 2 steps at step 2.
    assert state["meta"]["steps"] == 2
    weights = read_jsonl(out / "purify_weights.jsonl")
    assert weights[0]["weights"] != pytest.approx({m: 1 / 3 for m in modalities})  # φ ~ U(0, 1)


@pytest.mark.slow
def test_init_from_singles_and_frozen_first_steps(tree, tmp_path):
    """Stage 2 starts its encoders and projectors from stage-1 single networks; with
    train.init_frozen_steps they stay exactly as loaded for those steps while the heads train (LP-FT)."""
    single = tmp_path / "single"
    train(load_config(None, _overrides(tree, single, "train.max_steps=2", "train.method=single",
                                       "train.single_modality=lidar")), progress=False)
    loaded = load_checkpoint(single / "model.pt").state_dict
    pretrained = [k for k in loaded if k.startswith(("encoders.lidar.", "projectors.lidar."))]
    assert pretrained

    def stage2(name, frozen, steps):
        cfg = load_config(None, _overrides(tree, tmp_path / name, f"train.max_steps={steps}", "train.selection=last",
                                           f"train.init_from=[{single / 'model.pt'}]",
                                           f"train.init_frozen_steps={frozen}"))
        train(cfg, progress=False)
        return load_checkpoint(tmp_path / name / "model.pt").state_dict

    frozen, free = stage2("frozen", 3, 3), stage2("free", 0, 3)
    for key in pretrained:  # buffers too: the frozen encoder ran in eval mode
        torch.testing.assert_close(frozen[key], loaded[key], msg=key)
    assert any(not torch.equal(free[k], loaded[k]) for k in pretrained)  # fine-tuning moves them
    heads = [k for k in frozen if k.startswith("task.")]
    initial = [Trainer(load_config(None, _overrides(tree, tmp_path / f"init{i}", "train.max_steps=1")),
                       progress=False).model.state_dict() for i in range(2)]
    assert heads and all(torch.equal(initial[0][k], initial[1][k]) for k in heads)  # seeded initialisation
    assert any(not torch.equal(frozen[k], initial[0][k]) for k in heads)  # the new parts trained
    # Unfrozen after its steps: a longer run moves the loaded parts.
    later = stage2("later", 2, 8)
    assert any(not torch.equal(later[k], loaded[k]) for k in pretrained)
    with pytest.raises(Exception, match="init_frozen_steps freezes what train.init_from loads"):
        load_config(None, _overrides(tree, tmp_path / "x", "train.init_frozen_steps=5"))

    # train.init_head=best_single: the shared pose head starts from the single network with the lowest meta-val MPJPE.
    depth = tmp_path / "depth"
    train(load_config(None, _overrides(tree, depth, "train.max_steps=2", "train.method=single",
                                       "train.single_modality=depth")), progress=False)
    singles = {path: load_checkpoint(path) for path in (single / "model.pt", depth / "model.pt")}
    best = min(singles, key=lambda path: singles[path].validation[0].mpjpe_mm)
    cfg = load_config(None, _overrides(tree, tmp_path / "headed", "train.max_steps=1", "train.init_head=best_single",
                                       f"train.init_from=[{single / 'model.pt'},{depth / 'model.pt'}]"))
    started = Trainer(cfg, progress=False).model.state_dict()
    head = [k for k in started if k.startswith("task.pose_head.")]
    assert head and all(torch.equal(started[k], singles[best].state_dict[k]) for k in head)
    with pytest.raises(Exception, match="starts the head from train.init_from"):
        load_config(None, _overrides(tree, tmp_path / "x", "train.init_head=best_single"))

    # model.student_heads: each modality's own heads start as its single network's heads.
    cfg = load_config(None, _overrides(tree, tmp_path / "students", "train.max_steps=1", "model.student_heads=true",
                                       f"train.init_from=[{single / 'model.pt'},{depth / 'model.pt'}]"))
    started = Trainer(cfg, progress=False).model.state_dict()
    for name, path in (("lidar", single), ("depth", depth)):
        own = {k: v for k, v in singles[path / "model.pt"].state_dict.items() if k.startswith("task.pose_head.")}
        assert own and all(torch.equal(started[f"students.{name}.{k[len('task.'):]}"], v) for k, v in own.items())


@pytest.mark.slow
def test_a_labelled_fraction_hides_labels_and_aligns_on_the_unlabelled_frames(tree, tmp_path, monkeypatch):
    """train.labelled_fraction 0.5: of the two training subjects one keeps its labels; PTA with Align
    trains on a batch of each per step (the unlabelled one's targets are NaN, so any loss reading them
    would fail), resumes exactly, and PTA without Align leaves the unlabelled subject out."""
    seen = []
    original = Trainer._train_step

    def spy(self, batch):
        seen.append(batch.targets.labelled)
        if self.step == 3 and getattr(self, "interrupt", False):
            raise Interrupted
        return original(self, batch)

    monkeypatch.setattr(Trainer, "_train_step", spy)
    extra = ("train.max_steps=4", "train.labelled_fraction=0.5", "train.checkpoint_every=2", "train.eval_every=0")
    full = tmp_path / "semi"
    train(load_config(None, _overrides(tree, full, *extra)), progress=False)
    info = json.loads((full / "run_info.json").read_text())
    assert info["train_samples"] == info["unlabelled_samples"] == 20 and info["unlabelled_used"]
    assert len(seen) == 4 and all(f.tolist() == [True] * 8 + [False] * 8 for f in seen)
    logged = [r for r in read_jsonl(full / "metrics.jsonl") if "loss" in r and "event" not in r]
    assert len(logged) == 4 and all(np.isfinite(r["loss"]) and np.isfinite(r["kd"]) for r in logged)

    cut = tmp_path / "cut"  # interrupted at step 4 (last state: step 2), then resumed: the same unlabelled draws
    cfg = load_config(None, _overrides(tree, cut, *extra))
    monkeypatch.setattr(Trainer, "interrupt", True, raising=False)
    with pytest.raises(Interrupted):
        train(cfg, progress=False)
    monkeypatch.setattr(Trainer, "interrupt", False, raising=False)
    train(cfg, resume=True, progress=False)
    a, b = load_state(full), load_state(cut)
    for key, value in _params(a).items():
        torch.testing.assert_close(_params(b)[key], value, rtol=1e-5, atol=1e-6, msg=key)

    seen.clear()
    plain = tmp_path / "no_align"
    train(load_config(None, _overrides(tree, plain, *extra, "align.enabled=false")), progress=False)
    info = json.loads((plain / "run_info.json").read_text())
    assert info["train_samples"] == 20 and not info["unlabelled_used"]
    assert seen and all(f is None for f in seen)
    with pytest.raises(ValueError, match="train.labelled_fraction 0.9 of 2 group"):
        Trainer(load_config(None, _overrides(tree, tmp_path / "x", "train.labelled_fraction=0.9")), progress=False)


@pytest.mark.parametrize("readout", ["shared", "students"])
def test_the_activity_stage_trains_every_window_head(tree, tmp_path, readout):
    """With student heads the activity stage trains the shared window head and every modality's own,
    whichever way a fused set's activity is read."""
    from pta_core.data import open_split
    from pta_core.models.factory import build_model
    from pta_core.training.activity_training import train_window_head

    cfg = load_config(None, _overrides(tree, tmp_path / "run", "model.student_heads=true", "train.tasks=[pose,activity]",
                                       "activity.window=4", "activity.steps=4", "activity.batch_size=4",
                                       f"activity.fused_readout={readout}"))
    split = open_split(cfg.data, "train", progress=False)
    torch.manual_seed(0)
    model = build_model(cfg, len(split.activity_classes))
    heads = model.window_heads()
    assert len(heads) == 1 + len(model.modalities)
    before = [[p.detach().clone() for p in head.parameters()] for head in heads]
    stats = train_window_head(model, cfg, split, np.arange(len(split)), device=torch.device("cpu"),
                              generator=torch.Generator().manual_seed(0))
    assert stats["windows"] > 0 and np.isfinite(stats["loss"])
    moved = [any(not torch.equal(p, q) for p, q in zip(head.parameters(), old)) for head, old in zip(heads, before)]
    assert all(moved), moved
    assert not any(p.requires_grad and p.grad is not None for p in model.encoders.parameters())  # frozen


def test_student_window_heads_start_fresh_from_windowed_singles(tree, tmp_path):
    """With a windowed activity head the students take their single networks' pose heads but not their
    window heads: the activity stage fits those to this network's embeddings, and one fitted to the
    single network's starts it overfitted (docs/RESULTS.md, "Student window heads start fresh")."""
    windowed = ("train.tasks=[pose,activity]", "activity.window=4", "activity.steps=2", "activity.batch_size=4")
    single = tmp_path / "single"
    train(load_config(None, _overrides(tree, single, "train.max_steps=2", "train.method=single",
                                       "train.single_modality=lidar", *windowed)), progress=False)
    trained = load_checkpoint(single / "model.pt").state_dict

    def started(name, *extra):
        cfg = load_config(None, _overrides(tree, tmp_path / name, "train.max_steps=1", "model.student_heads=true",
                                           *windowed, *extra))
        return Trainer(cfg, progress=False).model.state_dict()

    warm, cold = started("warm", f"train.init_from=[{single / 'model.pt'}]"), started("cold")
    pose = [k for k in trained if k.startswith("task.pose_head.")]
    window = [k for k in trained if k.startswith("task.activity_head.")]
    assert pose and window
    assert all(torch.equal(warm[f"students.lidar.{k[len('task.'):]}"], trained[k]) for k in pose)
    assert all(torch.equal(warm[f"students.lidar.{k[len('task.'):]}"], cold[f"students.lidar.{k[len('task.'):]}"])
               for k in window)  # the seeded initialisation, not the single network's trained head
    assert any(not torch.equal(trained[k], cold[f"students.lidar.{k[len('task.'):]}"]) for k in window)
    # train.init_student_heads=fresh: the pose head too starts from its initialisation.
    fresh = started("fresh", f"train.init_from=[{single / 'model.pt'}]", "train.init_student_heads=fresh")
    assert all(torch.equal(fresh[f"students.lidar.{k[len('task.'):]}"], cold[f"students.lidar.{k[len('task.'):]}"])
               for k in pose + window)
    assert all(torch.equal(fresh[k], trained[k]) for k in trained if k.startswith("encoders.lidar."))
