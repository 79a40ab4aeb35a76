"""Model inference path, Purify weights, checkpoint format and the serving Predictor."""
from __future__ import annotations

import numpy as np
import pytest
import torch

from pta_core.checkpoint import load_checkpoint, save_checkpoint, save_initial_checkpoint
from pta_core.config import load_config
from pta_core.errors import CheckpointError, InvalidInput
from pta_core.models.weighting import ModalityWeights
from pta_core.torch_predictor import TorchPredictor
from pta_core.validation import ValidationRow, best_subset

TINY = ["model.dim=32", "model.tokens=4", "model.encoder_width=8", "data.preprocess.depth_size=[24,32]",
        "data.preprocess.lidar_points=32", "data.preprocess.mmwave_points=16"]
CLASSES = tuple(f"A{i:02d}" for i in range(1, 28))


def raw_frame(rng):
    return {
        "rgb": rng.uniform(0, 480, (17, 2)),
        "depth": rng.integers(500, 4000, (480, 640)).astype(np.uint16),
        "mmwave": rng.normal(size=(40, 5)),
        "lidar": rng.normal(size=(300, 3)),
        "wifi-csi": rng.uniform(0, 30, (3, 114, 10)),
    }


def test_weights_sum_to_one_over_present_and_absent_get_no_gradient():
    weights = ModalityWeights(("a", "b", "c"))
    with torch.no_grad():
        weights.logits.copy_(torch.tensor([0.3, -1.0, 2.0]))
    present = torch.tensor([[True, False, True], [False, True, False], [True, True, True]])
    w = weights(present)
    assert torch.allclose(w.sum(1), torch.ones(3))
    assert (w[~present] == 0).all()
    # Only the present modalities of a sample contribute gradient to their logits.
    w[1:2, 1].sum().backward(retain_graph=True)  # sample 1 has only "b": w̃_b = 1 regardless of φ
    assert torch.count_nonzero(weights.logits.grad) == 0
    weights.logits.grad = None
    (w[0, 0] * 3.0).backward()  # sample 0: a and c present, b absent
    assert weights.logits.grad[1] == 0 and weights.logits.grad[0] != 0 and weights.logits.grad[2] != 0


def test_checkpoint_round_trip_gives_identical_outputs(tmp_path):
    cfg = load_config(None, TINY)
    path = tmp_path / "model.pt"
    saved = save_initial_checkpoint(path, cfg, CLASSES)
    # The file loads with the safe unpickler.
    payload = torch.load(path, weights_only=True)
    assert payload["format_version"] == 1 and payload["modalities"] == list(cfg.data.modalities)
    a, b = TorchPredictor(saved, "cpu"), TorchPredictor.from_checkpoint(path, "cpu")
    rng = np.random.default_rng(0)
    samples = {m: a.preprocess(m, raw) for m, raw in raw_frame(rng).items()}
    pa, pb = a.predict(samples), b.predict(samples)
    assert pa.joints.shape == (17, 3) and pa.activity_probs.shape == (27,)
    np.testing.assert_array_equal(pa.joints, pb.joints)
    np.testing.assert_array_equal(pa.activity_probs, pb.activity_probs)
    assert pytest.approx(float(pa.activity_probs.sum()), abs=1e-5) == 1.0
    # Any subset works; an absent modality does not influence the output.
    only = b.predict({"lidar": samples["lidar"]})
    other = dict(samples)
    other.pop("lidar")
    assert only.modalities == ("lidar",) and np.isfinite(only.joints).all()
    assert not np.allclose(only.joints, pb.joints)


def test_best_subset_follows_validation_table(tmp_path):
    cfg = load_config(None, TINY)
    ckpt = save_initial_checkpoint(tmp_path / "m.pt", cfg, CLASSES)
    ckpt.validation = [
        ValidationRow(("depth",), 10, mpjpe_mm=120.0),
        ValidationRow(("lidar",), 10, mpjpe_mm=90.0),
        ValidationRow(("depth", "lidar"), 10, mpjpe_mm=80.0),
        ValidationRow(("depth", "lidar", "wifi-csi"), 10, mpjpe_mm=95.0),  # a noisy modality hurts
    ]
    save_checkpoint(tmp_path / "v.pt", ckpt)
    predictor = TorchPredictor.from_checkpoint(tmp_path / "v.pt", "cpu")
    assert predictor.best_subset(["depth", "lidar", "wifi-csi"]) == ("depth", "lidar")
    assert predictor.best_subset(["depth", "wifi-csi"]) == ("depth",)
    assert predictor.best_subset(["wifi-csi"]) == ("wifi-csi",)  # unvalidated: use what is live
    assert predictor.best_subset(["camera_that_does_not_exist"]) is None


def test_best_subset_takes_the_fewest_modalities_within_one_standard_error():
    order = ("rgb", "depth", "lidar", "wifi-csi")
    rows = [
        ValidationRow(("depth",), 10, mpjpe_mm=120.0, mpjpe_se_mm=4.0),
        ValidationRow(("lidar",), 10, mpjpe_mm=40.0, mpjpe_se_mm=1.5),
        ValidationRow(("depth", "lidar"), 10, mpjpe_mm=39.0, mpjpe_se_mm=1.5),  # 1 mm better: within one SE
        ValidationRow(("lidar", "wifi-csi"), 10, mpjpe_mm=36.0, mpjpe_se_mm=1.0),  # 4 mm better: beyond it
        ValidationRow(("wifi-csi",), 10, mpjpe_mm=300.0, mpjpe_se_mm=9.0),
    ]

    def pick(live, table=rows):
        return best_subset(table, "mpjpe_mm", True, order, live)

    assert pick(["depth", "lidar"]) == ("lidar",)
    assert pick(["depth", "lidar", "wifi-csi"]) == ("lidar", "wifi-csi")
    # The best set's own standard error sets the tolerance: a wide one lets a smaller set in.
    wide = [*rows[:3], ValidationRow(("lidar", "wifi-csi"), 10, mpjpe_mm=36.0, mpjpe_se_mm=5.0), rows[4]]
    assert pick(["lidar", "wifi-csi"], wide) == ("lidar",)
    # Among the equally small sets within reach, the best score.
    assert pick(["rgb", "lidar", "wifi-csi"], [*wide, ValidationRow(("rgb",), 10, mpjpe_mm=38.0)]) == ("rgb",)
    # Higher-is-better scores use their own standard error.
    accuracy = [ValidationRow(("lidar",), 10, accuracy=0.80, accuracy_se=0.02),
                ValidationRow(("depth", "lidar"), 10, accuracy=0.81, accuracy_se=0.02),
                ValidationRow(("lidar", "wifi-csi"), 10, accuracy=0.90, accuracy_se=0.02)]
    assert best_subset(accuracy, "accuracy", False, order, ["depth", "lidar"]) == ("lidar",)
    assert best_subset(accuracy, "accuracy", False, order, ["lidar", "wifi-csi"]) == ("lidar", "wifi-csi")
    # Without standard errors (model files from before they were measured): the best score as before.
    old = [ValidationRow(r.modalities, r.samples, mpjpe_mm=r.mpjpe_mm) for r in rows]
    assert pick(["depth", "lidar"], old) == ("depth", "lidar")
    # The table round-trips through a model file's dictionaries; old dictionaries load without them.
    assert [ValidationRow.from_dict(r.to_dict()) for r in rows] == rows
    assert ValidationRow.from_dict({"modalities": ["lidar"], "samples": 3, "mpjpe_mm": 40.0}).mpjpe_se_mm is None


def test_corrupt_and_foreign_checkpoints_give_clear_errors(tmp_path):
    cfg = load_config(None, TINY)
    good = tmp_path / "good.pt"
    save_initial_checkpoint(good, cfg, CLASSES)
    data = good.read_bytes()
    cases = {
        "missing.pt": None,
        "truncated.pt": data[: len(data) // 2],
        "garbage.pt": b"definitely not a zip file",
        "empty.pt": b"",
    }
    for name, content in cases.items():
        if content is not None:
            (tmp_path / name).write_bytes(content)
        with pytest.raises(CheckpointError, match=name.split(".")[0] if name == "missing.pt" else "model file"):
            load_checkpoint(tmp_path / name)
    torch.save({"weights": torch.zeros(2)}, tmp_path / "foreign.pt")
    with pytest.raises(CheckpointError, match="not a pta_ros model file"):
        load_checkpoint(tmp_path / "foreign.pt")
    payload = torch.load(good, weights_only=True)
    payload["format_version"] = 99
    torch.save(payload, tmp_path / "future.pt")
    with pytest.raises(CheckpointError, match="version 99"):
        load_checkpoint(tmp_path / "future.pt")


def test_predictor_rejects_garbage_through_preprocessing(tmp_path):
    cfg = load_config(None, TINY)
    predictor = TorchPredictor(save_initial_checkpoint(tmp_path / "m.pt", cfg, CLASSES), "cpu")
    with pytest.raises(InvalidInput) as err:
        predictor.preprocess("lidar", np.full((10, 3), np.nan))
    assert err.value.reason == "empty"
    with pytest.raises(InvalidInput) as err:
        predictor.preprocess("wifi-csi", np.zeros((3, 100, 10)))
    assert err.value.reason == "shape"
    with pytest.raises(ValueError, match="not in the model"):
        predictor.predict({"xrf-rfid": {}})
