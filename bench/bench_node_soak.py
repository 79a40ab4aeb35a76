"""Memory of the sensing node over a long run: RSS sampled every second while all five modalities
stream at MM-Fi sizes.

Reports RSS after the warm-up, at the end, the maximum, and the least-squares slope over the
samples after ``--warmup`` seconds (MiB per minute). Flat means the slope is ~0.

    python bench/bench_node_soak.py --duration 600 --rate 30
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))
from bench_node_lib import (
    Observer,
    add_node_param_flag,
    add_priority_flag,
    apply_priority,
    load_average,
    node_params,
    start_node,
    stop,
    temporary_model,
)


def main() -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument(
        "--duration", type=float, default=60.0, help="soak length in seconds (600 for the report)"
    )
    parser.add_argument("--rate", type=float, default=30.0, help="input rate (Hz)")
    parser.add_argument("--warmup", type=float, default=15.0, help="seconds excluded from the slope")
    parser.add_argument("--model", type=Path)
    parser.add_argument("--device", default="cpu")
    add_priority_flag(parser)
    add_node_param_flag(parser)
    args = parser.parse_args()
    niceness = apply_priority(args.nice)

    model = args.model or temporary_model()
    params = node_params(args.param)
    node = start_node(model, device=args.device, **params)
    observer = Observer()
    try:
        observer.wait_node_ready()
        run = observer.measure(args.rate, args.duration, node_pid=node.pid)
    finally:
        observer.close()
        code = stop(node)
    samples = np.array(run.rss_mb)
    steady = samples[samples[:, 0] >= args.warmup]
    slope = float(np.polyfit(steady[:, 0], steady[:, 1], 1)[0] * 60) if len(steady) > 2 else float("nan")
    summary = run.summary()
    result = {
        "bench": "node_soak",
        "duration_s": args.duration,
        "rate_hz": args.rate,
        "inputs": summary["inputs"],
        "outputs": summary["outputs"],
        "p50_ms": summary.get("p50_ms"),
        "p99_ms": summary.get("p99_ms"),
        "rss_after_warmup_mb": round(float(steady[0, 1]), 1) if len(steady) else None,
        "rss_end_mb": round(float(samples[-1, 1]), 1),
        "rss_max_mb": round(float(samples[:, 1].max()), 1),
        "rss_slope_mb_per_min": round(slope, 3),
        "samples": int(len(samples)),
        "niceness": niceness,
        "node_params": params,
        "load_avg_1min": load_average(),
    }
    print(json.dumps(result), flush=True)
    return 0 if code == 0 else 1


if __name__ == "__main__":
    sys.exit(main())
