"""Bag replay through rclpy: contents, stamps, pacing and /clock, for mcap and sqlite3 bags."""
from __future__ import annotations

import json
import subprocess
import sys

import pytest
from ros_helpers import LineReader, wait_until
from rosbags.rosbag2 import StoragePlugin, Writer
from rosbags.typesys import Stores, get_typestore

rclpy = pytest.importorskip("rclpy")
from geometry_msgs.msg import PoseArray  # noqa: E402
from rclpy.qos import QoSProfile, ReliabilityPolicy  # noqa: E402
from rosgraph_msgs.msg import Clock  # noqa: E402

from pta_ros.tools.replay import BagPlayback, DropWindow  # noqa: E402

TYPESTORE = get_typestore(Stores.ROS2_KILTED)
PERIOD_NS = 50_000_000  # 20 Hz
COUNT = 40
T0 = 1_700_000_000 * 10**9


def write_bag(path, storage):
    PoseArrayT = TYPESTORE.types["geometry_msgs/msg/PoseArray"]
    Pose = TYPESTORE.types["geometry_msgs/msg/Pose"]
    Point = TYPESTORE.types["geometry_msgs/msg/Point"]
    Quat = TYPESTORE.types["geometry_msgs/msg/Quaternion"]
    Header = TYPESTORE.types["std_msgs/msg/Header"]
    Time = TYPESTORE.types["builtin_interfaces/msg/Time"]
    with Writer(path, version=9, storage_plugin=storage) as writer:
        conn = writer.add_connection("camera/keypoints", "geometry_msgs/msg/PoseArray", typestore=TYPESTORE)
        tf = writer.add_connection("/tf_static", "tf2_msgs/msg/TFMessage", typestore=TYPESTORE)
        writer.write(tf, T0, TYPESTORE.serialize_cdr(TYPESTORE.types["tf2_msgs/msg/TFMessage"](transforms=[]),
                                                     "tf2_msgs/msg/TFMessage"))
        for i in range(COUNT):
            t = T0 + i * PERIOD_NS
            poses = [Pose(position=Point(x=float(i), y=float(j), z=1.0), orientation=Quat(x=0.0, y=0.0, z=0.0, w=1.0))
                     for j in range(17)]
            msg = PoseArrayT(header=Header(stamp=Time(sec=t // 10**9, nanosec=t % 10**9), frame_id="camera"), poses=poses)
            writer.write(conn, t, TYPESTORE.serialize_cdr(msg, "geometry_msgs/msg/PoseArray"))


def test_playback_reads_topics_and_rejects_unknown(tmp_path):
    write_bag(tmp_path / "bag", StoragePlugin.MCAP)
    with BagPlayback(tmp_path / "bag", ["camera/keypoints"], start_offset_s=1.0) as playback:
        messages = list(playback.messages())
    assert len(messages) == COUNT - 20  # the first second (20 messages at 20 Hz) is skipped
    with pytest.raises(ValueError, match="not in"):
        BagPlayback(tmp_path / "bag", ["no/such/topic"])
    with pytest.raises(FileNotFoundError):
        BagPlayback(tmp_path / "missing")


@pytest.mark.slow
@pytest.mark.parametrize("storage", [StoragePlugin.MCAP, StoragePlugin.SQLITE3])
def test_replay_node_publishes_paced_messages_and_clock(tmp_path, storage, own_domain, children):
    """Every message, in order, never before its time, with /clock. How closely the schedule is kept
    depends on the machine: bench/bench_bag.py measures it."""
    bag = tmp_path / "bag"
    write_bag(bag, storage)
    rclpy.init()
    try:
        node = rclpy.create_node("replay_sink")
        got: list[PoseArray] = []
        clocks: list[int] = []
        # Reliable (the replay publishes reliably): a best-effort reader may lose messages on a busy machine.
        node.create_subscription(PoseArray, "camera/keypoints", got.append,
                                 QoSProfile(depth=100, reliability=ReliabilityPolicy.RELIABLE))
        node.create_subscription(Clock, "/clock", lambda m: clocks.append(m.clock.sec * 10**9 + m.clock.nanosec), 10)
        executor = rclpy.executors.SingleThreadedExecutor()
        executor.add_node(node)
        proc = children.popen(
            [sys.executable, "-m", "pta_ros.tools.replay_node", str(bag), "--wait-for-subscribers", "60",
             "--stats", str(tmp_path / "stats.json"), "--drop", "camera/keypoints:0.5:1.0"],
            stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
        )
        kept = [i for i in range(COUNT) if not 10 <= i < 20]  # 0.5 s..1.0 s withheld at 20 Hz
        output = LineReader(proc.stdout)
        wait_until(executor, lambda: proc.poll() is not None and len(got) >= len(kept), "the replay to finish",
                   seen=lambda: f"exit {proc.poll()}, {len(got)} messages, output {output.text()[-500:]}")
        assert proc.returncode == 0, output.finish()
        assert "skipping /tf_static" in output.finish()  # tf2_msgs has no wheel: skipped, not a crash
        assert [int(m.poses[0].position.x) for m in got] == kept
        for i, msg in zip(kept, got):
            assert len(msg.poses) == 17
            assert msg.header.stamp.sec * 10**9 + msg.header.stamp.nanosec == T0 + i * PERIOD_NS
        stats = json.loads((tmp_path / "stats.json").read_text())
        assert stats["lateness_ms_min"] >= 0.0 and stats["dropped"] == {"camera/keypoints": 10}
        # /clock follows bag time and never runs ahead of the last message.
        assert clocks and min(clocks) >= T0 and max(clocks) <= T0 + (COUNT - 1) * PERIOD_NS
        assert clocks == sorted(clocks)
        executor.shutdown()
        node.destroy_node()
    finally:
        rclpy.shutdown()


@pytest.mark.slow
def test_a_paused_replay_plays_when_started(tmp_path, own_domain, children):
    """--start-paused: the publishers exist and match, nothing is published until a std_msgs/Empty
    arrives on /replay_node/start (transient-local: a start sent before the replay subscribed still arrives)."""
    from rclpy.qos import DurabilityPolicy
    from std_msgs.msg import Empty

    bag = tmp_path / "bag"
    write_bag(bag, StoragePlugin.MCAP)
    rclpy.init()
    try:
        node = rclpy.create_node("replay_starter")
        got: list[PoseArray] = []
        sub = node.create_subscription(PoseArray, "camera/keypoints", got.append,
                                       QoSProfile(depth=100, reliability=ReliabilityPolicy.RELIABLE))
        executor = rclpy.executors.SingleThreadedExecutor()
        executor.add_node(node)
        proc = children.popen(
            [sys.executable, "-m", "pta_ros.tools.replay_node", str(bag), "--wait-for-subscribers", "60",
             "--start-paused", "--no-clock"],
            stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
        )
        output = LineReader(proc.stdout)
        paused = "paused: publish std_msgs/msg/Empty on /replay_node/start to play"
        # Paused with both sides matched: were it playing, messages would flow now.
        wait_until(executor, lambda: paused in output.text() and sub.get_publisher_count() > 0,
                   "the replay to pause, matched", seen=output.text)
        assert proc.poll() is None and got == []
        latched = QoSProfile(depth=1, reliability=ReliabilityPolicy.RELIABLE, durability=DurabilityPolicy.TRANSIENT_LOCAL)
        node.create_publisher(Empty, "/replay_node/start", latched).publish(Empty())
        wait_until(executor, lambda: proc.poll() is not None and len(got) >= COUNT, "the replay to play and finish",
                   seen=lambda: f"exit {proc.poll()}, {len(got)} messages")
        assert proc.returncode == 0, output.finish()
        assert [int(m.poses[0].position.x) for m in got] == list(range(COUNT))
        executor.shutdown()
        node.destroy_node()
    finally:
        rclpy.shutdown()


def test_drop_window_parsing():
    window = DropWindow.parse("/radar/points:5:12.5")
    assert window == DropWindow("/radar/points", 5.0, 12.5)
    assert window.drops("/radar/points", 5.0) and not window.drops("/radar/points", 12.5)
    assert not window.drops("/lidar/points", 6.0)
    for bad in ("radar", "/radar/points:5", "/radar/points:9:3", ":1:2", "/r:a:b"):
        with pytest.raises(ValueError):
            DropWindow.parse(bad)


def test_replay_node_reports_missing_bag(tmp_path):
    proc = subprocess.run([sys.executable, "-m", "pta_ros.tools.replay_node", str(tmp_path / "nope")],
                          capture_output=True, text=True, timeout=60)
    assert proc.returncode == 2 and "bag not found" in proc.stderr
