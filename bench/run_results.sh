#!/usr/bin/env bash
# The results suite of docs/RESULTS.md: generate a contaminated synthetic MM-Fi set, train PTA, its
# ablations and every baseline with one budget (config/results_mmfi.yaml), evaluate all of them on
# the test split over the 31 modality combinations, and collect tables, a plot and Purify weights.
#
#   bash bench/run_results.sh                 # everything (about 1 h on 2 free cores)
#   WORK=/tmp/res JOBS=1 bash bench/run_results.sh
#   SEEDS="3407 1" bash bench/run_results.sh  # more seeds (run directories get a _s<seed> suffix)
#   EXTRA="--set train.max_steps=20" WORK=out/smoke bash bench/run_results.sh   # a smoke test of this script
#
# Idempotent: a finished run (DONE marker) is skipped, an interrupted one resumes from its state.pt.
set -euo pipefail
cd "$(dirname "$0")/.."
PY=${PY:-.venv/bin/python}
WORK=${WORK:-out/results}
JOBS=${JOBS:-2}                 # training processes at a time
SEEDS=${SEEDS:-3407}
CONFIG=config/results_mmfi.yaml
export OMP_NUM_THREADS=${OMP_NUM_THREADS:-1}   # one intra-op thread per process (see docs/RESULTS.md)
MODALITIES=(rgb depth mmwave lidar wifi-csi)
read -r -a EXTRA_ARGS <<< "${EXTRA:-}"   # e.g. EXTRA="--set train.max_steps=20" for a smoke test of this script
COMMON=(--config "$CONFIG" --set "data.root=$WORK/mmfi" --set "data.cache_dir=$WORK/cache" --no-progress "${EXTRA_ARGS[@]}")
mkdir -p "$WORK/logs"
log() { echo "[$(date +%H:%M:%S)] $*"; }
log "uptime: $(uptime)"

# 1. Data: 12 subjects (3 per environment) x 27 actions x 20 frames (0.25 s apart), seed 0; the camera
#    modalities are contaminated on purpose: rgb keypoints and depth at level 0.8.
if [ ! -f "$WORK/mmfi/.generated" ]; then
  log "generating the data set"
  $PY -m pta_core.cli generate mmfi --out "$WORK/mmfi" --num-subjects 12 --frames 20 --frame-period 0.25 \
    --modalities rgb,depth,lidar,mmwave,wifi-csi --contaminate rgb=0.8 --contaminate depth=0.8 \
    --seed 0 --workers 2 --no-progress
  touch "$WORK/mmfi/.generated"
fi
log "packing"
$PY -m pta_core.cli pack "${COMMON[@]}" --side both > "$WORK/logs/pack.txt"

# 2. Training runs: name, then --set overrides.
train_run() {
  local name=$1 seed=$2; shift 2
  local dir="$WORK/runs/$name"
  [ "$seed" != 3407 ] && dir="${dir}_s$seed"
  if [ -f "$dir/DONE" ]; then log "skip $name (seed $seed): done"; return 0; fi
  local resume=()
  [ -f "$dir/state.pt" ] && resume=(--resume)
  log "start $name (seed $seed)"
  local start=$SECONDS
  $PY -m pta_core.cli train "${COMMON[@]}" --set "train.out_dir=$dir" --set "train.seed=$seed" "$@" "${resume[@]}" \
    > "$WORK/logs/$(basename "$dir").txt" 2>&1
  echo "$((SECONDS - start))" > "$dir/DONE"
  log "done $name (seed $seed) in $((SECONDS - start)) s"
}

run_bg() {
  while [ "$(jobs -rp | wc -l)" -ge "$JOBS" ]; do wait -n || true; done
  train_run "$@" &
}

for seed in $SEEDS; do
  run_bg pta "$seed"
  run_bg pta_no_purify "$seed" --set purify.enabled=false
  run_bg pta_lookahead "$seed" --set purify.mode=lookahead
  run_bg pta_fused_head "$seed" --set align.head_input=fused
  run_bg xfi "$seed" --set train.method=xfi --set train.optimizer=adamw --set train.lr=0.001
  run_bg pta_no_align "$seed" --set align.enabled=false
  for m in "${MODALITIES[@]}"; do
    run_bg "single_$m" "$seed" --set train.method=single --set "train.single_modality=$m"
  done
done
wait
for seed in $SEEDS; do
  suffix=""; [ "$seed" != 3407 ] && suffix="_s$seed"
  for name in pta pta_no_purify pta_lookahead pta_fused_head xfi pta_no_align "${MODALITIES[@]/#/single_}"; do
    [ -f "$WORK/runs/$name$suffix/DONE" ] || { log "run $name$suffix failed: see $WORK/logs/$name$suffix.txt"; exit 1; }
  done
  # 3. Late fusion: the five single-modality models averaged (no extra training).
  singles=()
  for m in "${MODALITIES[@]}"; do singles+=("$WORK/runs/single_$m$suffix/model.pt"); done
  $PY -m pta_core.cli train "${COMMON[@]}" --set "train.out_dir=$WORK/runs/late_fusion$suffix" \
    --set train.method=late_fusion --from-singles "${singles[@]}" > "$WORK/logs/late_fusion$suffix.txt" 2>&1

  # 4. Test-split evaluation over all 31 combinations, every run in one table.
  names=(PTA "PTA-lookahead" "PTA-fused-head" "PTA-no-Purify" "PTA-no-Align" "X-Fi" "late-fusion")
  ckpts=("$WORK/runs/pta$suffix/model.pt" "$WORK/runs/pta_lookahead$suffix/model.pt" \
         "$WORK/runs/pta_fused_head$suffix/model.pt" "$WORK/runs/pta_no_purify$suffix/model.pt" \
         "$WORK/runs/pta_no_align$suffix/model.pt" "$WORK/runs/xfi$suffix/model.pt" \
         "$WORK/runs/late_fusion$suffix/model.pt")
  for m in "${MODALITIES[@]}"; do names+=("single-$m"); ckpts+=("$WORK/runs/single_$m$suffix/model.pt"); done
  $PY -m pta_core.cli eval --checkpoint "${ckpts[@]}" --names "${names[@]}" --config "$CONFIG" \
    --set "data.root=$WORK/mmfi" --set "data.cache_dir=$WORK/cache" --out "$WORK/eval$suffix" --no-progress \
    --title "MM-Fi synthetic, rgb+depth contaminated, seed $seed" > "$WORK/logs/eval$suffix.txt"
  # The same, restricted to each modality alone and all five together (the figure in docs/RESULTS.md).
  $PY -m pta_core.cli eval --checkpoint "${ckpts[@]}" --names "${names[@]}" --config "$CONFIG" \
    --set "data.root=$WORK/mmfi" --set "data.cache_dir=$WORK/cache" --out "$WORK/eval_focus$suffix" --no-progress \
    --combinations "${MODALITIES[@]}" "$(IFS=+; echo "${MODALITIES[*]}")" \
    --title "single modalities and all five, seed $seed" > "$WORK/logs/eval_focus$suffix.txt"
  log "tables: $WORK/eval$suffix/results.md, $WORK/eval_focus$suffix/results.md"
done
$PY bench/summarize_results.py --work "$WORK" --seeds $SEEDS
log "uptime: $(uptime)"
