"""MM-Fi → rosbag2: every message read back equals its source frame; dropouts stay dropouts."""
from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import yaml
from rosbags.highlevel import AnyReader
from rosbags.typesys import Stores, get_typestore

from pta_core.data import mmfi
from pta_core.errors import DataFormatError
from pta_core.simulator import MMFiSpec, generate_mmfi, parse_contamination
from pta_ros.tools import bag

SEQUENCES = [("S01", "A03"), ("S01", "A12")]
FRAMES = 8


@pytest.fixture(scope="module")
def tree(tmp_path_factory) -> Path:
    root = tmp_path_factory.mktemp("mmfi")
    # Radar dropout makes 0-byte frames: they must become missing messages.
    spec = MMFiSpec(subjects=("S01",), actions=("A03", "A12"), frames=FRAMES,
                    contamination=parse_contamination(["mmwave.dropout=0.4"]))
    generate_mmfi(root, spec)
    return root


def read_back(path: Path) -> dict[str, list[tuple[int, object]]]:
    typestore = get_typestore(Stores.ROS2_KILTED)
    out: dict[str, list] = {}
    with AnyReader([path], default_typestore=typestore) as reader:
        for connection, t, raw in reader.messages():
            out.setdefault(connection.topic, []).append((t, reader.deserialize(raw, connection.msgtype)))
    return out


def stamp_ns(msg) -> int:
    return msg.header.stamp.sec * 10**9 + msg.header.stamp.nanosec


@pytest.mark.parametrize("storage, version", [("mcap", 9), ("sqlite3", 8), ("sqlite3", 9)])
def test_round_trip_equals_source_frames(tree, tmp_path, storage, version):
    out = tmp_path / "bag"
    stats = bag.convert(tree, out, SEQUENCES, storage=storage, version=version, progress=False)
    messages = read_back(out)
    frames = list(mmfi.iter_frames(tree, SEQUENCES, bag.FRAME_IDS))
    assert len(frames) == 2 * FRAMES == stats.frames
    index = {topic: {t: msg for t, msg in items} for topic, items in messages.items()}
    radar_missing = 0
    for i, frame in enumerate(frames):
        seq = i // FRAMES
        expected_t = bag.DEFAULT_START_NS + seq * int((FRAMES * 0.1 + bag.SEQUENCE_GAP_S) * 1e9) \
            + int(round((frame.frame - 1) * 0.1 * 1e9))
        gt = index[bag.GROUND_TRUTH_TOPIC][expected_t]
        assert stamp_ns(gt) == expected_t and gt.header.frame_id == bag.GROUND_TRUTH_FRAME
        np.testing.assert_allclose([[p.position.x, p.position.y, p.position.z] for p in gt.poses], frame.pose)
        for modality in bag.FRAME_IDS:
            topic = bag.topic_of(modality)
            msg = index[topic].get(expected_t)
            raw = frame.raw[modality]
            if raw is None:
                assert msg is None, f"{topic} frame {frame.frame} should be missing"
                radar_missing += modality == "mmwave"
                continue
            assert stamp_ns(msg) == expected_t and msg.header.frame_id == bag.FRAME_IDS[modality]
            if modality == "rgb":
                got = np.array([[p.position.x, p.position.y, p.position.z] for p in msg.poses])
                np.testing.assert_allclose(got[:, :2], raw)
                assert (got[:, 2] == 1.0).all()
            elif modality == "depth":
                assert msg.encoding == "16UC1" and (msg.height, msg.width) == raw.shape
                np.testing.assert_array_equal(np.frombuffer(msg.data, "<u2").reshape(raw.shape), raw)
            elif modality in ("mmwave", "lidar"):
                names = [f.name for f in msg.fields]
                assert names == list(bag.RADAR_FIELDS if modality == "mmwave" else bag.LIDAR_FIELDS)
                got = np.frombuffer(msg.data, "<f4").reshape(-1, len(names))
                np.testing.assert_array_equal(got, raw.astype(np.float32))
            else:
                assert msg.encoding == "32FC1" and (msg.height, msg.width) == (342, 10)
                got = np.frombuffer(msg.data, "<f4").reshape(3, 114, 10)
                np.testing.assert_array_equal(got, raw.astype(np.float32))
    assert radar_missing > 0 and stats.absent[bag.topic_of("mmwave")]["empty"] == radar_missing
    # each camera's intrinsics beside its topic, every frame, as the tree's rig gives them
    rig = yaml.safe_load((tree / bag.RIG_FILE).read_text())["rig"]["environments"]["E01"]["intrinsics"]
    for modality, topic in (("depth", "/depth/camera_info"), ("rgb", "/camera/camera_info")):
        infos = [msg for _, msg in messages[topic]]
        assert len(infos) == 2 * FRAMES
        camera = rig[bag.FRAME_IDS[modality]]
        assert (infos[0].width, infos[0].height) == (camera["width"], camera["height"])
        assert list(infos[0].k) == [camera["fx"], 0.0, camera["cx"], 0.0, camera["fy"], camera["cy"], 0.0, 0.0, 1.0]
        assert infos[0].header.frame_id == bag.FRAME_IDS[modality]
    assert len(messages["/tf_static"]) == 2
    frames_in_tf = {t.child_frame_id for t in messages["/tf_static"][0][1].transforms}
    assert set(bag.FRAME_IDS.values()) - {"wifi_rx_link"} <= frames_in_tf


def test_never_overwrites_and_interrupted_conversion_leaves_nothing_complete(tree, tmp_path):
    out = tmp_path / "bag"
    out.mkdir()
    with pytest.raises(FileExistsError):
        bag.convert(tree, out, SEQUENCES, progress=False)
    out.rmdir()
    # Corrupt the last lidar frame of the second sequence: the conversion fails mid-way.
    broken = tmp_path / "broken"
    import shutil

    shutil.copytree(tree, broken)
    victim = sorted((broken / "E01" / "S01" / "A12" / "lidar").glob("frame*.bin"))[-1]
    victim.write_bytes(victim.read_bytes()[:-5])
    with pytest.raises(DataFormatError, match=victim.name):
        bag.convert(broken, out, SEQUENCES, progress=False)
    assert not out.exists() and not list(tmp_path.glob(".bag.partial*"))
    # Lenient: the corrupt frame becomes a missing message and the bag completes.
    stats = bag.convert(broken, out, SEQUENCES, lenient=True, progress=False)
    assert stats.absent[bag.topic_of("lidar")] == {"corrupt": 1}
    assert (out / "metadata.yaml").exists()


def test_cli_reports_bad_arguments(tree, tmp_path, capsys):
    assert bag.main([str(tree), str(tmp_path / "b"), "--subjects", "S99"]) == 2
    assert "unknown subject" in capsys.readouterr().err
    assert bag.main([str(tree), str(tmp_path / "b"), "--subjects", "S40"]) == 2
    assert "none of the" in capsys.readouterr().err
    assert bag.main([str(tree), str(tmp_path / "b"), "--subjects", "S01", "--no-progress"]) == 0
    assert "16 frames" in capsys.readouterr().out


def test_one_rig_for_the_launch_file_and_the_bags(repo_root):
    # config/rig.yaml (static_tf:=true) is the synthetic rig of E01 with exactly the frames the node's
    # inputs expect; a bag's /tf_static (ros_transforms) holds the same frames.
    from pta_core.simulator.manifest import ros_transforms
    from pta_core.simulator.rig import mmfi_rig
    from pta_ros.inputs import SENSORS

    derived = {(t["parent"], t["child"]): t for t in ros_transforms(mmfi_rig("E01").describe())}
    listed = {(t["parent"], t["child"]): t for t in bag.yaml_transforms(repo_root / "config" / "rig.yaml")}
    assert derived.keys() == listed.keys()
    assert {child for _, child in derived} == {spec.frame_id for spec in SENSORS} | {"sensor_rig"}
    for key, t in derived.items():
        np.testing.assert_allclose(t["xyz"], listed[key]["xyz"], atol=1e-6)
        q, r = np.asarray(t["xyzw"]), np.asarray(listed[key]["xyzw"])
        assert min(np.abs(q - r).max(), np.abs(q + r).max()) < 1e-5, key


# What rosbag2's metadata reader decodes (rosbag2_storage yaml.hpp and qos.cpp, branch jazzy; Kilted
# reads the same version-9 layout): the top-level keys by bag version, each topic's keys, and the QoS
# layout (version 9: policies as strings, durations as {sec, nsec}; version 8: one YAML string with
# policies as integers).
JAZZY_BAG_KEYS = {"version", "storage_identifier", "duration", "starting_time", "message_count",
                  "topics_with_message_count", "relative_file_paths", "compression_format",
                  "compression_mode", "files", "custom_data", "ros_distro"}
JAZZY_TOPIC_KEYS = {"name", "type", "serialization_format", "offered_qos_profiles", "type_description_hash"}
JAZZY_QOS_KEYS = {"history", "depth", "reliability", "durability", "deadline", "lifespan", "liveliness",
                  "liveliness_lease_duration", "avoid_ros_namespace_conventions"}


@pytest.mark.parametrize("version", [8, 9])
def test_metadata_has_what_jazzys_rosbag2_reads(tree, tmp_path, version):
    import yaml

    out = tmp_path / "bag"
    bag.convert(tree, out, SEQUENCES[:1], version=version, progress=False)
    info = yaml.safe_load((out / "metadata.yaml").read_text())["rosbag2_bagfile_information"]
    assert info["version"] == version and set(info) >= JAZZY_BAG_KEYS
    typestore = get_typestore(Stores.ROS2_JAZZY)  # type hashes as Jazzy's rclpy reports them
    for entry in info["topics_with_message_count"]:
        topic = entry["topic_metadata"]
        assert set(topic) >= JAZZY_TOPIC_KEYS, topic
        assert topic["type_description_hash"] == typestore.hash_rihs01(topic["type"])
        profiles = topic["offered_qos_profiles"]
        if version == 9:
            assert isinstance(profiles, list) and profiles
            for qos in profiles:
                assert set(qos) >= JAZZY_QOS_KEYS and isinstance(qos["reliability"], str)
                assert set(qos["deadline"]) == {"sec", "nsec"}
        else:
            assert isinstance(profiles, str) and all(isinstance(q["reliability"], int) for q in yaml.safe_load(profiles))
