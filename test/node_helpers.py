"""Helpers for the sensing-node tests: a tiny real checkpoint, sensor messages, and a harness that
runs the real node on an executor thread (the one ``main()`` would build; its own rclpy context, so its own DDS
participant) while test publishers and subscribers spin in another context."""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pytest

rclpy = pytest.importorskip("rclpy", reason="rclpy is not installed")
from diagnostic_msgs.msg import DiagnosticArray  # noqa: E402
from geometry_msgs.msg import PoseArray  # noqa: E402
from rclpy.context import Context  # noqa: E402
from rclpy.executors import SingleThreadedExecutor  # noqa: E402
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
    stamp_to_ns,
)
from pta_ros.diagnostics import status_values  # noqa: E402
from pta_ros.inputs import SENSOR_BY_MODALITY, SENSORS  # noqa: E402
from pta_ros.params import SENSOR_FRAMES  # noqa: E402
from pta_ros.sensing_node import SensingNode, make_executor  # noqa: E402
from pta_ros.spinning import SpinThread, close  # noqa: E402

ACTIVITIES = tuple(f"A{i:02d}" for i in range(1, 28))
RELIABLE = QoSProfile(depth=50)


def tiny_config(modalities=MMFI_MODALITIES, preprocess: dict | None = None) -> Config:
    data = to_dict(Config())
    data["model"].update(tokens=4, dim=32, encoder_width=8)
    data["data"]["modalities"] = list(modalities)
    data["data"]["preprocess"].update(preprocess or {})
    return from_dict(Config, data)


def make_checkpoint(path: Path, validation: dict[tuple[str, ...], float] | None = None,
                    preprocess: dict | None = None) -> Path:
    """A randomly initialised tiny model in the real format; ``validation`` maps combinations to MPJPE (mm);
    ``preprocess`` overrides PreprocessConfig fields."""
    save_initial_checkpoint(path, tiny_config(preprocess=preprocess), ACTIVITIES, seed=0)
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


from ros_helpers import DEADLINE_S  # noqa: E402


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
        self._spinner = SpinThread(self.node_executor, name)

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

    def start(self, clock_ns: int | None = None) -> Harness:
        if clock_ns is not None:
            self.publish_clock(clock_ns)
        assert self.node.start(), "the node did not configure and activate"
        self._spinner.start()
        for publisher in self.publishers.values():
            self.wait_for(lambda p=publisher: p.get_subscription_count() > 0, what=f"a subscriber on {publisher.topic_name}")
        if self.clock_pub is not None:
            self.wait_for(lambda: self.clock_pub.get_subscription_count() > 0, what="the node's /clock subscription")
            self.set_clock(clock_ns)
        # Both sides matched, inputs and outputs: a message sent now is not lost to discovery.
        self.wait_for(lambda: not self.node.unmatched_inputs(), what="the node's side to match every input",
                      seen=lambda: f"unmatched {self.node.unmatched_inputs()}")
        subs = [s for s in self.client.subscriptions]
        self.wait_for(lambda: all(s.get_publisher_count() > 0 for s in subs), what="a publisher on every output",
                      seen=lambda: [s.topic_name for s in subs if s.get_publisher_count() == 0])
        return self

    def close(self) -> None:
        """Stop the node's executor thread, then destroy the nodes, then the contexts (pta_ros.spinning)."""
        try:
            close([self._spinner] if self._spinner.running else [], executors=[self.node_executor, self.executor],
                  nodes=[self.node, self.client])
        finally:
            rclpy.try_shutdown(context=self.node_context)
            rclpy.try_shutdown(context=self.test_context)
        assert self._spinner.error is None, f"the node's executor died: {self._spinner.error!r}"

    # -- driving -------------------------------------------------------------------------------

    def spin_for(self, seconds: float) -> None:
        deadline = time.monotonic() + seconds
        while time.monotonic() < deadline:
            self.executor.spin_once(timeout_sec=0.01)

    def wait_for(self, condition, timeout_s: float = DEADLINE_S, what: str = "condition", seen=None) -> None:
        """Spin the test node until ``condition()``; after ``timeout_s`` fail naming what was awaited
        and, with ``seen``, what there was instead."""
        deadline = time.monotonic() + timeout_s
        while not condition():
            if time.monotonic() >= deadline:
                detail = f"; seen: {seen()}" if seen is not None else ""
                raise AssertionError(f"timed out after {timeout_s:g} s waiting for {what}{detail}")
            assert self._spinner.error is None, f"the node's executor died: {self._spinner.error!r}"
            self.executor.spin_once(timeout_sec=0.01)

    def publish(self, modality: str, msg) -> None:
        self.publishers[modality].publish(msg)

    def publish_frame(self, raws: dict[str, np.ndarray], stamp_ns: int, modalities=None) -> None:
        for modality in modalities or raws:
            self.publish(modality, sensor_message(modality, raws[modality], stamp_ns))

    def output_stamps(self) -> list[int]:
        return [stamp_to_ns(s.header.stamp) for s in self.out.skeleton]

    def wait_for_output(self, stamp_ns: int, what: str = "") -> PoseArray:
        """Wait for the skeleton and the ~/inference record stamped ``stamp_ns``; return the skeleton."""
        def found() -> bool:
            return (stamp_ns in {stamp_to_ns(i.header.stamp) for i in self.out.inference}
                    and stamp_ns in self.output_stamps())

        self.wait_for(found, what=f"the output stamped {stamp_ns}{' (' + what + ')' if what else ''}",
                      seen=lambda: f"output stamps {self.output_stamps()[-5:]}")
        return next(s for s in self.out.skeleton if stamp_to_ns(s.header.stamp) == stamp_ns)

    def modalities_of(self, stamp_ns: int) -> str:
        """The modality set ~/inference names for the output stamped ``stamp_ns``."""
        record = next(i for i in self.out.inference if stamp_to_ns(i.header.stamp) == stamp_ns)
        return status_values(record.status[0])["modalities"]

    def publish_clock(self, ns: int) -> None:
        msg = Clock()
        msg.clock.sec, msg.clock.nanosec = divmod(int(ns), 1_000_000_000)
        self.clock_pub.publish(msg)

    def set_clock(self, ns: int) -> None:
        """Sim time: publish /clock until the node's clock reads ``ns`` (a volatile topic: repeat)."""
        def follows() -> bool:
            if self.now_ns() != ns:
                self.publish_clock(ns)
                return False
            return True

        self.wait_for(follows, what=f"the node's clock to read {ns}", seen=lambda: self.now_ns())

    def now_ns(self) -> int:
        return self.node.get_clock().now().nanoseconds

    def change_state(self, transition: int) -> bool:
        """A lifecycle transition through the node's ``change_state`` service, as ``ros2 lifecycle set``
        does: the transition then runs on the node's executor thread, never beside it (destroying the
        subscriptions a spinning executor waits on, from another thread, races it)."""
        from lifecycle_msgs.srv import ChangeState

        client = self.client.create_client(ChangeState, f"{self.node.get_fully_qualified_name()}/change_state")
        try:
            self.wait_for(client.service_is_ready, what="the change_state service")
            request = ChangeState.Request()
            request.transition.id = transition
            future = client.call_async(request)
            self.wait_for(future.done, what=f"the response to transition {transition}")
            return bool(future.result().success)
        finally:
            self.client.destroy_client(client)

    def rejected(self, modality: str, reason: str) -> int:
        return self.node.synchronizer.rejected()[modality].get(reason, 0)

    def wait_rejected(self, modality: str, reason: str, count: int) -> None:
        self.wait_for(lambda: self.rejected(modality, reason) >= count, what=f"{modality} rejected.{reason} ≥ {count}",
                      seen=lambda: self.node.synchronizer.rejected()[modality])
