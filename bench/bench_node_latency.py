"""End-to-end latency of the sensing node: input stamp → skeleton received by another process.

All five modalities at MM-Fi sizes (depth 480×640 16UC1, radar 100 points, LiDAR 1000 points, CSI
3×114×10, 17 keypoints), a default-size model, sensor-data QoS, the node started exactly as users
start it (``config/sensing.yaml``). Prints one JSON line per rate.

    python bench/bench_node_latency.py --rates 10 30 --duration 30 [--model model.pt] [--device cpu]
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from bench_node_lib import (
    ALL,
    Observer,
    add_node_param_flag,
    add_priority_flag,
    apply_priority,
    load_average,
    node_params,
    start_node,
    start_relay,
    stop,
    temporary_model,
)


def main() -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--rates", type=float, nargs="+", default=[10.0, 30.0], help="input rates (Hz)")
    parser.add_argument("--duration", type=float, default=30.0, help="seconds per rate")
    parser.add_argument(
        "--model", type=Path, help="model.pt (default: a randomly initialised default-size model)"
    )
    parser.add_argument("--device", default="cpu")
    parser.add_argument("--modalities", nargs="+", default=list(ALL))
    parser.add_argument("--relay", action="store_true",
                        help="measure the floor instead: a process that only relays the inputs' stamp to a skeleton")
    add_priority_flag(parser)
    add_node_param_flag(parser)
    args = parser.parse_args()
    niceness = apply_priority(args.nice)

    params = node_params(args.param)
    node = start_relay() if args.relay else start_node(args.model or temporary_model(), device=args.device, **params)
    observer = Observer()
    try:
        observer.wait_node_ready()
        for rate in args.rates:
            run = observer.measure(rate, args.duration, args.modalities, node_pid=node.pid)
            pipeline = run.diagnostics.get("/sensing_node: pipeline", {})
            result = {
                "bench": "relay_floor" if args.relay else "node_latency",
                "rate_hz": rate,
                "modalities": args.modalities,
                **run.summary(),
                "node_step_p50_ms": pipeline.get("latency_p50_ms"),
                "node_step_p99_ms": pipeline.get("latency_p99_ms"),
                "niceness": niceness,
                "node_params": params,
                "load_avg_1min": load_average(),
            }
            print(json.dumps(result), flush=True)
            observer.spin_for(1.0)
    finally:
        observer.close()
        code = stop(node)
    return 0 if code == 0 else 1


if __name__ == "__main__":
    sys.exit(main())
