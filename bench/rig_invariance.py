"""Rig invariance: the held-out bag with its LiDAR and radar mounted elsewhere gives the same skeletons.

    python bench/rig_invariance.py [--model models/pta_bench_clean.pt] [--work out/rig_invariance]
                                   [--out docs/results/rig_invariance]

1. The demo's held-out bag (pta_ros.tools.demo: subject S08, actions A03 A12 A17 A26, 12 frames
   0.25 s apart), generated and converted into ``--work`` unless there.
2. A moved copy: the LiDAR cloud re-expressed in ``velodyne``, turned 30° about z and shifted 0.5 m
   from ``lidar_link``; the radar cloud in ``ti_mmwave``, turned 30° about y and shifted 0.5 m from
   ``radar_link``. Its /tf_static carries the two frames; ``moved_rig.yaml`` places them in
   ``sensor_rig`` (the node's ``rig_file``).
3. Each bag driven through the node's pipeline (pta_ros.pipeline: the node's code without DDS, its
   clock the bag's time), one step per frame: the original; the moved copy with the rig YAML; with
   the bag's /tf_static as the transforms (what tf2 would hand the node); with no transform.

Writes ``summary.md`` and ``summary.json`` to ``--out``. Target (issue 29): skeletons equal the
original's within 1e-4 m; without the transforms none of those inputs reaches a skeleton, and the
reason is in the report.
"""
from __future__ import annotations

import argparse
import json
import sys
from collections import Counter
from pathlib import Path

import numpy as np
import yaml
from rclpy.serialization import deserialize_message, serialize_message
from rosbags.rosbag2 import Reader, Writer

from pta_core.torch_predictor import TorchPredictor
from pta_ros.conversions import numpy_to_pointcloud2, pointcloud2_to_numpy
from pta_ros.frames import Extrinsics, RigEdge, RigGraph, input_extrinsics, pose_matrix, transform_points
from pta_ros.inputs import SENSORS, DecodeOptions
from pta_ros.params import SENSOR_FRAMES
from pta_ros.pipeline import InputOptions, SensingPipeline
from pta_ros.sync import SyncPolicy
from pta_ros.tools import bag, demo
from pta_ros.tools.replay import resolve_message_class

REPO = Path(__file__).resolve().parents[1]
# modality → (the model's frame, the moved mount's frame, T(model frame ← moved frame))
MOVED = {
    "lidar": ("lidar_link", "velodyne", pose_matrix((0.5, 0.0, 0.0), rpy=(0.0, 0.0, np.radians(30)))),
    "mmwave": ("radar_link", "ti_mmwave", pose_matrix((0.0, 0.5, 0.0), rpy=(0.0, np.radians(30), 0.0))),
}
TOPIC_SENSOR = {bag.topic_of(s.modality): s for s in SENSORS}


def held_out_bag(work: Path) -> Path:
    """The demo's held-out bag (made here if ``work`` lacks it)."""
    root, bag_dir = work / "data", work / "held_out.mcap"
    if not bag_dir.exists():
        from pta_core.simulator import MMFiSpec, generate_mmfi

        spec = MMFiSpec(subjects=(demo.TEST_SUBJECT,), actions=demo.BAG_ACTIONS, frames=demo.FRAMES,
                        frame_period=demo.FRAME_PERIOD, modalities=demo.MODALITIES)
        generate_mmfi(root, spec, workers=1)
        bag.convert(root, bag_dir, [(demo.TEST_SUBJECT, a) for a in demo.BAG_ACTIONS],
                    frame_period_s=demo.FRAME_PERIOD, progress=False)
    return bag_dir


def tf_edges(tf) -> list[RigEdge]:
    """A tf2_msgs/TFMessage's transforms."""
    edges = []
    for t in tf.transforms:
        q, v = t.transform.rotation, t.transform.translation
        edges.append(RigEdge(t.header.frame_id, t.child_frame_id, pose_matrix((v.x, v.y, v.z), xyzw=(q.x, q.y, q.z, q.w))))
    return edges


def bag_transforms(path: Path) -> list[RigEdge]:
    """The transforms a bag's /tf_static carries."""
    with Reader(path) as reader:
        return [edge for connection, _, raw in reader.messages([c for c in reader.connections if c.topic == bag.TF_STATIC_TOPIC])
                for edge in tf_edges(bag.TYPESTORE.deserialize_cdr(raw, connection.msgtype))]


def write_moved_bag(source: Path, out: Path, rig_file: Path) -> None:
    """``source`` with the LiDAR and radar clouds in the moved frames, /tf_static extended with them,
    and the rig YAML that places them in sensor_rig."""
    if out.exists():
        return
    original = RigGraph(bag_transforms(source))
    moved_edges = [{"parent": "sensor_rig", "child": frame,
                    **RigEdge("sensor_rig", frame, original.lookup("sensor_rig", model) @ move).describe()}
                   for model, frame, move in MOVED.values()]
    rig_file.write_text(yaml.safe_dump({"transforms": [{k: e[k] for k in ("parent", "child", "xyz", "xyzw")}
                                                      for e in moved_edges]}, sort_keys=False))
    moved_topics = {bag.topic_of(m): (frame, np.linalg.inv(move)) for m, (_, frame, move) in MOVED.items()}
    with Reader(source) as reader, Writer(out, version=9) as writer:
        connections = {c.id: writer.add_connection(c.topic, c.msgtype, typestore=bag.TYPESTORE,
                                                   offered_qos_profiles=c.ext.offered_qos_profiles)
                       for c in reader.connections}
        for connection, time_ns, raw in reader.messages():
            if connection.topic in moved_topics:
                frame, to_moved = moved_topics[connection.topic]
                msg = deserialize_message(bytes(raw), TOPIC_SENSOR[connection.topic].msg_type)
                names = [f.name for f in msg.fields]
                points = pointcloud2_to_numpy(msg, names)
                msg = numpy_to_pointcloud2(transform_points(points, to_moved), names, msg.header)
                msg.header.frame_id = frame
                raw = serialize_message(msg)
            elif connection.topic == bag.TF_STATIC_TOPIC:
                tf = bag.TYPESTORE.deserialize_cdr(raw, connection.msgtype)
                stamp = tf.transforms[0].header.stamp
                raw = bag.tf_static_message([*(e.describe() for e in tf_edges(tf)), *moved_edges],
                                            stamp.sec * 10**9 + stamp.nanosec)
            writer.write(connections[connection.id], time_ns, raw)


class BagClock:
    def __init__(self) -> None:
        self.now_ns = 0

    def __call__(self) -> int:
        return self.now_ns


def drive(path: Path, predictor, extrinsics: Extrinsics, sensors=SENSORS, edit=None) -> dict:
    """The bag's sensor messages through the node's pipeline, one step after each frame's messages.
    ``sensors``: the inputs the node has; ``edit(topic, msg)``: the message a driver would send instead."""
    clock = BagClock()
    decode = DecodeOptions(radar_features=tuple(predictor.preprocess_config.mmwave_features))
    options = InputOptions(frame_ids=dict(SENSOR_FRAMES), decode=decode, extrinsics=extrinsics)
    pipeline = SensingPipeline(predictor, tuple(sensors), SyncPolicy(), clock, options)
    topics = {bag.topic_of(s.modality): s for s in sensors}
    outputs, rejections = {}, Counter()
    with Reader(path) as reader:
        frame_ns = None
        for connection, time_ns, raw in reader.messages([c for c in reader.connections if c.topic in topics]):
            if frame_ns is not None and time_ns != frame_ns:
                step(pipeline, outputs)
            clock.now_ns = frame_ns = time_ns
            sensor = topics[connection.topic]
            msg = deserialize_message(bytes(raw), resolve_message_class(connection.msgtype))
            rejection = pipeline.on_message(sensor, msg if edit is None else edit(connection.topic, msg))
            if rejection is not None:
                rejections[f"{sensor.modality}: {rejection.reason}"] += 1
        step(pipeline, outputs)
    report = pipeline.report("/sensing_node", lambda topic: "/" + topic, 2.0, 0.1)
    return {"outputs": outputs, "rejections": dict(rejections),
            "reasons": {s.modality: s.last_rejection for s in report.sensors if s.last_rejection},
            "frames": {s.modality: s.frame for s in report.sensors if s.frame},
            "notes": {s.modality: s.note for s in report.sensors if s.note}}


def step(pipeline: SensingPipeline, outputs: dict) -> None:
    result = pipeline.step()
    if result.output is not None:
        outputs[result.output.stamp_ns] = (pipeline.chosen, result.output.prediction.joints.copy())


def compare(reference: dict, run: dict) -> dict:
    common = sorted(set(reference["outputs"]) & set(run["outputs"]))
    diffs = [float(np.abs(run["outputs"][s][1] - reference["outputs"][s][1]).max()) for s in common]
    same_set = sum(run["outputs"][s][0] == reference["outputs"][s][0] for s in common)
    moved = {"lidar", "mmwave"}
    return {"outputs": len(run["outputs"]), "compared": len(common), "same_set": same_set,
            "max_abs_diff_m": max(diffs) if diffs else None,
            "outputs_using_moved_sensors": sum(bool(moved & set(chosen)) for chosen, _ in run["outputs"].values()),
            "rejections": run["rejections"], "reasons": run["reasons"], "frames": run["frames"]}


def markdown(summary: dict) -> str:
    lines = ["# Rig invariance: the held-out bag with the LiDAR and radar mounted elsewhere", "",
             "`python bench/rig_invariance.py` (the node's pipeline without DDS, one step per frame; model "
             f"`{summary['model']}`). The LiDAR is re-expressed in `velodyne` (30° about z, 0.5 m along x from "
             "`lidar_link`), the radar in `ti_mmwave` (30° about y, 0.5 m along y from `radar_link`).", "",
             f"The original bag: {summary['original_outputs']} skeletons.", "",
             "| run | skeletons | compared | same set | max |Δ joint| (m) | skeletons using LiDAR or radar | rejections |",
             "|---|---|---|---|---|---|---|"]
    for name, r in summary["runs"].items():
        diff = "–" if r["max_abs_diff_m"] is None else f"{r['max_abs_diff_m']:.2e}"
        rejected = ", ".join(f"{k} ×{v}" for k, v in sorted(r["rejections"].items())) or "none"
        lines.append(f"| {name} | {r['outputs']} | {r['compared']} | {r['same_set']} | {diff} | "
                     f"{r['outputs_using_moved_sensors']} | {rejected} |")
    lines += ["", "What /diagnostics says for each input (the sensor status's `frame` and `last_rejection`):", ""]
    for name, r in summary["runs"].items():
        for modality in ("lidar", "mmwave"):
            lines.append(f"- {name}, {modality}: frame `{r['frames'].get(modality, '–')}`"
                         + (f"; last rejection: {r['reasons'][modality]}" if modality in r["reasons"] else ""))
    return "\n".join(lines) + "\n"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="rig_invariance", description=__doc__.splitlines()[0])
    parser.add_argument("--model", type=Path, default=REPO / "models" / demo.SHIPPED_MODEL)
    parser.add_argument("--work", type=Path, default=REPO / "out" / "rig_invariance")
    parser.add_argument("--out", type=Path, default=REPO / "docs" / "results" / "rig_invariance")
    args = parser.parse_args(argv)
    if not args.model.is_file():
        print(f"rig_invariance: no model at {args.model}", file=sys.stderr)
        return 2
    args.work.mkdir(parents=True, exist_ok=True)
    original = held_out_bag(args.work)
    moved, rig_file = args.work / "moved.mcap", args.work / "moved_rig.yaml"
    write_moved_bag(original, moved, rig_file)
    predictor = TorchPredictor.from_checkpoint(args.model, "cpu", threads=1)
    card_rig = predictor.card.rig
    reference = drive(original, predictor, input_extrinsics(card_rig))
    tf = RigGraph(bag_transforms(moved))
    runs = {
        "moved, rig YAML (rig_file)": drive(moved, predictor, input_extrinsics(card_rig, rig_file)),
        "moved, the bag's /tf_static": drive(moved, predictor, input_extrinsics(card_rig, "", tf.lookup)),
        "moved, no transform": drive(moved, predictor, input_extrinsics(card_rig)),
    }
    summary = {"model": str(args.model.relative_to(REPO) if args.model.is_relative_to(REPO) else args.model),
               "original_outputs": len(reference["outputs"]),
               "runs": {name: compare(reference, run) for name, run in runs.items()}}
    args.out.mkdir(parents=True, exist_ok=True)
    (args.out / "summary.json").write_text(json.dumps(summary, indent=2))
    text = markdown(summary)
    (args.out / "summary.md").write_text(text)
    print(text)
    return 0


if __name__ == "__main__":
    sys.exit(main())
