"""Online evaluation of a running sensing node against a ground-truth skeleton topic.

Subscribes to the node's ``skeleton`` and ``inference`` outputs, the ground truth (``/ground_truth/
skeleton``, as ``mmfi_to_bag`` writes it) and the sensor inputs. Outputs are matched to the ground truth
by header stamp (the node stamps its outputs with the newest input it used; a converted MM-Fi frame
has one stamp for every sensor). Reports online MPJPE / PA-MPJPE per chosen modality set, frames in
and out, output rate, and end-to-end latency = skeleton arrival − arrival of the last input of that
frame, both seen by this process.

    online_eval [--node /sensing_node] [--duration S] [--json FILE]
"""
from __future__ import annotations

import argparse
import json
import sys
import time
from collections import OrderedDict
from dataclasses import dataclass, field

import numpy as np

from pta_core.metrics import MetricAccumulator, mpjpe, pa_mpjpe

MAX_PENDING = 2000  # stamps kept while waiting for their partner messages


@dataclass
class SetScore:
    frames: int = 0
    metrics: MetricAccumulator = field(default_factory=MetricAccumulator)


class OnlineEvaluator:
    """Pairs predictions, their modality sets and ground truth by stamp; accumulates per set."""

    def __init__(self) -> None:
        self._truth: OrderedDict[int, np.ndarray] = OrderedDict()
        self._pred: OrderedDict[int, tuple[np.ndarray, float]] = OrderedDict()
        self._sets: OrderedDict[int, tuple[str, ...]] = OrderedDict()
        self._input_arrival: OrderedDict[int, float] = OrderedDict()
        self.scores: dict[tuple[str, ...], SetScore] = {}
        self.frames_in = 0
        self.frames_out = 0
        self.sets_in = 0  # ~/inference records received
        self.latencies_s: list[float] = []
        self.output_times: list[float] = []
        self.set_sequence: list[tuple[int, tuple[str, ...]]] = []  # (first stamp, set) at each switch
        # The latest scored frame per set (stamp, prediction, truth): for pictures of the outputs.
        self.examples: dict[tuple[str, ...], tuple[int, np.ndarray, np.ndarray]] = {}
        # The node's latest /diagnostics counters: why inputs did not become outputs.
        self.node_counters: dict[str, dict[str, int]] = {}

    # -- inputs ---------------------------------------------------------------------------------

    def on_input(self, stamp_ns: int, arrival_s: float) -> None:
        previous = self._input_arrival.get(stamp_ns, arrival_s)
        self._put(self._input_arrival, stamp_ns, max(previous, arrival_s))

    def on_ground_truth(self, stamp_ns: int, joints: np.ndarray) -> None:
        self.frames_in += 1
        self._put(self._truth, stamp_ns, np.asarray(joints, dtype=np.float64))
        self._try_score(stamp_ns)

    def on_prediction(self, stamp_ns: int, joints: np.ndarray, arrival_s: float) -> None:
        self.frames_out += 1
        self.output_times.append(arrival_s)
        arrived = self._input_arrival.get(stamp_ns)
        if arrived is not None:
            self.latencies_s.append(arrival_s - arrived)
        self._put(self._pred, stamp_ns, (np.asarray(joints, dtype=np.float64), arrival_s))
        self._try_score(stamp_ns)

    def on_modality_set(self, stamp_ns: int, modalities: tuple[str, ...]) -> None:
        self.sets_in += 1
        if not self.set_sequence or self.set_sequence[-1][1] != modalities:
            self.set_sequence.append((stamp_ns, modalities))
        self._put(self._sets, stamp_ns, modalities)
        self._try_score(stamp_ns)

    # -- matching -------------------------------------------------------------------------------

    @staticmethod
    def _put(store: OrderedDict, key: int, value: object) -> None:
        store[key] = value
        while len(store) > MAX_PENDING:
            store.popitem(last=False)

    def _try_score(self, stamp_ns: int) -> None:
        if stamp_ns in self._truth and stamp_ns in self._pred and stamp_ns in self._sets:
            truth = self._truth.pop(stamp_ns)
            pred, _ = self._pred.pop(stamp_ns)
            modalities = self._sets.pop(stamp_ns)
            self.examples[modalities] = (stamp_ns, pred, truth)
            score = self.scores.setdefault(modalities, SetScore())
            score.frames += 1
            score.metrics.update("mpjpe_mm", mpjpe(pred[None], truth[None], per_sample=True))
            score.metrics.update("pa_mpjpe_mm", pa_mpjpe(pred[None], truth[None], per_sample=True))

    def on_node_status(self, part: str, values: dict[str, str]) -> None:
        """One status of the node's /diagnostics (``part``: "pipeline" or a modality); keeps the
        outputs, accepted, publishers (matched on the node's side), rejected.* and dropped.* counters
        of the latest report."""
        counters = {
            k: int(v) for k, v in values.items()
            if (k in ("outputs", "accepted", "publishers") or k.startswith(("rejected.", "dropped."))) and v.isdigit()
        }
        if counters:
            self.node_counters[part] = counters

    # -- report ---------------------------------------------------------------------------------

    def summary(self) -> dict:
        per_set = {
            "+".join(s): {"frames": sc.frames, **{k: round(v, 2) for k, v in sc.metrics.compute().items()}}
            for s, sc in sorted(self.scores.items(), key=lambda kv: (-kv[1].frames, kv[0]))
        }
        overall = MetricAccumulator()
        for score in self.scores.values():
            for name in ("mpjpe_mm", "pa_mpjpe_mm"):
                overall.update_mean(name, score.metrics.mean(name), score.frames)
        out: dict = {
            "frames_in": self.frames_in,
            "frames_out": self.frames_out,
            "frames_scored": sum(s.frames for s in self.scores.values()),
            "per_set": per_set,
            "overall": {k: round(v, 2) for k, v in overall.compute().items()},
            "set_switches": max(0, len(self.set_sequence) - 1),
            "set_sequence": ["+".join(s) for _, s in self.set_sequence],
            "node_counters": self.node_counters,
        }
        if len(self.output_times) > 1:
            span = self.output_times[-1] - self.output_times[0]
            out["output_rate_hz"] = round((len(self.output_times) - 1) / span, 2) if span > 0 else None
        if self.latencies_s:
            lat = np.asarray(self.latencies_s) * 1e3
            out["latency_ms"] = {"p50": round(float(np.percentile(lat, 50)), 2),
                                 "p99": round(float(np.percentile(lat, 99)), 2),
                                 "max": round(float(lat.max()), 2), "count": int(lat.size)}
        return out


# ---------------------------------------------------------------------------------------------
# The node


def _stamp_ns(header) -> int:
    return header.stamp.sec * 10**9 + header.stamp.nanosec


def make_node(evaluator: OnlineEvaluator, node_ns: str = "/sensing_node", truth_topic: str = "/ground_truth/skeleton",
              input_topics: list[str] | None = None):
    """An rclpy node feeding ``evaluator``; ``input_topics``: where the node's inputs arrive (default: the
    node's default topics in the root namespace)."""
    from diagnostic_msgs.msg import DiagnosticArray
    from geometry_msgs.msg import PoseArray
    from rclpy.node import Node
    from rclpy.qos import QoSProfile, ReliabilityPolicy, qos_profile_sensor_data

    from pta_ros.conversions import posearray_to_numpy
    from pta_ros.inputs import SENSORS

    node = Node("online_eval")
    reliable = QoSProfile(depth=100, reliability=ReliabilityPolicy.RELIABLE)
    node.create_subscription(PoseArray, truth_topic,
                             lambda m: evaluator.on_ground_truth(_stamp_ns(m.header), posearray_to_numpy(m)), reliable)
    node.create_subscription(
        PoseArray, f"{node_ns}/skeleton",
        lambda m: evaluator.on_prediction(_stamp_ns(m.header), posearray_to_numpy(m), time.perf_counter()), reliable)

    def on_inference(msg: DiagnosticArray) -> None:
        for status in msg.status:
            values = {kv.key: kv.value for kv in status.values}
            if "modalities" in values:
                evaluator.on_modality_set(_stamp_ns(msg.header), tuple(values["modalities"].split("+")))

    node.create_subscription(DiagnosticArray, f"{node_ns}/inference", on_inference, reliable)
    node_name = "/" + node_ns.strip("/")  # statuses are named by the node's fully qualified name

    def on_diagnostics(msg: DiagnosticArray) -> None:
        for status in msg.status:
            owner, _, part = status.name.partition(": ")
            if owner == node_name and part:
                evaluator.on_node_status(part, {kv.key: kv.value for kv in status.values})

    node.create_subscription(DiagnosticArray, "/diagnostics", on_diagnostics, reliable)
    topics = input_topics or ["/" + spec.topic for spec in SENSORS]
    for spec, topic in zip(SENSORS, topics):
        node.create_subscription(spec.msg_type, topic,
                                 lambda m: evaluator.on_input(_stamp_ns(m.header), time.perf_counter()),
                                 qos_profile_sensor_data)
    return node


def main(argv: list[str] | None = None) -> int:
    import rclpy
    from rclpy.executors import ExternalShutdownException

    args_in = sys.argv[1:] if argv is None else argv
    parser = argparse.ArgumentParser(prog="online_eval", description=__doc__.splitlines()[0])
    parser.add_argument("--node", default="/sensing_node", help="the sensing node's namespace + name")
    parser.add_argument("--truth", default="/ground_truth/skeleton", help="ground-truth PoseArray topic")
    parser.add_argument("--duration", type=float, default=0.0, help="stop after S seconds (0: until Ctrl-C)")
    parser.add_argument("--json", help="write the summary (JSON) to this file")
    args = parser.parse_args(rclpy.utilities.remove_ros_args(["online_eval", *args_in])[1:])
    rclpy.init(args=["online_eval", *args_in])
    evaluator = OnlineEvaluator()
    node = make_node(evaluator, args.node, args.truth)
    deadline = time.monotonic() + args.duration if args.duration > 0 else None
    try:
        while rclpy.ok() and (deadline is None or time.monotonic() < deadline):
            rclpy.spin_once(node, timeout_sec=0.1)
    except (KeyboardInterrupt, ExternalShutdownException):
        pass
    finally:
        summary = evaluator.summary()
        print(json.dumps(summary, indent=2))
        if args.json:
            from pathlib import Path

            Path(args.json).write_text(json.dumps(summary, indent=2))
        node.destroy_node()
        if rclpy.ok():
            rclpy.shutdown()
    return 0


if __name__ == "__main__":
    sys.exit(main())
