"""Where the sensing node's time goes, stage by stage, in one process without DDS transport.

For MM-Fi-sized inputs (``bench_node_lib.mmfi_sized_raws``) it times what the node does per frame:
the input message's deserialisation (rclpy's C conversion into a Python message, as a subscription
does), decode (message → array), the training preprocessing, synchronisation (add every sensor,
match, commit), the prediction on the chosen backend, and building + publishing the outputs
(skeleton, markers, activity, inference record) on an active lifecycle node. Median and p99 over
``--iters`` frames after ``--warmup``; one JSON line.

With live quality on (the node's default; ``--quality-tolerance 0`` turns it off) the frame's live
sensors are encoded once (``encode``), ``live quality`` is each sensor's own readout (one batched
decode), the scores and the hysteresis, and ``predict`` reuses the encodings for the set served.

The inputs' geometry (pta_ros.frames, pta_ros.intrinsics) is timed as ``geometry <m>`` and summed
per frame as ``geometry total``: the transform lookup and, with ``--robot``, the clouds re-expressed
from moved mounts (a rig YAML) and the depth of an 848×480 camera resampled into the model's.

    python bench/profile_node_stages.py --model models/pta_bench_clean.pt
    python bench/profile_node_stages.py --model out/onnx_bench_clean --backend onnxruntime --threads 1
"""

from __future__ import annotations

import argparse
import contextlib
import json
import sys
import tempfile
import time
from collections import defaultdict
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))
import rclpy
from bench_node_lib import ALL, _message, load_average, mmfi_sized_raws
from rclpy.lifecycle import LifecycleNode
from rclpy.serialization import deserialize_message, serialize_message

from pta_core.live_quality import LiveQuality, QualityPolicy, served_choice
from pta_core.serving import load_predictor
from pta_ros.conversions import make_header
from pta_ros.frames import Extrinsics, input_extrinsics, transform_points
from pta_ros.inputs import SENSOR_BY_MODALITY, DecodeOptions
from pta_ros.intrinsics import (
    DepthResampler,
    Pinhole,
    keypoints_to_model,
    model_depth_camera,
    model_rgb_camera,
)
from pta_ros.markers import MarkerStyle
from pta_ros.outputs import OutputPublishers
from pta_ros.params import SENSOR_FRAMES
from pta_ros.sync import Synchronizer, SyncPolicy

MS = 1e3


def robot_geometry(predictor, raws: dict) -> tuple[Extrinsics, dict[str, str], dict[str, Pinhole]]:
    """A robot's inputs: LiDAR and radar in frames turned 30° and shifted 0.5 m (a rig YAML, the node's
    rig_file, gives them), depth from an 848×480 camera (``raws`` gets its image)."""
    rig_file = Path(tempfile.mkdtemp()) / "robot_rig.yaml"
    rig_file.write_text("transforms:\n"
                        "  - {parent: lidar_link, child: velodyne, xyz: [0.5, 0, 0], rpy: [0, 0, 0.5236]}\n"
                        "  - {parent: radar_link, child: ti_mmwave, xyz: [0.5, 0, 0], rpy: [0, 0, 0.5236]}\n")
    raws["depth"] = np.resize(raws["depth"], (480, 848))
    return (input_extrinsics(predictor.card.rig, rig_file), {"lidar": "velodyne", "mmwave": "ti_mmwave"},
            {"depth": Pinhole(848, 480, 400.0, 400.0, 423.5, 239.5)})


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--model", type=Path, required=True, help="model.pt, or a `pta export` folder with --backend onnxruntime")
    parser.add_argument("--backend", default="torch", choices=("torch", "onnxruntime"))
    parser.add_argument("--threads", type=int, default=1)
    parser.add_argument("--iters", type=int, default=300)
    parser.add_argument("--warmup", type=int, default=20)
    parser.add_argument("--robot", action="store_true", help="clouds from moved mounts, depth from an 848×480 camera")
    parser.add_argument("--quality-tolerance", type=float, default=QualityPolicy.tolerance, help="live quality (0: off)")
    args = parser.parse_args()

    predictor = load_predictor(args.model, args.backend, "cpu", args.threads)
    quality = LiveQuality.for_model(predictor, QualityPolicy(args.quality_tolerance)) if args.quality_tolerance > 0 else None
    raws = mmfi_sized_raws()
    extrinsics, frames, cameras = robot_geometry(predictor, raws) if args.robot else (input_extrinsics(predictor.card.rig), {}, {})
    wire = {m: serialize_message(_message(m, raws[m], frames.get(m))) for m in ALL}
    resample = DepthResampler()
    options = DecodeOptions()
    clock = [0]
    sync = Synchronizer(ALL, SyncPolicy(), lambda: clock[0])
    rclpy.init()
    node = LifecycleNode("profile_node_stages")
    outputs = OutputPublishers(node)
    node.trigger_configure()
    node.trigger_activate()
    style = MarkerStyle()
    times: dict[str, list[float]] = defaultdict(list)

    @contextlib.contextmanager
    def timed(stage: str):
        start = time.perf_counter()
        yield
        times[stage].append(time.perf_counter() - start)

    try:
        for frame in range(args.warmup + args.iters):
            if frame == args.warmup:
                times.clear()
            stamp = (frame + 1) * 33_000_000
            clock[0] = stamp
            frame_start = time.perf_counter()
            for m in ALL:
                spec = SENSOR_BY_MODALITY[m]
                with timed(f"deserialize {m}"):
                    msg = deserialize_message(wire[m], spec.msg_type)
                with timed(f"decode {m}"):
                    raw = spec.decode(msg, options)
                with timed(f"geometry {m}"):  # what SensingPipeline adds: frame, layout note, camera
                    matrix, _ = extrinsics.lookup(SENSOR_FRAMES[spec.key], msg.header.frame_id)
                    if spec.movable:
                        raw = transform_points(raw, matrix)
                    if spec.note is not None:
                        spec.note(msg, options)
                    if spec.camera == "depth":
                        model = model_depth_camera(predictor.preprocess_config)
                        raw = resample(raw, cameras.get(m, model), model)
                    elif spec.camera == "rgb":
                        model = model_rgb_camera(predictor.preprocess_config)
                        raw = keypoints_to_model(raw, cameras.get(m, model), model)
                with timed(f"preprocess {m}"):
                    sample = predictor.preprocess(m, raw)
                with timed("sync add"):
                    sync.add(m, stamp, sample)
            with timed("sync match"):
                match = sync.match()
            encoded, left_out = None, set()
            if quality is not None:
                with timed("encode"):
                    encoded = predictor.encode({m: match.entries[m].item for m in match.sensors})
                with timed("live quality"):
                    left_out = quality.judge(predictor, encoded)
            with timed("select"):
                subset = served_choice(predictor, match.sensors, left_out)
            with timed("predict"):
                samples = predictor.encode({m: match.entries[m].item for m in subset}, reuse=encoded)
                prediction = predictor.predict(samples, stamp / 1e9)
            with timed("sync commit"):
                sync.commit(match)
            header = make_header(stamp, "base_link")
            with timed("publish outputs"):
                outputs.publish(prediction, header, predictor.activity_classes, style, 0.01)
            times["frame total"].append(time.perf_counter() - frame_start)
            times["geometry total"].append(sum(times[f"geometry {m}"][-1] for m in ALL))
    finally:
        node.destroy_node()
        rclpy.try_shutdown()
    stages = {stage: {"p50_ms": round(float(np.median(v)) * MS, 4), "p99_ms": round(float(np.percentile(v, 99)) * MS, 4)}
              for stage, v in times.items()}
    print(json.dumps({"bench": "node_stages", "robot": args.robot, "quality_tolerance": args.quality_tolerance, "backend": args.backend, "threads": args.threads, "model": str(args.model),
                      "subset": list(subset), "iters": args.iters, "stages": stages, "load_avg_1min": load_average()}))
    return 0


if __name__ == "__main__":
    sys.exit(main())
