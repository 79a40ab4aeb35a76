#!/usr/bin/env bash
# The results suite of docs/RESULTS.md: generate the synthetic benchmarks, train every method with one
# recipe (config/results_mmfi.yaml), evaluate all of them on the held-out subjects over the 31
# modality combinations, and write the tables, plots and Purify weight curves.
#
#   bash bench/run_results.sh                  # everything (docs/RESULTS.md gives the measured time)
#   SEEDS="3407" BENCHES="clean" bash bench/run_results.sh
#   EXTRA="--set train.max_steps=20 --set activity.steps=20" WORK=out/smoke bash bench/run_results.sh  # smoke test
#   SINGLE_STEPS=4000 WORK=out/results_long bash bench/run_results.sh   # stage 1 as long as stage 1 + 2
#   OTHERS="pta_no_purify pta_no_align" BENCHES=contaminated bash bench/run_results.sh   # PTA and two ablations
#   OTHERS=single_tuned BENCHES=contaminated bash bench/run_results.sh   # the singles trained as long as PTA
#   OTHERS=pta_features_readout BENCHES=contaminated bash bench/run_results.sh   # fused sets read from Σ w̃ F_m alone
#   OTHERS=pta_align_predictions BENCHES=contaminated bash bench/run_results.sh  # Align on the predictions
#   OTHERS=pta_reference_no_align BENCHES=contaminated bash bench/run_results.sh # the reference layout without Align
#   EXTRA="--set train.labelled_fraction=0.25 --set align.teacher=available" BENCHES=contaminated \
#     OTHERS="pta_no_align pta_align_predictions single_tuned" WORK=out/semi bash bench/run_results.sh
#                                       # a quarter of the training subjects labelled (docs/method.md §14)
#
# Per benchmark and seed: the five single-modality networks (stage 1), then PTA and, on the
# contaminated benchmark, its ablations and X-Fi, all starting their encoders from that seed's
# singles (stage 2); late fusion is assembled from the singles. The second contamination pattern
# (contaminated-clouds) runs PTA with seed 3407 only, for the Purify ranking. Each benchmark is a
# chain (data → stage 1 → stage 2 → evaluation) and the chains run side by side, a chain's training
# starting once its own data and the clean benchmark's are ready; at most $JOBS heavy processes run
# at any time (one intra-op thread each), so no core waits while another benchmark is generated.
# A single-modality network whose training data are byte-identical to the clean benchmark's (the
# contamination pattern leaves that modality alone; bench/same_training_data.py) is trained once,
# on the clean benchmark, and its run folder hard-linked (with a REUSED note).
# Idempotent: a finished run (DONE marker) is skipped, an interrupted one resumes from its state.pt.
set -euo pipefail
cd "$(dirname "$0")/.."
PY=${PY:-.venv/bin/python}
WORK=${WORK:-out/results}
JOBS=${JOBS:-2}
SEEDS=${SEEDS:-3407 1}
# Steps of the single-modality networks (stage 1, also the baselines); empty: the config's. At the
# config's 2,000 the depth and LiDAR networks are still improving (docs/RESULTS.md, equal steps).
SINGLE_STEPS=${SINGLE_STEPS:-}
BENCHES=${BENCHES:-clean contaminated contaminated-clouds}
# The contaminated benchmark's runs besides PTA (its ablations and baselines); a subset for a quicker look.
# single_tuned: each single network trained on for stage 2's steps from its own stage 1 (fresh heads,
# as PTA's): the single baseline with as many steps as PTA's students. pta_features_readout: PTA with
# model.fused_readout=features and activity.fused_readout=shared (a fused set read by the shared heads
# from Σ w̃ F_m, the recipe before).
# pta_align_predictions: Align distils the fused prediction into each present student's own heads
# (align.target=predictions) instead of DiffKD on the features, each student's KD weighted as its own
# task loss (summed over the students, λ 1, as train.student_loss_weight 5 × their mean).
# pta_reference_no_align: the reference layout with align.enabled=false, where the students have no
# task loss of their own and Align is their only training signal besides the fused loss.
OTHERS=${OTHERS:-pta_no_purify pta_no_align xfi pta_reference}
for run in $OTHERS; do
  case $run in pta_no_purify | pta_no_align | xfi | pta_reference | pta_reference_no_align | single_tuned | pta_features_readout | pta_align_predictions) ;;
    *) echo "OTHERS: unknown run '$run' (pta_no_purify, pta_no_align, xfi, pta_reference, pta_reference_no_align, single_tuned, pta_features_readout, pta_align_predictions)" >&2
       exit 2 ;;
  esac
done
CONFIG=config/results_mmfi.yaml
export OMP_NUM_THREADS=${OMP_NUM_THREADS:-1}
MODALITIES=(rgb depth mmwave lidar wifi-csi)
read -r -a EXTRA_ARGS <<< "${EXTRA:-}"
mkdir -p "$WORK/logs"
log() { echo "[$(date +%H:%M:%S)] $*"; }
log "uptime: $(uptime); code $(git rev-parse --short HEAD)$(git diff --quiet -- pta_core config || echo ' (modified)')"
START=$SECONDS

with_slot() {  # run a command while holding one of $JOBS slots (a file lock each, shared by every chain)
  while true; do
    for i in $(seq 1 "$JOBS"); do
      exec {fd}>"$WORK/.slot$i"
      if flock -n "$fd"; then
        local rc=0
        "$@" || rc=$?
        flock -u "$fd"; exec {fd}>&-
        return $rc
      fi
      exec {fd}>&-
    done
    sleep 1
  done
}

common() {  # the config and data of benchmark $1
  echo --config "$CONFIG" --set "data.root=$WORK/data/$1" --set "data.cache_dir=$WORK/cache" --no-progress
}

run_dir() { local dir="$WORK/runs/$1/$2"; [ "$3" != 3407 ] && dir="${dir}_s$3"; echo "$dir"; }

prepare_data() {  # bench
  local bench=$1
  if [ ! -f "$WORK/data/$bench/.generated" ]; then
    log "generating benchmark $bench"
    $PY -m pta_core.cli generate mmfi --benchmark "$bench" --out "$WORK/data/$bench" --workers 1 --no-progress \
      > "$WORK/logs/generate_$bench.txt" 2>&1
    git rev-parse HEAD > "$WORK/data/$bench/.generated"
  fi
  # shellcheck disable=SC2046
  $PY -m pta_core.cli pack $(common "$bench") --side both --workers 1 > "$WORK/logs/pack_$bench.txt" 2>&1
  touch "$WORK/.ready_$bench"
  log "data ready: $bench"
}

wait_data() {  # bench: until its data are generated and packed (prepare_data in its chain); 1 if that failed
  while [ ! -f "$WORK/.ready_$1" ]; do
    [ -f "$WORK/.failed_$1" ] && { log "no data for $1: see $WORK/logs/generate_$1.txt, pack_$1.txt"; return 1; }
    sleep 2
  done
}

train_run() {  # bench name seed [--set ...]
  local bench=$1 name=$2 seed=$3; shift 3
  local dir; dir=$(run_dir "$bench" "$name" "$seed")
  if [ -f "$dir/DONE" ]; then log "skip $bench/$name (seed $seed): done"; return 0; fi
  local resume=()
  [ -f "$dir/state.pt" ] && resume=(--resume)
  rm -f "$dir/FAILED"
  log "start $bench/$name (seed $seed)"
  local start=$SECONDS
  # shellcheck disable=SC2046
  if ! $PY -m pta_core.cli train $(common "$bench") --set "train.out_dir=$dir" --set "train.seed=$seed" "$@" \
      "${EXTRA_ARGS[@]}" "${resume[@]}" > "$WORK/logs/$bench-$(basename "$dir").txt" 2>&1; then
    log "FAILED $bench/$name (seed $seed): see $WORK/logs/$bench-$(basename "$dir").txt"
    mkdir -p "$dir" && touch "$dir/FAILED"  # a chain waiting to reuse this run trains its own instead
    return 1
  fi
  echo "$((SECONDS - start))" > "$dir/DONE"
  log "done $bench/$name (seed $seed) in $((SECONDS - start)) s"
}

single_run() {  # bench modality seed: stage 1, or the clean benchmark's run when its training data are the same
  local bench=$1 m=$2 seed=$3 dir twin
  dir=$(run_dir "$bench" "single_$m" "$seed")
  twin=$(run_dir clean "single_$m" "$seed")
  if [ "$bench" != clean ] && [ ! -f "$dir/DONE" ] && { [[ " $BENCHES " == *" clean "* ]] || [ -f "$twin/DONE" ]; } \
      && { [[ " $BENCHES " != *" clean "* ]] || wait_data clean; } && with_slot $PY bench/same_training_data.py --config "$CONFIG" --cache-dir "$WORK/cache" --modality "$m" \
        "$WORK/data/clean" "$WORK/data/$bench" >> "$WORK/logs/same_training_data.txt" 2>&1; then
    while [ ! -f "$twin/DONE" ] && [ ! -f "$twin/FAILED" ]; do sleep 5; done
    if [ -f "$twin/DONE" ]; then
      rm -rf "$dir" && mkdir -p "$(dirname "$dir")" && cp -al "$twin" "$dir"
      echo "$twin" > "$dir/REUSED"
      log "reuse clean/single_$m for $bench (seed $seed): the same training data"
      return 0
    fi
  fi
  with_slot train_run "$bench" "single_$m" "$seed" --set train.method=single --set "train.single_modality=$m" \
    ${SINGLE_STEPS:+--set "train.max_steps=$SINGLE_STEPS"}
}

singles_of() {  # bench seed → the --set of train.init_from
  local list=()
  for m in "${MODALITIES[@]}"; do list+=("$(run_dir "$1" "single_$m" "$2")/model.pt"); done
  echo "train.init_from=[$(IFS=,; echo "${list[*]}")]"
}

evaluate() {  # bench seed
  local bench=$1 seed=$2 singles=() names=() ckpts=()
  for m in "${MODALITIES[@]}"; do singles+=("$(run_dir "$bench" "single_$m" "$seed")/model.pt"); done
  local lf; lf=$(run_dir "$bench" late_fusion "$seed")
  # shellcheck disable=SC2046
  if [ ! -f "$lf/model.pt" ] && ! $PY -m pta_core.cli train $(common "$bench") --set "train.out_dir=$lf" \
      --set train.method=late_fusion --from-singles "${singles[@]}" > "$WORK/logs/$bench-late_fusion_$seed.txt" 2>&1; then
    log "FAILED late fusion of $bench (seed $seed): see $WORK/logs/$bench-late_fusion_$seed.txt"
    return 1
  fi
  for run in pta pta_no_purify pta_no_align pta_reference pta_reference_no_align pta_features_readout pta_align_predictions xfi late_fusion; do
    local dir; dir=$(run_dir "$bench" "$run" "$seed")
    [ -f "$dir/model.pt" ] && { names+=("$run"); ckpts+=("$dir/model.pt"); }
  done
  for m in "${MODALITIES[@]}"; do names+=("single_$m"); ckpts+=("$(run_dir "$bench" "single_$m" "$seed")/model.pt"); done
  for m in "${MODALITIES[@]}"; do
    local tuned; tuned=$(run_dir "$bench" "single_tuned_$m" "$seed")
    [ -f "$tuned/model.pt" ] && { names+=("single_tuned_$m"); ckpts+=("$tuned/model.pt"); }
  done
  # shellcheck disable=SC2046
  if ! $PY -m pta_core.cli eval --checkpoint "${ckpts[@]}" --names "${names[@]}" $(common "$bench") \
      --out "$WORK/eval/$bench/seed$seed" --title "$bench benchmark, held-out subjects, seed $seed" \
      > "$WORK/logs/eval-$bench-$seed.txt" 2>&1; then
    log "FAILED evaluation of $bench (seed $seed): see $WORK/logs/eval-$bench-$seed.txt"
    return 1
  fi
  log "evaluated $bench seed $seed"
}

chain() {  # bench: data → stage 1 → stage 2 → evaluation, every heavy step in a slot
  local bench=$1 seeds=$SEEDS pids=()
  with_slot prepare_data "$bench" || { touch "$WORK/.failed_$bench"; return 1; }
  [ "$bench" = contaminated-clouds ] && seeds=3407
  for seed in $seeds; do  # stage 1: the single-modality networks
    for m in "${MODALITIES[@]}"; do
      single_run "$bench" "$m" "$seed" &
      pids+=($!)
    done
  done
  for pid in "${pids[@]}"; do wait "$pid"; done
  pids=()
  for seed in $seeds; do  # stage 2: the fused methods, encoders from the same seed's singles
    local init; init=$(singles_of "$bench" "$seed")
    with_slot train_run "$bench" pta "$seed" --set "$init" & pids+=($!)
    [ "$bench" = contaminated ] || continue
    for run in $OTHERS; do
      case $run in
        pta_no_purify) with_slot train_run "$bench" "$run" "$seed" --set "$init" --set purify.enabled=false & ;;
        pta_no_align) with_slot train_run "$bench" "$run" "$seed" --set "$init" --set align.enabled=false & ;;
        pta_features_readout) with_slot train_run "$bench" "$run" "$seed" --set "$init" \
          --set model.fused_readout=features --set activity.fused_readout=shared & ;;
        pta_align_predictions) with_slot train_run "$bench" "$run" "$seed" --set "$init" \
          --set align.target=predictions --set align.aggregate=sum --set align.lambda_kd=1.0 & ;;
        xfi) with_slot train_run "$bench" "$run" "$seed" --set "$init" --set train.method=xfi \
          --set train.optimizer=adamw & ;;
        # The reference code's PTA: its head and projector layouts, heads on the refined students, no
        # student readout loss or heads, no feature standardisation, KD summed with λ 0.1.
        pta_reference | pta_reference_no_align)
          local align=()
          [ "$run" = pta_reference_no_align ] && align=(--set align.enabled=false)
          with_slot train_run "$bench" "$run" "$seed" --set "$init" --set model.head=mean_ln \
          --set model.student_heads=false --set model.fused_readout=features --set activity.fused_readout=shared \
          --set train.student_presence=sampled \
          --set model.projector=bn_relu --set model.feature_norm=false --set align.head_input=refined \
          --set train.student_loss_weight=0 --set align.aggregate=sum --set align.lambda_kd=0.1 "${align[@]}" & ;;
        single_tuned)
          for m in "${MODALITIES[@]}"; do
            with_slot train_run "$bench" "single_tuned_$m" "$seed" --set train.method=single \
              --set "train.single_modality=$m" --set "train.init_from=[$(run_dir "$bench" "single_$m" "$seed")/model.pt]" &
            pids+=($!)
          done
          continue ;;
      esac
      pids+=($!)
    done
  done
  for pid in "${pids[@]}"; do wait "$pid"; done
  pids=()
  for seed in $seeds; do with_slot evaluate "$bench" "$seed" & pids+=($!); done  # the seeds side by side
  local status=0
  for pid in "${pids[@]}"; do wait "$pid" || status=1; done
  return $status
}

rm -f "$WORK"/.ready_* "$WORK"/.failed_*
pids=()
for bench in $BENCHES; do chain "$bench" & pids+=($!); done
status=0
for pid in "${pids[@]}"; do wait "$pid" || status=1; done
[ "$status" = 0 ] || { log "a run failed: see $WORK/logs"; exit 1; }
$PY bench/summarize_results.py --work "$WORK" --config "$CONFIG" > "$WORK/logs/summary.txt"
log "summary: $WORK/summary.md; total $(( (SECONDS - START) / 60 )) min; uptime: $(uptime)"
