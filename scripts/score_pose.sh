#!/usr/bin/env bash
# Every check a pose-model candidate passes before it ships as `lspet` (issues 33 + 34; the
# shipped model's rows are in docs/multi_person.md and docs/everyday.md): every person on the
# composed check set (the detector's boxes and the annotated ones) with the whole-photo
# protocol on LSPET and LSP, the side-by-side set, the crossing clip, and every person under
# the everyday damage. Logs go to runs/score/NAME.*.log; the last line of each is its JSON.
#
#   bash scripts/score_pose.sh NAME [CONDITIONS]
#
# NAME: a shipped name or work dir as --pose and --model take it (package a candidate's epoch
# first: python scripts/package_pretrained.py runs/lspet-X lspet-X --weights EPOCH.keras).
# CONDITIONS: benchmarks/conditions.py's --conditions (default the rows where a person's crop
# matters most). The sets are rebuilt when missing; every step runs at nice 10.
set -euo pipefail
cd "$(dirname "$0")/.."
name=${1:?usage: score_pose.sh NAME [CONDITIONS]}
conditions=${2:-"motion blur,truncated at the shoulders,truncated at the waist,\
truncated at the knees,occlusion,rotated 90°"}
py="nice -n 10 .venv/bin/python"
log=runs/score/pose-$(basename "$name")
mkdir -p runs/score

bash scripts/make_check_sets.sh

$py benchmarks/multi_person.py runs/multi-person-set --pose "$name" \
  --detector person-detector --thresholds 0.2 --true-boxes --mediapipe-python /nonexistent \
  --whole-photos tfrecords/lspet256 ../shared/lspet/joints.mat ../shared/lspet/images \
  --whole-photos tfrecords/lsp256 ../shared/lsp/joints.mat ../shared/lsp/images \
  > "$log.main.log" 2>&1
$py benchmarks/multi_person.py runs/side-by-side-set --pose "$name" \
  --detector person-detector --thresholds 0.2 --true-boxes --mediapipe-python /nonexistent \
  > "$log.side-by-side.log" 2>&1
$py benchmarks/tracks.py runs/crossing/crossing.mp4 --pose "$name" \
  --detector person-detector > "$log.tracks.log" 2>&1
$py benchmarks/conditions.py --model "$name" --out "runs/everyday-pose-$(basename "$name")" \
  --detector person-detector --mediapipe-python /nonexistent \
  --conditions "$conditions" > "$log.conditions.log" 2>&1
echo "scored $name: $log.*.log"
