"""Online evaluation of a running sensing node against a ground-truth skeleton topic.

Subscribes to the node's ``skeleton`` and ``inference`` outputs, the ground truth (``/ground_truth/
skeleton``, as ``mmfi_to_bag`` and ``radar_to_bag`` write it, and ``/ground_truth/activity``, a
DiagnosticArray stamped like the frame with the keys ``activity``, ``recording`` and ``frame``, as
``radar_to_bag`` writes it for RadHAR) and the sensor inputs. Outputs are matched to the ground truth
by header stamp (the node stamps its outputs with the newest input it used; a converted frame has one
stamp for every sensor). Reports online MPJPE / PA-MPJPE / MAE per chosen modality set, activity
accuracy over the frames whose activity window lies inside one recording (``--window``: as offline
evaluation counts windows), frames in and out, output rate, and end-to-end latency = output arrival
− arrival of the last input of that frame, both seen by this process.

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

from pta_core.metrics import MetricAccumulator, mae, mpjpe, pa_mpjpe

MAX_PENDING = 2000  # stamps kept while waiting for their partner messages


@dataclass
class SetScore:
    frames: int = 0
    metrics: MetricAccumulator = field(default_factory=MetricAccumulator)


class OnlineEvaluator:
    """Pairs predictions, their modality sets and ground truth by stamp; accumulates per set."""

    def __init__(self, window: int = 0) -> None:
        self.window = window  # frames an activity window needs (a frame earlier in its recording is not scored)
        self._truth: OrderedDict[int, np.ndarray] = OrderedDict()
        self._activity_truth: OrderedDict[int, str | None] = OrderedDict()  # None: window not yet inside the recording
        self._activity_pred: OrderedDict[int, tuple[str, tuple[str, ...]]] = OrderedDict()
        self._pred: OrderedDict[int, tuple[np.ndarray, float]] = OrderedDict()
        self._sets: OrderedDict[int, tuple[str, ...]] = OrderedDict()
        self._input_arrival: OrderedDict[int, float] = OrderedDict()
        self.scores: dict[tuple[str, ...], SetScore] = {}
        self.activity_scores: dict[tuple[str, ...], SetScore] = {}
        self.frames_in = 0
        self.frames_out = 0  # outputs: ~/inference records (one per output, skeleton or activity alone)
        self.skeletons_in = 0
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

    def on_activity_truth(self, stamp_ns: int, label: str, frame: int) -> None:
        """A frame's true activity and its index in its recording (``frame`` < window − 1: not scored)."""
        self.frames_in += 1
        self._put(self._activity_truth, stamp_ns, label if frame >= self.window - 1 else None)
        self._try_score_activity(stamp_ns)

    def on_prediction(self, stamp_ns: int, joints: np.ndarray) -> None:
        """A ``~/skeleton``."""
        self.skeletons_in += 1
        self._put(self._pred, stamp_ns, np.asarray(joints, dtype=np.float64))
        self._try_score(stamp_ns)

    def on_output(self, stamp_ns: int, modalities: tuple[str, ...], arrival_s: float, activity: str | None = None) -> None:
        """A ``~/inference`` record: one output, the modality set it used, its top activity."""
        self.frames_out += 1
        self.output_times.append(arrival_s)
        arrived = self._input_arrival.get(stamp_ns)
        if arrived is not None:
            self.latencies_s.append(arrival_s - arrived)
        if not self.set_sequence or self.set_sequence[-1][1] != modalities:
            self.set_sequence.append((stamp_ns, modalities))
        self._put(self._sets, stamp_ns, modalities)
        self._try_score(stamp_ns)
        if activity is not None:
            self._put(self._activity_pred, stamp_ns, (activity, modalities))
            self._try_score_activity(stamp_ns)

    # -- matching -------------------------------------------------------------------------------

    @staticmethod
    def _put(store: OrderedDict, key: int, value: object) -> None:
        store[key] = value
        while len(store) > MAX_PENDING:
            store.popitem(last=False)

    def _try_score(self, stamp_ns: int) -> None:
        if stamp_ns in self._truth and stamp_ns in self._pred and stamp_ns in self._sets:
            truth = self._truth.pop(stamp_ns)
            pred = self._pred.pop(stamp_ns)
            modalities = self._sets.pop(stamp_ns)
            self.examples[modalities] = (stamp_ns, pred, truth)
            score = self.scores.setdefault(modalities, SetScore())
            score.frames += 1
            score.metrics.update("mpjpe_mm", mpjpe(pred[None], truth[None], per_sample=True))
            score.metrics.update("pa_mpjpe_mm", pa_mpjpe(pred[None], truth[None], per_sample=True))
            score.metrics.update("mae_mm", mae(pred[None], truth[None], per_sample=True))

    def _try_score_activity(self, stamp_ns: int) -> None:
        if stamp_ns in self._activity_truth and stamp_ns in self._activity_pred:
            truth = self._activity_truth.pop(stamp_ns)
            predicted, modalities = self._activity_pred.pop(stamp_ns)
            if truth is None:
                return
            score = self.activity_scores.setdefault(modalities, SetScore())
            score.frames += 1
            score.metrics.update("accuracy", np.array([float(predicted == truth)]))

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
            for name in ("mpjpe_mm", "pa_mpjpe_mm", "mae_mm"):
                overall.update_mean(name, score.metrics.mean(name), score.frames)
        activity = {
            "+".join(s): {"frames": sc.frames, "accuracy": round(sc.metrics.mean("accuracy"), 4)}
            for s, sc in sorted(self.activity_scores.items(), key=lambda kv: (-kv[1].frames, kv[0]))
        }
        scored = sum(s.frames for s in self.activity_scores.values())
        out: dict = {
            "frames_in": self.frames_in,
            "frames_out": self.frames_out,
            "frames_scored": sum(s.frames for s in self.scores.values()),
            "per_set": per_set,
            "activity": {"frames_scored": scored, "per_set": activity, **({"accuracy": round(
                sum(s.metrics.mean("accuracy") * s.frames for s in self.activity_scores.values()) / scored, 4)}
                if scored else {})},
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
              input_topics: list[str] | None = None, activity_topic: str = "/ground_truth/activity"):
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
        PoseArray, f"{node_ns}/skeleton", lambda m: evaluator.on_prediction(_stamp_ns(m.header), posearray_to_numpy(m)),
        reliable)

    def on_activity_truth(msg: DiagnosticArray) -> None:
        for status in msg.status:
            values = {kv.key: kv.value for kv in status.values}
            if "activity" in values and values.get("frame", "").isdigit():
                evaluator.on_activity_truth(_stamp_ns(msg.header), values["activity"], int(values["frame"]))

    node.create_subscription(DiagnosticArray, activity_topic, on_activity_truth, reliable)

    def on_inference(msg: DiagnosticArray) -> None:
        arrival = time.perf_counter()
        for status in msg.status:
            values = {kv.key: kv.value for kv in status.values}
            if "modalities" in values:
                evaluator.on_output(_stamp_ns(msg.header), tuple(values["modalities"].split("+")), arrival,
                                    values.get("activity"))

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

    from pta_ros.spinning import clean_shutdown

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
        with clean_shutdown():
            while rclpy.ok() and (deadline is None or time.monotonic() < deadline):
                rclpy.spin_once(node, timeout_sec=0.1)
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
