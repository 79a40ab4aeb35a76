#!/usr/bin/env bash
# The results suite of docs/RESULTS.md: generate the synthetic benchmarks, train every method with one
# recipe (config/results_mmfi.yaml), evaluate all of them on the held-out subjects over the 31
# modality combinations, and write the tables, plots and Purify weight curves.
#
#   bash bench/run_results.sh                  # everything: about 75 min on 2 free cores
#   SEEDS="3407" BENCHES="clean" bash bench/run_results.sh
#   EXTRA="--set train.max_steps=20 --set activity.steps=20" WORK=out/smoke bash bench/run_results.sh  # smoke test
#
# Per benchmark and seed: the five single-modality networks (stage 1), then PTA and, on the
# contaminated benchmark, its ablations and X-Fi, all starting their encoders from that seed's
# singles (stage 2); late fusion is assembled from the singles. The second contamination pattern
# (contaminated-clouds) runs PTA with seed 3407 only, for the Purify ranking.
# Idempotent: a finished run (DONE marker) is skipped, an interrupted one resumes from its state.pt.
set -euo pipefail
cd "$(dirname "$0")/.."
PY=${PY:-.venv/bin/python}
WORK=${WORK:-out/results}
JOBS=${JOBS:-2}                 # training processes at a time
SEEDS=${SEEDS:-3407 1}
BENCHES=${BENCHES:-clean contaminated contaminated-clouds}
CONFIG=config/results_mmfi.yaml
export OMP_NUM_THREADS=${OMP_NUM_THREADS:-1}   # one intra-op thread per process: two processes share 2 cores
MODALITIES=(rgb depth mmwave lidar wifi-csi)
read -r -a EXTRA_ARGS <<< "${EXTRA:-}"
mkdir -p "$WORK/logs"
log() { echo "[$(date +%H:%M:%S)] $*"; }
log "uptime: $(uptime); code $(git rev-parse --short HEAD)$(git diff --quiet -- pta_core config || echo ' (modified)')"

common() {  # the config and data of benchmark $1
  echo --config "$CONFIG" --set "data.root=$WORK/data/$1" --set "data.cache_dir=$WORK/cache" --no-progress
}

# 1. Data: one command per benchmark, then the packed caches (both in parallel, one process each).
for bench in $BENCHES; do
  (
    if [ ! -f "$WORK/data/$bench/.generated" ]; then
      log "generating benchmark $bench"
      $PY -m pta_core.cli generate mmfi --benchmark "$bench" --out "$WORK/data/$bench" --workers 1 --no-progress \
        > "$WORK/logs/generate_$bench.txt"
      git rev-parse HEAD > "$WORK/data/$bench/.generated"
    fi
    # shellcheck disable=SC2046
    $PY -m pta_core.cli pack $(common "$bench") --side both --workers 1 > "$WORK/logs/pack_$bench.txt"
    log "data ready: $bench"
  ) &
  while [ "$(jobs -rp | wc -l)" -ge "$JOBS" ]; do wait -n; done
done
wait

run_dir() { local dir="$WORK/runs/$1/$2"; [ "$3" != 3407 ] && dir="${dir}_s$3"; echo "$dir"; }

train_run() {  # bench name seed [--set ...]
  local bench=$1 name=$2 seed=$3; shift 3
  local dir; dir=$(run_dir "$bench" "$name" "$seed")
  if [ -f "$dir/DONE" ]; then log "skip $bench/$name (seed $seed): done"; return 0; fi
  local resume=()
  [ -f "$dir/state.pt" ] && resume=(--resume)
  log "start $bench/$name (seed $seed)"
  local start=$SECONDS
  # shellcheck disable=SC2046
  $PY -m pta_core.cli train $(common "$bench") --set "train.out_dir=$dir" --set "train.seed=$seed" "$@" \
    "${EXTRA_ARGS[@]}" "${resume[@]}" > "$WORK/logs/$bench-$(basename "$dir").txt" 2>&1
  echo "$((SECONDS - start))" > "$dir/DONE"
  log "done $bench/$name (seed $seed) in $((SECONDS - start)) s"
}

run_bg() {
  while [ "$(jobs -rp | wc -l)" -ge "$JOBS" ]; do wait -n || true; done
  train_run "$@" &
}

singles_of() {  # bench seed → the --set of train.init_from
  local list=()
  for m in "${MODALITIES[@]}"; do list+=("$(run_dir "$1" "single_$m" "$2")/model.pt"); done
  echo "train.init_from=[$(IFS=,; echo "${list[*]}")]"
}

seeds_of() { if [ "$1" = contaminated-clouds ]; then echo 3407; else echo "$SEEDS"; fi; }

# 2. Stage 1: the single-modality networks.
for bench in $BENCHES; do
  for seed in $(seeds_of "$bench"); do
    for m in "${MODALITIES[@]}"; do
      run_bg "$bench" "single_$m" "$seed" --set train.method=single --set "train.single_modality=$m"
    done
  done
done
wait

# 3. Stage 2: the fused methods, encoders from the singles of the same benchmark and seed.
for bench in $BENCHES; do
  for seed in $(seeds_of "$bench"); do
    init=$(singles_of "$bench" "$seed")
    run_bg "$bench" pta "$seed" --set "$init"
    if [ "$bench" = contaminated ]; then
      run_bg "$bench" pta_no_purify "$seed" --set "$init" --set purify.enabled=false
      run_bg "$bench" pta_no_align "$seed" --set "$init" --set align.enabled=false
      run_bg "$bench" xfi "$seed" --set "$init" --set train.method=xfi --set train.optimizer=adamw
      # The reference code's PTA: its head and projector layouts, heads on the refined students, no
      # student readout loss, no feature standardisation, KD summed with λ 0.1.
      run_bg "$bench" pta_reference "$seed" --set "$init" --set model.head=mean_ln --set model.projector=bn_relu \
        --set model.feature_norm=false --set align.head_input=refined --set train.student_loss_weight=0 \
        --set align.aggregate=sum --set align.lambda_kd=0.1
    fi
  done
done
wait

# 4. Late fusion (no training), then the test-split evaluation of every run, per benchmark and seed.
for bench in $BENCHES; do
  for seed in $(seeds_of "$bench"); do
    singles=()
    for m in "${MODALITIES[@]}"; do singles+=("$(run_dir "$bench" "single_$m" "$seed")/model.pt"); done
    lf=$(run_dir "$bench" late_fusion "$seed")
    # shellcheck disable=SC2046
    [ -f "$lf/model.pt" ] || $PY -m pta_core.cli train $(common "$bench") --set "train.out_dir=$lf" \
      --set train.method=late_fusion --from-singles "${singles[@]}" > "$WORK/logs/$bench-late_fusion_$seed.txt" 2>&1
    names=() ckpts=()
    for run in pta pta_no_purify pta_no_align pta_reference xfi late_fusion; do
      dir=$(run_dir "$bench" "$run" "$seed")
      [ -f "$dir/model.pt" ] && { names+=("$run"); ckpts+=("$dir/model.pt"); }
    done
    for m in "${MODALITIES[@]}"; do names+=("single_$m"); ckpts+=("$(run_dir "$bench" "single_$m" "$seed")/model.pt"); done
    # shellcheck disable=SC2046
    $PY -m pta_core.cli eval --checkpoint "${ckpts[@]}" --names "${names[@]}" $(common "$bench") \
      --out "$WORK/eval/$bench/seed$seed" --title "$bench benchmark, held-out subjects, seed $seed" \
      > "$WORK/logs/eval-$bench-$seed.txt"
    log "evaluated $bench seed $seed"
  done
done
$PY bench/summarize_results.py --work "$WORK" --config "$CONFIG"
log "uptime: $(uptime)"
