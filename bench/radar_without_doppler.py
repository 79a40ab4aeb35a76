"""A radar without Doppler: what the node's no-Doppler path costs, on the held-out bag.

    python bench/radar_without_doppler.py [--model models/pta_bench_clean.pt] [--work out/rig_invariance]
                                          [--out docs/results/radar_without_doppler]

``ti_mmwave_rospkg``'s ``radar_scan_pcl`` carries x, y, z and intensity, no velocity. A model that
reads Doppler then gets every point as static (pta_ros.inputs.RADAR_FILL). This drives the demo's
held-out bag (bench/rig_invariance.py makes it) through the node's pipeline twice per sensor set —
the radar as recorded, and re-encoded in the ti_mmwave_rospkg layout (the same points, the velocity
field gone) — and scores MPJPE and PA-MPJPE against the bag's ground-truth topic. Sensor sets: the
radar alone, and all five (the node's own choice among them).
"""
from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

import numpy as np
from rclpy.serialization import deserialize_message
from rig_invariance import REPO, drive, held_out_bag
from rosbags.rosbag2 import Reader

from pta_core.metrics import mpjpe, pa_mpjpe
from pta_core.torch_predictor import TorchPredictor
from pta_ros.conversions import pointcloud2_to_numpy, posearray_to_numpy
from pta_ros.frames import input_extrinsics
from pta_ros.inputs import SENSOR_BY_MODALITY, SENSORS
from pta_ros.tools import bag, demo
from pta_ros.tools.radar_bag import ti_mmwave_cloud

RADAR_TOPIC = bag.topic_of("mmwave")


def without_doppler(topic: str, msg):
    """The radar cloud as ti_mmwave_rospkg publishes it: pcl::PointXYZI, no velocity field."""
    if topic != RADAR_TOPIC:
        return msg
    points = pointcloud2_to_numpy(msg, ("x", "y", "z", "velocity", "intensity"))
    return ti_mmwave_cloud(points, msg.header)


def ground_truth(path: Path) -> dict[int, np.ndarray]:
    from geometry_msgs.msg import PoseArray

    with Reader(path) as reader:
        return {t: posearray_to_numpy(deserialize_message(bytes(raw), PoseArray))
                for _, t, raw in reader.messages([c for c in reader.connections if c.topic == bag.GROUND_TRUTH_TOPIC])}


def score(run: dict, truth: dict[int, np.ndarray]) -> dict:
    stamps = [s for s in run["outputs"] if s in truth]
    predicted = np.stack([run["outputs"][s][1] for s in stamps])
    target = np.stack([truth[s] for s in stamps])
    sets = sorted({"+".join(run["outputs"][s][0]) for s in stamps})
    return {"skeletons": len(stamps), "mpjpe_mm": float(mpjpe(predicted, target)),
            "pa_mpjpe_mm": float(pa_mpjpe(predicted, target)), "sets": sets,
            "rejections": run["rejections"], "notes": run["notes"]}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="radar_without_doppler", description=__doc__.splitlines()[0])
    parser.add_argument("--model", type=Path, default=REPO / "models" / demo.SHIPPED_MODEL)
    parser.add_argument("--work", type=Path, default=REPO / "out" / "rig_invariance")
    parser.add_argument("--out", type=Path, default=REPO / "docs" / "results" / "radar_without_doppler")
    args = parser.parse_args(argv)
    if not args.model.is_file():
        print(f"radar_without_doppler: no model at {args.model}", file=sys.stderr)
        return 2
    args.work.mkdir(parents=True, exist_ok=True)
    path = held_out_bag(args.work)
    predictor = TorchPredictor.from_checkpoint(args.model, "cpu", threads=1)
    extrinsics = input_extrinsics(predictor.card.rig)
    truth = ground_truth(path)
    sets = {"radar alone": (SENSOR_BY_MODALITY["mmwave"],), "all five": SENSORS}
    results = {}
    for name, sensors in sets.items():
        for layout, edit in (("as recorded (x, y, z, velocity, intensity)", None),
                             ("ti_mmwave_rospkg (x, y, z, intensity)", without_doppler)):
            results[f"{name}, {layout}"] = score(drive(path, predictor, extrinsics, sensors, edit), truth)
    lines = ["# A radar without Doppler on the held-out bag", "",
             f"`python bench/radar_without_doppler.py` (model `{args.model.name}`, reads radar "
             f"{list(predictor.preprocess_config.mmwave_features)}; the node's pipeline without DDS).", "",
             "| sensors, radar layout | skeletons | MPJPE (mm) | PA-MPJPE (mm) | sets served | note |", "|---|---|---|---|---|---|"]
    for name, r in results.items():
        lines.append(f"| {name} | {r['skeletons']} | {r['mpjpe_mm']:.1f} | {r['pa_mpjpe_mm']:.1f} | "
                     f"{', '.join(r['sets'])} | {r['notes'].get('mmwave', '')} |")
    text = "\n".join(lines) + "\n"
    args.out.mkdir(parents=True, exist_ok=True)
    (args.out / "summary.md").write_text(text)
    (args.out / "summary.json").write_text(json.dumps(results, indent=2))
    print(text)
    return 0


if __name__ == "__main__":
    sys.exit(main())
