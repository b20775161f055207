#!/usr/bin/env bash
# Issue #5's synthetic action table: image + joints classifiers against image-only and
# joints-only, each scored on the test split with ground-truth and with predicted joints, and
# the two-stage models (trained on predicted joints) against the same models trained on GT.
#
#   scripts/action_table.sh [DATA [POSE_WORKDIR [RUN_DIR]]] [--set KEY=VALUE ...]
#
# DATA          converted dataset            [tfrecords/pose2k]
# POSE_WORKDIR  trained pose model work dir  [runs/pose2k/hourglass2]
# RUN_DIR       one work dir per classifier  [runs/action2k]; RUN_DIR/table.md: the table
# --set ...     passed to every `tfpose train` (e.g. a quick check on the demo artefacts:
#   scripts/action_table.sh tfrecords/demo runs/demo/pose /tmp/action_demo \
#     --set data.input_size=64 --set train.epochs=1 --set train.steps_per_epoch=5)
# Env: SPLIT (scored split, default test); OVERWRITE=1 retrains work dirs that exist (by default
# a finished work dir is kept and a stopped one resumes). Training logs: RUN_DIR/NAME.log.
set -euo pipefail
DATA=tfrecords/pose2k
POSE=runs/pose2k/hourglass2
RUN=runs/action2k
positional=0
sets=()
while (($#)); do
  case "$1" in
    --set) sets+=(--set "$2"); shift 2 ;;
    --set=*) sets+=(--set "${1#--set=}"); shift ;;
    -h|--help) sed -n '2,16p' "$0"; exit 0 ;;
    -*) echo "action_table.sh: unknown option $1" >&2; exit 2 ;;
    *) case $positional in
         0) DATA=$1 ;; 1) POSE=$1 ;; 2) RUN=$1 ;;
         *) echo "action_table.sh: too many arguments ($1)" >&2; exit 2 ;;
       esac
       positional=$((positional + 1)); shift ;;
  esac
done
SPLIT=${SPLIT:-test}
CONFIGS=configs/synthetic
export TF_CPP_MIN_LOG_LEVEL=${TF_CPP_MIN_LOG_LEVEL:-2}
[[ -f $DATA/manifest.json ]] || { echo "action_table.sh: $DATA has no manifest.json" >&2; exit 2; }
[[ -f $POSE/config.yaml ]] || { echo "action_table.sh: $POSE is no pose work dir" >&2; exit 2; }
mkdir -p "$RUN"
start=$(date +%s)
step() { printf '== [%4ss] %s\n' "$(( $(date +%s) - start ))" "$*"; }

# NAME (work dir under RUN_DIR, config CONFIGS/action_NAME.yaml) and the joints it trains on.
MODELS=(image joints_cfe joints_transformer cfe transformer cfe_two_stage transformer_two_stage)

train() {  # train NAME [extra tfpose train args...]
  local name=$1; shift
  local args=(--workdir "$RUN/$name" --set "data.dir=$DATA")
  [[ ${OVERWRITE:-0} == 1 ]] && args+=(--overwrite)
  step "train $name"
  if ! tfpose train "$CONFIGS/action_$name.yaml" "${args[@]}" "$@" ${sets[@]+"${sets[@]}"} \
      >"$RUN/$name.log" 2>&1; then
    tail -n 20 "$RUN/$name.log" >&2
    echo "action_table.sh: training $name failed; log: $RUN/$name.log" >&2
    exit 1
  fi
}

evaluate() {  # evaluate NAME [tfpose evaluate args...]
  local name=$1; shift
  step "evaluate $name $*"
  if ! tfpose evaluate "$RUN/$name" --split "$SPLIT" "$@" >>"$RUN/$name.eval.log" 2>&1; then
    tail -n 20 "$RUN/$name.eval.log" >&2
    echo "action_table.sh: evaluating $name $* failed; log: $RUN/$name.eval.log" >&2
    exit 1
  fi
}

for name in "${MODELS[@]}"; do
  case $name in
    *_two_stage) train "$name" --set "model.pose_workdir=$POSE" ;;
    *) train "$name" ;;
  esac
done

for name in "${MODELS[@]}"; do
  rm -f "$RUN/$name.eval.log"
  case $name in
    image) evaluate "$name" ;;  # no joints input: one score
    *_two_stage)  # predicted = the pose model frozen inside its graph (the same POSE)
      evaluate "$name" --joints gt
      evaluate "$name" --joints predicted ;;
    *)
      evaluate "$name" --joints gt
      evaluate "$name" --joints predicted --pose-workdir "$POSE" ;;
  esac
done

step "table ($SPLIT split of $DATA, pose model $POSE)"
python3 "$(dirname "$0")/action_table.py" "$RUN" --split "$SPLIT" | tee "$RUN/table.md"
step "done in $(( $(date +%s) - start ))s; table in $RUN/table.md"
