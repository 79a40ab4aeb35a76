"""Highest input rate the sensing node sustains without a growing backlog.

For each modality set and each input rate (ascending), a sensor process publishes MM-Fi-sized
inputs for ``--duration`` seconds. A rate counts as *sustained* when the sensor process achieved
it (≥ 95 %), at least 95 % of the frames produced a skeleton, and the median latency of the last
third of the run is not above that of the first third by more than max(5 ms, 50 %) (no backlog
growing). The node never queues frames (it drops superseded ones), so an overloaded node shows up
as missing outputs, not as unbounded latency. Prints one JSON line per (set, rate) and a summary.

    python bench/bench_node_throughput.py --sets depth rgb all --rates 10 20 30 45 60 90 120 --duration 8
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
    stop,
    temporary_model,
)


def sustained(summary: dict, rate: float) -> bool:
    if summary["inputs"] == 0 or summary["input_hz"] < 0.95 * rate:
        return False
    if summary["outputs"] < 0.95 * summary["inputs"]:
        return False
    first, last = summary["first_third_p50_ms"], summary["last_third_p50_ms"]
    return last <= first + max(5.0, 0.5 * first)


def main() -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument(
        "--sets", nargs="+", default=["depth", "all"], help="'all' or one modality name per set"
    )
    parser.add_argument("--rates", type=float, nargs="+", default=[10, 20, 30, 45, 60, 90, 120])
    parser.add_argument("--duration", type=float, default=8.0, help="seconds per rate")
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
    best: dict[str, float] = {}
    try:
        observer.wait_node_ready()
        for name in args.sets:
            modalities = list(ALL) if name == "all" else [name]
            best[name] = 0.0
            for rate in sorted(args.rates):
                summary = observer.measure(rate, args.duration, modalities).summary()
                ok = sustained(summary, rate)
                record = {
                    "bench": "node_throughput",
                    "set": name,
                    "rate_hz": rate,
                    "sustained": ok,
                    **summary,
                }
                record.update(niceness=niceness, node_params=params, load_avg_1min=load_average())
                print(json.dumps(record), flush=True)
                observer.spin_for(1.5)  # inputs go stale: the next run starts clean
                if not ok:
                    break
                best[name] = rate
        print(json.dumps({"bench": "node_throughput", "max_sustained_hz": best}), flush=True)
    finally:
        observer.close()
        code = stop(node)
    return 0 if code == 0 else 1


if __name__ == "__main__":
    sys.exit(main())
