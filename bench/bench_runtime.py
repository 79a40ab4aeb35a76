"""The serving runtime side by side, in one run: PyTorch vs onnxruntime, 1 and 2 intra-op threads, batch 1.

1. forward: ``Predictor.predict`` per modality and all five fused (preprocessed MM-Fi-sized inputs);
2. node: end-to-end latency (input stamp → skeleton in another process) at each ``--rates``, with
   the node's RSS once it is ready; and the floor, a process that only relays the inputs' stamp
   (``bench_node_latency.py --relay``): what rclpy and DDS cost with no work;
3. soak: RSS and latency over ``--soak`` seconds at 30 Hz per backend (1 thread; 0 skips it).

One JSON line per measurement to stdout (and ``--out``), then a Markdown summary.

    python bench/bench_runtime.py --checkpoint models/pta_bench_clean.pt --export out/onnx_bench_clean \\
        --rates 10 30 --duration 30 --soak 600 --out docs/results/bench_runtime.jsonl
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))
from bench_node_lib import ALL, Observer, load_average, mmfi_sized_raws, rss_mb, start_node, start_relay, stop

BACKENDS = (("torch", 1), ("torch", 2), ("onnxruntime", 1), ("onnxruntime", 2))


def forward_times(checkpoint: Path, export: Path, iters: int, warmup: int) -> list[dict]:
    import torch

    from pta_core.serving import load_predictor

    rows = []
    for backend, threads in BACKENDS:
        if backend == "torch":
            torch.set_num_threads(threads)
        predictor = load_predictor(checkpoint if backend == "torch" else export, backend, "cpu", threads)
        raws = mmfi_sized_raws()
        samples = {m: predictor.preprocess(m, raws[m]) for m in ALL}
        for name, subset in [*((m, {m: samples[m]}) for m in ALL), ("fused (5)", samples)]:
            for _ in range(warmup):
                predictor.predict(subset)
            times = []
            for _ in range(iters):
                start = time.perf_counter()
                predictor.predict(subset)
                times.append(time.perf_counter() - start)
            rows.append({"bench": "forward", "backend": backend, "threads": threads, "inputs": name,
                         "p50_ms": round(float(np.median(times)) * 1e3, 3),
                         "p99_ms": round(float(np.percentile(times, 99)) * 1e3, 3)})
            emit(rows[-1])
    return rows


def node_latency(model: Path, backend: str, threads: int, rates: list[float], duration: float) -> list[dict]:
    relay = backend == "relay"
    node = start_relay() if relay else start_node(model, device="cpu", backend=backend, inference_threads=threads)
    observer = Observer()
    rows = []
    try:
        observer.wait_node_ready()
        observer.spin_for(2.0)  # settled after start-up
        rss_ready = rss_mb(node.pid)
        for rate in rates:
            run = observer.measure(rate, duration, node_pid=node.pid)
            pipeline = run.diagnostics.get("/sensing_node: pipeline", {})
            rows.append({"bench": "node", "backend": backend, "threads": threads, "rate_hz": rate,
                         "rss_ready_mb": round(rss_ready, 1), **run.summary(),
                         "node_step_p50_ms": pipeline.get("latency_p50_ms"), "node_step_p99_ms": pipeline.get("latency_p99_ms"),
                         "load_avg_1min": load_average()})
            emit(rows[-1])
            observer.spin_for(1.0)
    finally:
        observer.close()
        stop(node)
    return rows


def soak(model: Path, backend: str, seconds: float, warmup: float = 15.0) -> dict:
    node = start_node(model, device="cpu", backend=backend, inference_threads=1)
    observer = Observer()
    try:
        observer.wait_node_ready()
        observer.spin_for(2.0)
        rss_ready = rss_mb(node.pid)
        run = observer.measure(30.0, seconds, node_pid=node.pid)
    finally:
        observer.close()
        stop(node)
    samples = np.array(run.rss_mb)
    steady = samples[samples[:, 0] >= warmup]
    summary = run.summary()
    row = {"bench": "soak", "backend": backend, "threads": 1, "rate_hz": 30.0, "duration_s": seconds,
           "inputs": summary["inputs"], "outputs": summary["outputs"], "p50_ms": summary.get("p50_ms"),
           "p99_ms": summary.get("p99_ms"), "rss_ready_mb": round(rss_ready, 1),
           "rss_end_mb": round(float(samples[-1, 1]), 1), "rss_max_mb": round(float(samples[:, 1].max()), 1),
           "rss_slope_mb_per_min": round(float(np.polyfit(steady[:, 0], steady[:, 1], 1)[0] * 60), 3),
           "load_avg_1min": load_average()}
    emit(row)
    return row


OUT = None


def emit(row: dict) -> None:
    line = json.dumps(row)
    print(line, flush=True)
    if OUT is not None:
        with OUT.open("a") as f:
            f.write(line + "\n")


def summary(rows: list[dict]) -> str:
    lines = ["| inputs | " + " | ".join(f"{b} {t}t" for b, t in BACKENDS) + " |", "|---" * (len(BACKENDS) + 1) + "|"]
    forward = {(r["backend"], r["threads"], r["inputs"]): r for r in rows if r["bench"] == "forward"}
    for name in [*ALL, "fused (5)"]:
        cells = [f"{forward[(b, t, name)]['p50_ms']:.2f}" if (b, t, name) in forward else "" for b, t in BACKENDS]
        lines.append(f"| forward {name} (p50 ms) | " + " | ".join(cells) + " |")
    lines += ["", "| node | rate | outputs / inputs | p50 ms | p99 ms | node step p50 / p99 ms | RSS ready MiB |", "|---" * 7 + "|"]
    for r in rows:
        if r["bench"] == "node":
            who = "floor (relay)" if r["backend"] == "relay" else f"{r['backend']} {r['threads']}t"
            lines.append(f"| {who} | {r['rate_hz']:g} Hz | {r['outputs']} / {r['inputs']} | {r['p50_ms']} | {r['p99_ms']} | "
                         f"{r['node_step_p50_ms']} / {r['node_step_p99_ms']} | {r['rss_ready_mb']} |")
    soaks = [r for r in rows if r["bench"] == "soak"]
    if soaks:
        lines += ["", "| soak, 30 Hz | s | outputs / inputs | p50 / p99 ms | RSS ready → end (max) MiB | slope MiB/min |", "|---" * 6 + "|"]
        for r in soaks:
            lines.append(f"| {r['backend']} 1t | {r['duration_s']:g} | {r['outputs']} / {r['inputs']} | {r['p50_ms']} / {r['p99_ms']} | "
                         f"{r['rss_ready_mb']} → {r['rss_end_mb']} ({r['rss_max_mb']}) | {r['rss_slope_mb_per_min']} |")
    return "\n".join(lines)


def main() -> int:
    global OUT
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--checkpoint", type=Path, required=True, help="model.pt (the torch backend)")
    parser.add_argument("--export", type=Path, required=True, help="its `pta export` folder (the onnxruntime backend)")
    parser.add_argument("--rates", type=float, nargs="+", default=[10.0, 30.0])
    parser.add_argument("--duration", type=float, default=30.0, help="seconds per node measurement")
    parser.add_argument("--soak", type=float, default=0.0, help="seconds of soak per backend (600 for the report; 0: none)")
    parser.add_argument("--iters", type=int, default=200)
    parser.add_argument("--warmup", type=int, default=20)
    parser.add_argument("--out", type=Path, help="append the JSON lines here too")
    args = parser.parse_args()
    OUT = args.out
    rows = forward_times(args.checkpoint, args.export, args.iters, args.warmup)
    rows += node_latency(Path(), "relay", 0, args.rates, args.duration)
    for backend, threads in BACKENDS:
        model = args.checkpoint if backend == "torch" else args.export
        rows += node_latency(model, backend, threads, args.rates, args.duration)
    if args.soak > 0:
        rows += [soak(args.checkpoint, "torch", args.soak), soak(args.export, "onnxruntime", args.soak)]
    print(summary(rows))
    return 0


if __name__ == "__main__":
    sys.exit(main())
