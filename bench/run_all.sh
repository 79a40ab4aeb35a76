#!/usr/bin/env bash
# `make bench`: every benchmark at a size that finishes in about 15 minutes on 2 cores. The figures in
# docs/BENCHMARKS.md name the exact (sometimes longer) command each came from; rerun those to reproduce.
# Outputs go to $OUT (default bench_out/); nothing is asserted.
set -euo pipefail
cd "$(dirname "$0")/.."
PY=${PY:-.venv/bin/python}
OUT=${OUT:-bench_out}
WORK=${WORK:-/tmp/pta_bench}
mkdir -p "$OUT"
run() { local name=$1; shift; echo "== $name: $*"; "$PY" "$@" 2>&1 | tee "$OUT/$name.txt"; }
echo "load average: $(cut -d' ' -f1-3 /proc/loadavg)"
run model          bench/bench_model.py --threads 2 --iters 200 --warmup 20 --train-steps 10 --json "$OUT/model.json"
run generate       bench/bench_generate.py --work "$WORK/generate"
run cache          bench/bench_cache.py --work "$WORK/cache" --subjects 2 --actions 3 --reps 3
run pack_memory    bench/bench_pack_memory.py --work "$WORK/pack" --sequences 2
run bag            bench/bench_bag.py --work "$WORK/bag"
run node_latency   bench/bench_node_latency.py --rates 10 30 --duration 20
run node_rate      bench/bench_node_throughput.py --sets rgb all --rates 30 60 120 240 --duration 6
run node_soak      bench/bench_node_soak.py --duration 120 --rate 30
run gpu_smoke      bench/gpu_bench.py --device cpu --quick --out "$OUT/gpu_smoke.json"
echo "outputs in $OUT/"
