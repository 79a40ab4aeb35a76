"""radar_to_bag: MARS and RadHAR recordings as ti_mmwave_rospkg would have recorded them, and a MARS
bag replayed through the node (pta_bringup), its skeletons equal to the model's on the same frames."""
from __future__ import annotations

import json
import subprocess
import sys

import numpy as np
import pytest
from radar_trees import write_mars_tree, write_radhar_tree
from rclpy.serialization import deserialize_message
from rosbags.rosbag2 import Reader

from pta_core.checkpoint import save_initial_checkpoint
from pta_core.config import load_config
from pta_core.data import mars as mars_data
from pta_core.data import radhar as radhar_data
from pta_core.data.records import ReadStats
from pta_core.serving import load_predictor
from pta_ros.conversions import posearray_to_numpy, stamp_to_ns
from pta_ros.inputs import DecodeOptions, decode_radar
from pta_ros.tools import radar_bag


def read_bag(path) -> dict[str, list]:
    from diagnostic_msgs.msg import DiagnosticArray
    from geometry_msgs.msg import PoseArray
    from sensor_msgs.msg import PointCloud2

    types = {"sensor_msgs/msg/PointCloud2": PointCloud2, "geometry_msgs/msg/PoseArray": PoseArray,
             "diagnostic_msgs/msg/DiagnosticArray": DiagnosticArray}
    out: dict[str, list] = {}
    with Reader(path) as reader:
        for connection, _, raw in reader.messages():
            out.setdefault(connection.topic, []).append(deserialize_message(bytes(raw), types[connection.msgtype]))
    return out


def test_mars_test_recordings_as_the_driver_publishes_them(tmp_path):
    root = write_mars_tree(tmp_path / "MARS", subjects=(1, 2), movements=(1, 2), frames=20)
    stats = radar_bag.convert(radar_bag.mars_frames(root, "time_split", (), "test"), tmp_path / "bag", velocity=True)
    assert stats.recordings == 4 and stats.frames == 4 * 4  # 20 − ⌈12⌉ − ⌈4⌉ = 4 test frames a movement
    messages = read_bag(tmp_path / "bag")
    clouds, truth = messages[radar_bag.RADAR_TOPIC], messages["/ground_truth/skeleton"]
    assert all(c.header.frame_id == "ti_mmwave" and c.point_step == 32 for c in clouds)
    listing = mars_data.scan_mars(root, ReadStats())[0]
    expected = list(mars_data.part_frames(listing, mars_data.TEST, ReadStats()))
    for cloud, pose, frame in zip(clouds, truth, expected):
        np.testing.assert_allclose(decode_radar(cloud, DecodeOptions()), frame.points, rtol=1e-6, atol=1e-6)
        np.testing.assert_allclose(posearray_to_numpy(pose), frame.joints, atol=1e-6)
        assert pose.header.stamp == cloud.header.stamp
    stamps = np.array([stamp_to_ns(c.header.stamp) for c in clouds])
    assert np.diff(stamps).max() >= radar_bag.GAP_S * 1e9  # recordings apart by more than a window
    with pytest.raises(FileExistsError):
        radar_bag.convert(radar_bag.mars_frames(root, "time_split", (), "test"), tmp_path / "bag")


def test_radhar_recordings_carry_their_activity_and_scan_timing(tmp_path):
    root = write_radhar_tree(tmp_path / "RadHAR", recordings=1, scans=10)
    radar_bag.convert(radar_bag.radhar_frames(root, "test"), tmp_path / "bag")
    messages = read_bag(tmp_path / "bag")
    clouds, truth = messages[radar_bag.RADAR_TOPIC], messages["/ground_truth/activity"]
    assert len(clouds) == len(truth) == 2 * 10
    assert [f.name for f in clouds[0].fields] == ["x", "y", "z", "intensity"]  # no velocity by default
    labels = [{kv.key: kv.value for kv in t.status[0].values} for t in truth]
    assert [label["activity"] for label in labels] == ["boxing"] * 10 + ["walk"] * 10
    assert [int(label["frame"]) for label in labels[:10]] == list(range(10))
    stamps = np.array([stamp_to_ns(c.header.stamp) for c in clouds[:10]])
    assert set(np.diff(stamps).tolist()) == {58_200_000}  # the recording's own scan spacing
    recording = radhar_data.scan_radhar(root, "test", ReadStats())[0]
    first = radhar_data.read_recording(recording, ReadStats())[0]
    np.testing.assert_allclose(decode_radar(clouds[0], DecodeOptions(radar_features=("intensity",)))[:, [0, 1, 2, 4]],
                               first.points[:, [0, 1, 2, 4]], rtol=1e-6, atol=1e-5)


@pytest.mark.slow
def test_a_mars_bag_through_the_node_gives_the_models_skeletons(tmp_path, repo_root, own_domain, children):
    root = write_mars_tree(tmp_path / "MARS", subjects=(1,), movements=(1, 2), frames=30)
    radar_bag.convert(radar_bag.mars_frames(root, "time_split", (), "test"), tmp_path / "bag", velocity=True)
    cfg = load_config(repo_root / "config/train_mars.yaml", ["model.dim=16", "model.tokens=4", "model.encoder_width=8"])
    model = tmp_path / "model.pt"
    save_initial_checkpoint(model, cfg, mars_data.MOVEMENTS)
    params = tmp_path / "params.yaml"
    params.write_text(
        "/**:\n  ros__parameters:\n    output_frame: ti_mmwave\n    frame_ids.radar: ti_mmwave\n"
        "    qos_overrides./ti_mmwave/radar_scan_pcl.subscription.reliability: reliable\n"
        "    qos_overrides./ti_mmwave/radar_scan_pcl.subscription.depth: 50\n")
    proc = children.popen(
        [sys.executable, "-m", "pta_ros.tools.bringup", "--model", str(model), "--bag", str(tmp_path / "bag"),
         "--params-file", str(params), "--radar-topic", "/ti_mmwave/radar_scan_pcl", "--no-static-tf",
         "--evaluate", "--json", str(tmp_path / "summary.json"), "--rate", "0.5"],
        stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    output, _ = proc.communicate(timeout=600)
    assert proc.returncode == 0, output[-4000:]
    summary = json.loads((tmp_path / "summary.json").read_text())
    assert summary["frames_in"] == 2 * 6 and 1 <= summary["frames_out"] == summary["frames_scored"]
    # Offline: the same model on the same frames (the bag's float32 points).
    predictor = load_predictor(model, "torch", "cpu", 1)
    errors = []
    for frame in mars_data.part_frames(mars_data.scan_mars(root, ReadStats())[0], mars_data.TEST, ReadStats()):
        joints = predictor.predict({"mmwave": predictor.preprocess("mmwave", frame.points.astype(np.float32))}).joints
        errors.append(np.abs(joints - frame.joints).mean() * 1000)
    online = summary["per_set"]["mmwave"]["mae_mm"]
    if summary["frames_out"] == summary["frames_in"]:  # every frame answered (a loaded machine may skip some)
        assert online == pytest.approx(float(np.mean(errors)), abs=0.01)
