"""Generated MM-Fi trees: layout, formats read back through the modality registry and the data layer,
determinism, contamination, resumability, and the rig description."""

from __future__ import annotations

import hashlib
import shutil
from pathlib import Path

import numpy as np
import pytest
import yaml

from pta_core.config import PreprocessConfig
from pta_core.data.mmfi import read_sequence
from pta_core.modalities import get_modality
from pta_core.simulator import (
    RIG_FILENAME,
    MMFiSpec,
    SpecError,
    generate_mmfi,
    parse_contamination,
    read_manifest,
)
from pta_core.simulator.mmfi_sequence import MMFiSequence
from pta_core.simulator.render_keypoints import project_keypoints

FRAMES = 6
SPEC = MMFiSpec(subjects=("S01", "S31"), actions=("A06", "A17"), frames=FRAMES)
MODALITY_FILES = {
    "rgb": ".npy",
    "infra1": ".npy",
    "infra2": ".npy",
    "depth": ".png",
    "lidar": ".bin",
    "mmwave": ".bin",
    "wifi-csi": ".mat",
}


def _digest(root: Path) -> dict[str, str]:
    return {
        str(p.relative_to(root)): hashlib.sha256(p.read_bytes()).hexdigest()
        for p in sorted(root.rglob("*"))
        if p.is_file()
    }


@pytest.fixture(scope="module")
def tree(tmp_path_factory) -> Path:
    root = tmp_path_factory.mktemp("mmfi") / "set"
    summary = generate_mmfi(root, SPEC)
    assert summary.items_written == 4 and summary.frames_written == 4 * FRAMES
    return root


@pytest.mark.slow
def test_layout_follows_mmfi(tree):
    assert sorted(p.name for p in tree.iterdir()) == [RIG_FILENAME, "E01", "E04"]  # S31 → E04
    for env, subject in (("E01", "S01"), ("E04", "S31")):
        for action in ("A06", "A17"):
            seq = tree / env / subject / action
            assert sorted(p.name for p in seq.iterdir()) == sorted([*MODALITY_FILES, "ground_truth.npy"])
            for modality, ext in MODALITY_FILES.items():
                names = sorted(p.name for p in (seq / modality).iterdir())
                assert names == [f"frame{i:03d}{ext}" for i in range(1, FRAMES + 1)]
    assert not list(tree.rglob("*.partial"))


def test_every_file_reads_back_through_the_modality_registry(tree):
    seq = tree / "E01" / "S01" / "A17"
    gt = np.load(seq / "ground_truth.npy")
    assert gt.shape == (FRAMES, 17, 3) and gt.dtype == np.float64
    assert (gt[..., 2] > 1.5).all() and (gt[..., 2] < 4.5).all()  # 2-4 m in front of the camera
    assert (gt[:, 10, 1] < gt[:, 3, 1]).all()  # y down: the head top is above (smaller y) the ankle
    cfg = PreprocessConfig()
    for modality, ext in MODALITY_FILES.items():
        m = get_modality(modality)
        for f in range(1, FRAMES + 1):
            path = seq / modality / f"frame{f:03d}{ext}"
            if path.stat().st_size == 0:
                continue
            raw = m.read_file(path)
            m.preprocess(raw, cfg)  # the one preprocessing path accepts it
            if modality in ("rgb", "infra1", "infra2"):
                assert raw.shape == (17, 2) and raw.dtype == np.float64
                assert (raw[:, 0] >= 0).all() and (raw[:, 0] < 640).all() and (raw[:, 1] < 480).all()
            elif modality == "depth":
                assert raw.shape == (480, 640) and raw.dtype == np.uint16
                person = raw[raw > 0] / 1000.0
                assert person.min() < gt[f - 1, :, 2].min() and person.max() < 8.0
            elif modality == "lidar":
                assert raw.shape[1] == 3 and 100 <= len(raw) <= 2000
            elif modality == "mmwave":
                assert raw.shape[1] == 5 and 1 <= len(raw) <= 128
                assert np.all(np.abs(raw[:, 3]) < 6.0)  # Doppler in m/s
            else:
                assert raw.shape == (3, 114, 10) and np.isfinite(raw).all()


def test_keypoints_are_projections_of_the_ground_truth(tree):
    spec = MMFiSpec(subjects=("S01",), actions=("A17",), frames=FRAMES)
    truth_seq = MMFiSequence(spec, "S01", "A17")
    rig = truth_seq.rig
    truth = project_keypoints(truth_seq.pose, rig.camera, rig.depth_intrinsics)
    stored = np.stack(
        [np.load(tree / "E01/S01/A17/infra1" / f"frame{f:03d}.npy") for f in range(1, FRAMES + 1)]
    )
    assert np.median(np.abs(stored - truth)) < 5.0
    gt_cam = np.load(tree / "E01/S01/A17/ground_truth.npy")
    assert np.allclose(gt_cam, rig.camera.from_rig(truth_seq.pose.joints))
    # COCO wrists (9, 10) are the H36M wrists (13, 16) of the stored ground truth, projected.
    wrists = rig.depth_intrinsics.project(gt_cam[:, [13, 16]])
    assert np.median(np.abs(stored[:, [9, 10]] - wrists)) < 5.0


def test_the_project_data_layer_reads_the_tree(tree):
    seq = read_sequence(tree, "S31", "A06", ["rgb", "depth", "mmwave", "lidar", "wifi-csi"])
    assert seq.environment == "E04" and seq.pose.shape == (FRAMES, 17, 3)
    assert all(len(frames) == FRAMES for frames in seq.raw.values())


@pytest.mark.slow
def test_same_seed_same_bytes_other_seed_other_bytes_and_order_independence(tree, tmp_path):
    again = tmp_path / "again"
    generate_mmfi(again, SPEC, workers=2)
    assert _digest(again) == _digest(tree)
    other = tmp_path / "other"
    generate_mmfi(other, MMFiSpec(subjects=("S01",), actions=("A17",), frames=FRAMES, seed=1))
    seq = "E01/S01/A17/"
    assert all(
        _digest(other)[seq + name] != _digest(tree)[seq + name]
        for name in ("ground_truth.npy", "depth/frame001.png")
    )
    # A sequence does not depend on which other sequences are generated, or their order.
    alone = tmp_path / "alone"
    generate_mmfi(alone, MMFiSpec(subjects=("S31",), actions=("A17",), frames=FRAMES))
    d_alone, d_tree = _digest(alone), _digest(tree)
    assert {k: v for k, v in d_alone.items() if k.startswith("E04")} == {
        k: v for k, v in d_tree.items() if k.startswith("E04/S31/A17")
    }


def test_contaminating_one_modality_degrades_it_and_leaves_the_others(tree, tmp_path):
    spec = MMFiSpec(
        subjects=("S01",),
        actions=("A06", "A17"),
        frames=FRAMES,
        contamination=parse_contamination(["rgb=1.0", "mmwave.dropout=1.0"]),
    )
    root = tmp_path / "dirty"
    summary = generate_mmfi(root, spec)
    assert summary.empty_files["mmwave"] == 2 * FRAMES
    for action in ("A06", "A17"):
        assert all(p.stat().st_size == 0 for p in (root / "E01/S01" / action / "mmwave").iterdir())
        assert _rgb_error(root, spec, action) > 5 * _rgb_error(tree, SPEC, action)
    clean, dirty = _digest(tree), _digest(root)
    for name in ("ground_truth.npy", "depth/frame003.png", "lidar/frame003.bin", "wifi-csi/frame003.mat"):
        assert dirty["E01/S01/A17/" + name] == clean["E01/S01/A17/" + name]
    # An empty radar frame reaches the data layer as an absent modality, not an error.
    seq = read_sequence(root, "S01", "A17", ["mmwave", "rgb"])
    assert len(seq.absent["mmwave"]) == FRAMES and not seq.absent["rgb"]


def _rgb_error(root: Path, spec: MMFiSpec, action: str) -> float:
    """Mean pixel error of the stored rgb keypoints against the true projection."""
    kp = np.stack(
        [np.load(root / "E01/S01" / action / "rgb" / f"frame{f:03d}.npy") for f in range(1, FRAMES + 1)]
    )
    seq = MMFiSequence(spec, "S01", action)
    return float(np.abs(kp - project_keypoints(seq.pose, seq.rig.rgb, seq.rig.rgb_intrinsics)).mean())


def test_rig_file_describes_sensors_and_conventions(tree):
    doc = yaml.safe_load((tree / RIG_FILENAME).read_text())
    assert doc == read_manifest(tree)
    assert doc["dataset"] == "mmfi" and doc["generator"]["frames"] == FRAMES
    assert doc["rig"]["frame_period_s"] == 0.1
    e1 = doc["rig"]["environments"]["E01"]
    assert set(e1["frames"]) >= {"camera_depth_optical_frame", "lidar", "radar", "camera_color_optical_frame"}
    for frame in e1["frames"].values():
        matrix = np.array(frame["matrix"])
        assert np.allclose(matrix @ matrix.T, np.eye(3), atol=1e-6) and len(frame["rotation_xyzw"]) == 4
    assert e1["intrinsics"]["camera_depth_optical_frame"]["width"] == 640
    assert "y down" in doc["conventions"]["ground_truth.npy"]


def test_resume_skips_finished_sequences_and_refuses_other_settings(tmp_path):
    root = tmp_path / "resume"
    spec = MMFiSpec(subjects=("S02",), actions=("A01", "A02"), frames=3, modalities=("rgb", "mmwave"))
    generate_mmfi(root, spec)
    before = _digest(root)
    # Simulate an interrupted run: one sequence lost, a half-written temporary left behind.
    shutil.rmtree(root / "E01/S02/A02")
    (root / "E01/S02/.A02.partial/rgb").mkdir(parents=True)
    (root / "E01/S02/.A02.partial/rgb/frame001.npy").write_bytes(b"garbage")
    summary = generate_mmfi(root, spec)
    assert (summary.items_written, summary.items_skipped) == (1, 1)
    assert _digest(root) == before
    with pytest.raises(SpecError, match="other settings.*frames"):
        generate_mmfi(
            root, MMFiSpec(subjects=("S02",), actions=("A01",), frames=4, modalities=("rgb", "mmwave"))
        )
    foreign = tmp_path / "foreign"
    foreign.mkdir()
    (foreign / "E01").mkdir()
    with pytest.raises(SpecError, match="not empty"):
        generate_mmfi(foreign, spec)


def test_bad_specs_are_refused_with_a_clear_message():
    with pytest.raises(SpecError, match="S41"):
        MMFiSpec(subjects=("S41",))
    with pytest.raises(SpecError, match="A28"):
        MMFiSpec(actions=("A28",))
    with pytest.raises(SpecError, match="frames"):
        MMFiSpec(frames=1)
    with pytest.raises(SpecError, match="modality"):
        MMFiSpec(modalities=("radar",))


def test_a_model_card_gets_the_trees_rig_in_the_nodes_frames(tree, tmp_path, repo_root):
    """training_rig: what training records in the card (the first environment's rig, the frames the
    node reads); nothing for a tree without a rig file."""
    from pta_core.simulator.manifest import ros_transforms, training_rig
    from pta_core.simulator.rig import mmfi_rig

    rig = training_rig(tree)
    assert rig == ros_transforms(mmfi_rig("E01").describe())
    assert {t["child"] for t in rig} == {"sensor_rig", "camera_depth_optical_frame", "camera_color_optical_frame",
                                         "lidar_link", "radar_link", "wifi_rx_link"}
    assert training_rig(tmp_path) == []
