"""`pta export` → ONNX graphs served by onnxruntime: the same predictions as PyTorch, the same metadata."""
from __future__ import annotations

import json

import numpy as np
import pytest
import torch
from train_helpers import TINY_MODEL, one_thread  # noqa: F401  (autouse fixture)

from pta_core import cli
from pta_core.checkpoint import load_checkpoint, save_checkpoint, save_initial_checkpoint
from pta_core.config import load_config
from pta_core.errors import CheckpointError
from pta_core.serving import load_predictor
from pta_core.torch_predictor import TorchPredictor

pytestmark = pytest.mark.slow  # every test reads a model exported to ONNX (≈ 35 s an export)

CLASSES = tuple(f"A{i:02d}" for i in range(1, 28))
pytest.importorskip("onnxruntime")


@pytest.fixture(scope="module", params=["features", "students"])
def exported(tmp_path_factory, request):
    root = tmp_path_factory.mktemp("export")
    # student heads: the graph picks a modality's own heads per row where it is alone; with the
    # students readout (the recipe) a fused set averages them and adds the shared heads' correction
    readout = [] if request.param == "features" else ["model.fused_readout=students", "activity.fused_readout=students"]
    cfg = load_config(None, [*TINY_MODEL, "activity.window=4", "data.frame_period=0.25", "model.student_heads=true",
                             *readout])
    checkpoint = save_initial_checkpoint(root / "model.pt", cfg, CLASSES)
    generator = torch.Generator().manual_seed(3)
    for key in ("task.pose_head.fc.weight", "task.activity_head.out.1.weight"):  # corrections start at zero
        checkpoint.state_dict[key] = 0.01 * torch.randn(checkpoint.state_dict[key].shape, generator=generator)
    checkpoint.modality_weights = {"rgb": 0.1, "depth": 0.2, "mmwave": 0.3, "lidar": 0.3, "wifi-csi": 0.1}
    checkpoint.metadata["live_quality"] = {"verdicts": {"mmwave": 1.25, "lidar": 2.37}}  # as bench/live_quality.py --store
    save_checkpoint(root / "model.pt", checkpoint)
    assert cli.main(["export", "--checkpoint", str(root / "model.pt"), "--out", str(root / "onnx"), "--no-check"]) == 0
    return root / "model.pt", root / "onnx"


def _samples(predictor, seed):
    rng = np.random.default_rng(seed)
    raw = {"rgb": np.column_stack([rng.uniform(0, 640, 17), rng.uniform(0, 480, 17), np.ones(17)]),
           "mmwave": rng.normal(0, 1, (40, 5)), "lidar": rng.normal(0, 1, (300, 3)) + [0, 0, 3],
           "wifi-csi": rng.uniform(20, 40, (3, 114, 10))}
    return {m: predictor.preprocess(m, v) for m, v in raw.items() if m in predictor.modalities}


def test_onnxruntime_predicts_what_pytorch_predicts(exported):
    model_path, folder = exported
    torch_predictor = TorchPredictor.from_checkpoint(model_path, "cpu")
    onnx_predictor = load_predictor(folder, backend="onnxruntime")
    assert onnx_predictor.modalities == torch_predictor.modalities
    for step, subset in enumerate([("lidar",), ("rgb", "lidar"), ("rgb", "mmwave", "lidar", "wifi-csi"), ("mmwave",)]):
        samples = {m: s for m, s in _samples(torch_predictor, step).items() if m in subset}
        for t in (0.0, 0.25, 0.5):  # the activity window fills on both alike
            a, b = torch_predictor.predict(samples, stamp_s=step + t), onnx_predictor.predict(samples, stamp_s=step + t)
            assert a.modalities == b.modalities == tuple(m for m in torch_predictor.modalities if m in subset)
            np.testing.assert_allclose(b.joints, a.joints, atol=1e-4)  # metres
            assert (a.activity_probs is None) == (b.activity_probs is None)
            if a.activity_probs is not None:
                np.testing.assert_allclose(b.activity_probs, a.activity_probs, atol=1e-4)


def test_each_sensors_own_readout_is_the_model_on_it_alone_on_both_backends(exported):
    """Live quality's readouts (the students graph on onnxruntime, the student heads on PyTorch) equal
    a prediction from that modality alone, from one encoding of the whole frame."""
    model_path, folder = exported
    torch_predictor = TorchPredictor.from_checkpoint(model_path, "cpu")
    onnx_predictor = load_predictor(folder, backend="onnxruntime")
    samples = _samples(torch_predictor, 3)
    for predictor in (torch_predictor, onnx_predictor):
        own = predictor.readouts(predictor.encode(samples))
        assert list(own) == [m for m in predictor.modalities if m in samples]
        for m, joints in own.items():
            np.testing.assert_allclose(joints, torch_predictor.predict({m: samples[m]}).joints, atol=1e-4)


def test_the_export_carries_what_the_checkpoint_carries(exported):
    model_path, folder = exported
    for predictor in (TorchPredictor.from_checkpoint(model_path, "cpu"), load_predictor(folder, backend="onnxruntime")):
        assert predictor.card.quality_verdicts == {"mmwave": 1.25, "lidar": 2.37}  # live quality's, per sensor
    meta = json.loads((folder / "model.json").read_text())
    checkpoint = load_checkpoint(model_path)
    assert meta["modalities"] == list(checkpoint.modalities)
    assert meta["joint_names"] == list(checkpoint.joint_names) and meta["activity_classes"] == list(CLASSES)
    assert meta["modality_weights"]["lidar"] == pytest.approx(0.3)
    assert meta["activity_window"] == {"frames": 4, "frame_period_s": 0.25}
    assert meta["inputs"]["lidar"]["mask"]["dtype"] == "bool"
    assert sorted(p.name for p in folder.glob("*.onnx")) == sorted(
        [f"encoder_{m}.onnx" for m in checkpoint.modalities] + ["fusion.onnx", "students.onnx", "activity_window.onnx"])
    predictor = load_predictor(folder, backend="onnxruntime")
    assert predictor.preprocess_config == checkpoint.config.data.preprocess
    assert predictor.activity_window_s == pytest.approx(1.0)


def test_backend_mistakes_are_one_clear_error(exported, tmp_path, capsys):
    model_path, folder = exported
    with pytest.raises(CheckpointError, match="pta export --checkpoint"):
        load_predictor(model_path, backend="onnxruntime")  # a model.pt is not an export
    with pytest.raises(ValueError, match="backend"):
        load_predictor(model_path, backend="tensorflow")
    broken = tmp_path / "broken"
    broken.mkdir()
    (broken / "model.json").write_text((folder / "model.json").read_text())
    with pytest.raises(CheckpointError, match="cannot load the ONNX graphs"):
        load_predictor(broken, backend="onnxruntime")
    assert cli.main(["export", "--checkpoint", str(tmp_path / "none.pt"), "--out", str(tmp_path / "o"), "--no-check"]) == 1
    err = capsys.readouterr().err
    assert err.startswith("pta export:") and len(err.strip().splitlines()) == 1


def test_the_export_check_compares_every_output_on_a_batch(exported):
    from pta_core.export import check_against_torch
    from pta_core.modalities import empty_sample, get_modality

    model_path, folder = exported
    checkpoint = load_checkpoint(model_path)
    predictor = TorchPredictor(checkpoint, "cpu")
    rows = [_samples(predictor, seed) for seed in range(8)]
    pre = checkpoint.config.data.preprocess
    inputs = {m: {k: torch.from_numpy(np.stack([np.asarray(r.get(m, empty_sample(get_modality(m), pre))[k]) for r in rows]))
                  for k in empty_sample(get_modality(m), pre)} for m in checkpoint.modalities}
    present = torch.from_numpy(np.random.default_rng(0).random((8, len(checkpoint.modalities))) > 0.4)
    present[:, checkpoint.modalities.index("lidar")] = True
    worst = check_against_torch(checkpoint, folder, inputs, present)
    assert worst["samples"] == 8 and set(worst) == {"samples", "pose_m", "students_pose_m", "embedding", "window_logits"}
    assert worst["pose_m"] < 1e-4 and worst["students_pose_m"] < 1e-4
    assert worst["embedding"] < 1e-3 and worst["window_logits"] < 1e-3
