"""MM-Fi → rosbag2 conversion speed and size, and replay timing accuracy.

    python bench/bench_bag.py --work /tmp/pta_bench_bag [--sequences 4] [--frames 60]

Generates a small MM-Fi-format set (or reuses it), converts it to mcap and sqlite3 bags (version 9
and 8), then replays the mcap bag through ``replay_node`` (a separate process) at rate 1 while a
subscriber here records arrival times. Reports conversion frames/s and MB, the replay's own
schedule lateness (publisher side) and the arrival-minus-stamp deviation at the subscriber.
"""
from __future__ import annotations

import argparse
import json
import os
import shutil
import subprocess
import sys
import time
from pathlib import Path

import numpy as np

from pta_ros import dds

REPO = Path(__file__).resolve().parents[1]
os.environ.update(dds.host_only(os.environ, domain_id=20 + os.getpid() % 50))


def folder_mb(path: Path) -> float:
    return sum(p.stat().st_size for p in path.rglob("*") if p.is_file()) / 1e6


def convert_all(root: Path, work: Path, sequences) -> list[dict]:
    from pta_ros.tools import bag

    rows = []
    for storage, version in (("mcap", 9), ("sqlite3", 9), ("sqlite3", 8)):
        out = work / f"bag_{storage}_v{version}"
        shutil.rmtree(out, ignore_errors=True)
        stats = bag.convert(root, out, sequences, storage=storage, version=version, progress=False)
        rows.append({"storage": storage, "version": version, "frames": stats.frames,
                     "messages": sum(stats.messages.values()), "seconds": round(stats.seconds, 2),
                     "frames_per_s": round(stats.frames / stats.seconds, 1), "mb": round(folder_mb(out), 1)})
    return rows


def replay_timing(bag_dir: Path, work: Path) -> dict:
    import rclpy
    from geometry_msgs.msg import PoseArray
    from rclpy.qos import QoSProfile, ReliabilityPolicy

    from pta_ros.inputs import SENSORS
    from pta_ros.tools.bag import GROUND_TRUTH_TOPIC

    rclpy.init()
    node = rclpy.create_node("bench_bag_sink")
    arrivals: list[tuple[float, int]] = []

    def record(msg) -> None:
        arrivals.append((time.perf_counter(), msg.header.stamp.sec * 10**9 + msg.header.stamp.nanosec))

    qos = QoSProfile(depth=100, reliability=ReliabilityPolicy.RELIABLE)
    for spec in SENSORS:
        node.create_subscription(spec.msg_type, "/" + spec.topic, record, qos)
    node.create_subscription(PoseArray, GROUND_TRUTH_TOPIC, record, qos)
    stats_file = work / "replay_stats.json"
    proc = subprocess.Popen([sys.executable, "-m", "pta_ros.tools.replay_node", str(bag_dir), "--wait-for-subscribers",
                             "20", "--stats", str(stats_file)], stdout=subprocess.DEVNULL, stderr=subprocess.STDOUT)
    while proc.poll() is None:
        rclpy.spin_once(node, timeout_sec=0.01)
    end = time.monotonic() + 1.0
    while time.monotonic() < end:
        rclpy.spin_once(node, timeout_sec=0.01)
    node.destroy_node()
    rclpy.shutdown()
    publisher = json.loads(stats_file.read_text())
    offsets = np.array([t - s / 1e9 for t, s in arrivals])
    deviation_ms = np.abs(offsets - np.median(offsets)) * 1e3
    return {
        "published": publisher["messages"],
        "received": len(arrivals),
        "publisher_lateness_ms": {k.replace("lateness_ms_", ""): round(v, 3) for k, v in publisher.items()
                                  if k.startswith("lateness_ms_")},
        "subscriber_deviation_ms": {"p50": round(float(np.percentile(deviation_ms, 50)), 3),
                                    "p99": round(float(np.percentile(deviation_ms, 99)), 3),
                                    "max": round(float(deviation_ms.max()), 3)},
        "load_average": os.getloadavg()[0],
    }


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--work", default="/tmp/pta_bench_bag")
    parser.add_argument("--sequences", type=int, default=4)
    parser.add_argument("--frames", type=int, default=60)
    args = parser.parse_args()
    from pta_core.simulator import MMFiSpec, generate_mmfi

    work = Path(args.work)
    root = work / "mmfi"
    actions = ("A03", "A12", "A17", "A26", "A05", "A08", "A20", "A27")[: args.sequences]
    generate_mmfi(root, MMFiSpec(subjects=("S01",), actions=actions, frames=args.frames), workers=2)
    sequences = [("S01", a) for a in actions]
    result = {"conversion": convert_all(root, work, sequences), "replay": replay_timing(work / "bag_mcap_v9", work)}
    print(json.dumps(result, indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
