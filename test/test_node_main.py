"""The node as users start it (`python -m pta_ros.sensing_node --ros-args ...`): start-up errors are one
clear line and a non-zero exit; a good start serves another process over DDS and Ctrl-C exits 0."""

from __future__ import annotations

import os
import signal
import subprocess
import sys

import pytest
from node_helpers import make_checkpoint, raw_samples, sensor_message
from ros_helpers import wait_for_match, wait_until

rclpy = pytest.importorskip("rclpy")
from diagnostic_msgs.msg import DiagnosticArray  # noqa: E402
from geometry_msgs.msg import PoseArray  # noqa: E402
from rclpy.qos import QoSProfile, ReliabilityPolicy, qos_profile_sensor_data  # noqa: E402

from pta_ros.conversions import stamp_to_ns  # noqa: E402
from pta_ros.diagnostics import status_values  # noqa: E402
from pta_ros.inputs import SENSORS  # noqa: E402


def run_node(children, repo_root, *ros_args: str) -> subprocess.Popen:
    env = dict(os.environ, PYTHONUNBUFFERED="1")
    return children.popen(
        [sys.executable, "-m", "pta_ros.sensing_node", "--ros-args", *ros_args],
        cwd=repo_root,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )


def failed_start(children, repo_root, *ros_args: str) -> str:
    proc = run_node(children, repo_root, *ros_args)
    output, _ = proc.communicate(timeout=60)
    assert proc.returncode == 1, output
    assert "Traceback" not in output, output
    errors = [line for line in output.splitlines() if "[ERROR]" in line]
    assert len(errors) == 1, output
    return errors[0]


@pytest.mark.slow
def test_missing_model_file_is_one_clear_error(repo_root, tmp_path, children):
    missing = tmp_path / "nope.pt"
    line = failed_start(children, repo_root, "-p", f"model_path:={missing}")
    assert "model file not found" in line and str(missing) in line


@pytest.mark.slow
def test_corrupt_model_file_is_one_clear_error(repo_root, tmp_path, children):
    corrupt = tmp_path / "corrupt.pt"
    corrupt.write_bytes(os.urandom(4096))
    line = failed_start(children, repo_root, "-p", f"model_path:={corrupt}")
    assert "cannot load the model" in line and str(corrupt) in line


@pytest.mark.slow
def test_invalid_parameter_is_one_clear_error(repo_root, tmp_path, children):
    model = make_checkpoint(tmp_path / "model.pt")
    line = failed_start(children, repo_root, "-p", f"model_path:={model}", "-p", "rate_hz:=5000.0")
    assert "rate_hz" in line and "out of range" in line


@pytest.mark.slow
def test_serves_another_process_and_exits_cleanly_on_ctrl_c(repo_root, tmp_path, own_domain, children):
    model = make_checkpoint(tmp_path / "model.pt")
    proc = run_node(
        children, repo_root, "--params-file", str(repo_root / "config" / "sensing.yaml"), "-p", f"model_path:={model}",
        "-p", "max_age_s:=10.0",  # wall-clock stamps: a loaded machine must not turn a frame stale in transit
    )
    rclpy.init()
    try:
        node = rclpy.create_node("main_test_client")
        executor = rclpy.executors.SingleThreadedExecutor()
        executor.add_node(node)
        skeletons: list[PoseArray] = []
        diagnostics: list[DiagnosticArray] = []
        node.create_subscription(PoseArray, "/sensing_node/skeleton", skeletons.append, QoSProfile(depth=10))
        node.create_subscription(DiagnosticArray, "/diagnostics", diagnostics.append, QoSProfile(depth=10))
        publishers = {
            s.modality: node.create_publisher(s.msg_type, s.topic, qos_profile_sensor_data) for s in SENSORS
        }
        for publisher in publishers.values():
            wait_for_match(executor, publisher)

        def unmatched() -> list[str]:  # the node's side, from its /diagnostics (best-effort inputs lose
            # what arrives before the node has matched their publisher)
            if not diagnostics:
                return ["(no report yet)"]
            return [s.name for s in diagnostics[-1].status
                    if status_values(s).get("publishers", "1") == "0"]

        wait_until(executor, lambda: not unmatched(), "the node to match every input", seen=unmatched)
        def endpoints() -> list:  # named once the node's discovery info has arrived
            return [e for e in node.get_subscriptions_info_by_topic("/depth/image_raw") if e.node_name == "sensing_node"]

        wait_until(executor, lambda: endpoints(), "the node's /depth/image_raw endpoint in the graph")
        (endpoint,) = endpoints()
        assert endpoint.qos_profile.reliability == ReliabilityPolicy.BEST_EFFORT  # sensor-data default
        stamps = []
        for k in range(5):  # each frame once the previous one's skeleton is in, further apart than slop_s
            stamp = max(node.get_clock().now().nanoseconds, stamps[-1] + 10**8 if stamps else 0)
            stamps.append(stamp)
            for modality, publisher in publishers.items():
                publisher.publish(sensor_message(modality, raw_samples(k)[modality], stamp))
            wait_until(executor, lambda stamp=stamp: stamp in {stamp_to_ns(s.header.stamp) for s in skeletons},
                       f"the skeleton of frame {k}", seen=lambda: [stamp_to_ns(s.header.stamp) for s in skeletons])
        assert [stamp_to_ns(s.header.stamp) for s in skeletons] == stamps
        executor.shutdown()
        node.destroy_node()
    finally:
        rclpy.shutdown()
    proc.send_signal(signal.SIGINT)
    output, _ = proc.communicate(timeout=60)
    assert proc.returncode == 0, output
    assert "Traceback" not in output, output


def test_help_lists_parameters_without_a_ros_graph():
    import subprocess
    import sys

    result = subprocess.run([sys.executable, "-m", "pta_ros.sensing_node", "--help"], capture_output=True,
                            text=True, timeout=60)
    assert result.returncode == 0
    assert "usage: sensing_node --ros-args" in result.stdout
    for name in ("model_path", "slop_s", "max_age_s", "output_frame", "frame_ids.lidar"):
        assert f"  {name} = " in result.stdout
