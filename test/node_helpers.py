"""Helpers for the sensing-node tests: a tiny real checkpoint, sensor messages, and a harness that
runs the real node on an executor thread (the one ``main()`` would build; its own rclpy context, so its own DDS
participant) while test publishers and subscribers spin in another context."""

from __future__ import annotations

import threading
import time
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pytest

rclpy = pytest.importorskip("rclpy", reason="rclpy is not installed")
from diagnostic_msgs.msg import DiagnosticArray  # noqa: E402
from geometry_msgs.msg import PoseArray  # noqa: E402
from rclpy.context import Context  # noqa: E402
from rclpy.executors import ExternalShutdownException, SingleThreadedExecutor  # noqa: E402
from rclpy.parameter import Parameter  # noqa: E402
from rclpy.qos import QoSProfile  # noqa: E402
from rosgraph_msgs.msg import Clock  # noqa: E402
from std_msgs.msg import Float32MultiArray, String  # noqa: E402
from visualization_msgs.msg import MarkerArray  # noqa: E402

from pta_core.checkpoint import load_checkpoint, save_checkpoint, save_initial_checkpoint  # noqa: E402
from pta_core.config import Config, from_dict, to_dict  # noqa: E402
from pta_core.modalities import MMFI_MODALITIES  # noqa: E402
from pta_core.validation import ValidationRow  # noqa: E402
from pta_ros.conversions import (  # noqa: E402
    make_header,
    numpy_to_image,
    numpy_to_pointcloud2,
    numpy_to_posearray,
)
from pta_ros.inputs import SENSOR_BY_MODALITY, SENSORS  # noqa: E402
from pta_ros.params import SENSOR_FRAMES  # noqa: E402
from pta_ros.sensing_node import SensingNode, make_executor  # noqa: E402

ACTIVITIES = tuple(f"A{i:02d}" for i in range(1, 28))
RELIABLE = QoSProfile(depth=50)


def tiny_config(modalities=MMFI_MODALITIES) -> Config:
    data = to_dict(Config())
    data["model"].update(tokens=4, dim=32, encoder_width=8)
    data["data"]["modalities"] = list(modalities)
    return from_dict(Config, data)


def make_checkpoint(path: Path, validation: dict[tuple[str, ...], float] | None = None) -> Path:
    """A randomly initialised tiny model in the real format; ``validation`` maps combinations to MPJPE (mm)."""
    save_initial_checkpoint(path, tiny_config(), ACTIVITIES, seed=0)
    if validation:
        checkpoint = load_checkpoint(path)
        checkpoint.validation = [
            ValidationRow(tuple(k), samples=10, mpjpe_mm=v) for k, v in validation.items()
        ]
        save_checkpoint(path, checkpoint)
    return path


def raw_samples(seed: int = 0) -> dict[str, np.ndarray]:
    """MM-Fi-shaped raw samples (depth at a reduced 120×160 to keep tests quick)."""
    rng = np.random.default_rng(seed)
    return {
        "rgb": np.column_stack([rng.uniform(0, 640, 17), rng.uniform(0, 480, 17), np.ones(17)]),
        "depth": rng.integers(500, 4000, (120, 160)).astype(np.uint16),
        "mmwave": rng.normal(0, 1, (60, 5)).astype(np.float32),
        "lidar": rng.normal(0, 1, (300, 3)).astype(np.float32),
        "wifi-csi": rng.uniform(0, 40, (3, 114, 10)).astype(np.float32),
    }


def sensor_message(modality: str, raw: np.ndarray, stamp_ns: int, frame_id: str | None = None):
    """The ROS message a driver would publish for ``raw`` (frame id: the node's default expectation)."""
    spec = SENSOR_BY_MODALITY[modality]
    header = make_header(stamp_ns, SENSOR_FRAMES[spec.key] if frame_id is None else frame_id)
    if modality == "rgb":
        return numpy_to_posearray(raw, header)
    if modality == "depth":
        return numpy_to_image(raw, "16UC1" if raw.dtype == np.uint16 else "32FC1", header)
    if modality == "mmwave":
        return numpy_to_pointcloud2(raw, ("x", "y", "z", "velocity", "intensity"), header)
    if modality == "lidar":
        return numpy_to_pointcloud2(raw, ("x", "y", "z"), header)
    return numpy_to_image(raw.reshape(342, 10), "32FC1", header)


@dataclass
class Outputs:
    skeleton: list = field(default_factory=list)
    markers: list = field(default_factory=list)
    activity: list = field(default_factory=list)
    scores: list = field(default_factory=list)
    diagnostics: list = field(default_factory=list)
    inference: list = field(default_factory=list)


class Harness:
    """The node under test (own context, executor thread) + a test node (publishers, subscribers)."""

    def __init__(
        self,
        model_path: Path,
        *,
        sim_time: bool = False,
        extra: dict | None = None,
        name: str = "sensing_node",
    ):
        self.node_context = Context()
        self.test_context = Context()
        rclpy.init(context=self.node_context)
        rclpy.init(context=self.test_context)
        overrides = {"model_path": str(model_path), "use_sim_time": sim_time, "rate_hz": 20.0}
        # Reliable inputs in tests (the override mechanism users get): no lost message, no flaky counts.
        for spec in SENSORS:
            overrides[f"qos_overrides./{spec.topic}.subscription.reliability"] = "reliable"
            overrides[f"qos_overrides./{spec.topic}.subscription.depth"] = 50
        overrides.update(extra or {})
        self.node = SensingNode(
            name,
            context=self.node_context,
            parameter_overrides=[Parameter(k, value=v) for k, v in overrides.items()],
        )
        self.node_executor = make_executor(self.node)  # as main() does: executor_threads decides
        self._thread = threading.Thread(target=self._spin_node, daemon=True)
        self.spin_error: BaseException | None = None

        self.client = rclpy.create_node(f"{name}_test_client", context=self.test_context)
        self.executor = SingleThreadedExecutor(context=self.test_context)
        self.executor.add_node(self.client)
        self.publishers = {
            spec.modality: self.client.create_publisher(spec.msg_type, spec.topic, RELIABLE)
            for spec in SENSORS
        }
        self.clock_pub = self.client.create_publisher(Clock, "/clock", RELIABLE) if sim_time else None
        self.out = Outputs()
        ns = f"/{name}"
        self.client.create_subscription(PoseArray, f"{ns}/skeleton", self.out.skeleton.append, RELIABLE)
        self.client.create_subscription(MarkerArray, f"{ns}/markers", self.out.markers.append, RELIABLE)
        self.client.create_subscription(String, f"{ns}/activity", self.out.activity.append, RELIABLE)
        self.client.create_subscription(
            Float32MultiArray, f"{ns}/activity/scores", self.out.scores.append, RELIABLE
        )
        self.client.create_subscription(
            DiagnosticArray, "/diagnostics", self.out.diagnostics.append, RELIABLE
        )
        self.client.create_subscription(DiagnosticArray, f"{ns}/inference", self.out.inference.append, RELIABLE)

    def _spin_node(self) -> None:
        try:
            self.node_executor.spin()
        except ExternalShutdownException:
            pass
        except BaseException as err:  # surfaced by close(): a dead executor must fail the test
            self.spin_error = err

    def start(self, clock_ns: int | None = None) -> Harness:
        if clock_ns is not None:
            self.publish_clock(clock_ns)
        assert self.node.start(), "the node did not configure and activate"
        self._thread.start()
        for publisher in self.publishers.values():
            self.wait_for(lambda p=publisher: p.get_subscription_count() > 0, 15, "node subscriptions")
        if self.clock_pub is not None:
            self.wait_for(lambda: self.clock_pub.get_subscription_count() > 0, 15, "node /clock subscription")
        subs = [s for s in self.client.subscriptions]
        self.wait_for(lambda: all(s.get_publisher_count() > 0 for s in subs), 15, "node outputs")
        return self

    def close(self) -> None:
        self.node_executor.shutdown(timeout_sec=2)
        self.node.destroy_node()
        rclpy.try_shutdown(context=self.node_context)
        self._thread.join(timeout=5)
        self.executor.shutdown()
        self.client.destroy_node()
        rclpy.try_shutdown(context=self.test_context)
        assert self.spin_error is None, f"the node's executor died: {self.spin_error!r}"

    # -- driving -------------------------------------------------------------------------------

    def spin_for(self, seconds: float) -> None:
        deadline = time.monotonic() + seconds
        while time.monotonic() < deadline:
            self.executor.spin_once(timeout_sec=0.01)

    def wait_for(self, condition, timeout_s: float, what: str = "condition") -> None:
        deadline = time.monotonic() + timeout_s
        while not condition():
            assert time.monotonic() < deadline, f"timed out waiting for {what}"
            self.executor.spin_once(timeout_sec=0.01)

    def publish(self, modality: str, msg) -> None:
        self.publishers[modality].publish(msg)

    def publish_frame(self, raws: dict[str, np.ndarray], stamp_ns: int, modalities=None) -> None:
        for modality in modalities or raws:
            self.publish(modality, sensor_message(modality, raws[modality], stamp_ns))

    def publish_clock(self, ns: int) -> None:
        msg = Clock()
        msg.clock.sec, msg.clock.nanosec = divmod(int(ns), 1_000_000_000)
        self.clock_pub.publish(msg)

    def now_ns(self) -> int:
        return self.node.get_clock().now().nanoseconds

    def rejected(self, modality: str, reason: str) -> int:
        return self.node.synchronizer.rejected()[modality].get(reason, 0)

    def wait_rejected(self, modality: str, reason: str, count: int, timeout_s: float = 5.0) -> None:
        self.wait_for(
            lambda: self.rejected(modality, reason) >= count,
            timeout_s,
            f"{modality} rejected.{reason} ≥ {count}",
        )
