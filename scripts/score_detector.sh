#!/usr/bin/env bash
# Every check a person-detector candidate passes before it ships (issue 33; docs/multi_person.md
# gives the shipped detector's rows): photos with nobody, the composed check set with the
# whole-photo protocol, the side-by-side set, the crossing clip, and every person under the
# everyday damage. Logs go to runs/score/NAME.*.log; the last line of each is its JSON.
#
#   bash scripts/score_detector.sh NAME [CONDITIONS]
#
# NAME: a shipped name or work dir as --detector takes it (package a candidate's epoch first:
# python scripts/package_pretrained.py runs/person-detector-lN pd-lN --weights EPOCH.keras,
# which also writes its int8 twin). CONDITIONS: benchmarks/conditions.py's --conditions
# (default the six rows docs/multi_person.md keeps). The sets are rebuilt when missing; every
# step runs at nice 10 so a training leg beside it keeps its pace.
set -euo pipefail
cd "$(dirname "$0")/.."
name=${1:?usage: score_detector.sh NAME [CONDITIONS]}
conditions=${2:-"motion blur,defocus blur,truncated at the shoulders,truncated at the waist,\
truncated at the knees,rotated 90°"}
py="nice -n 10 .venv/bin/python"
log=runs/score/$(basename "$name")
mkdir -p runs/score

bash scripts/make_check_sets.sh

# The check set's strips checked by eye to show no one (the others show unannotated people).
strips=()
for n in 0001 0002 0023 0035; do
  strips+=(--photo "runs/multi-person-set/images/nobody-$n.jpg")
done
$py benchmarks/empty_photos.py --detector "$name" "${strips[@]}" > "$log.empty.log" 2>&1
# At the default min score only: where the detector finds no one at the run's lowest threshold,
# tfpose predict's one-person answer steps in (serving/whole_photo.py), so a row at a higher
# threshold of the same run would not be what tfpose predict returns there.
$py benchmarks/multi_person.py runs/multi-person-set --detector "$name" --thresholds 0.2 \
  --mediapipe-python /nonexistent \
  --whole-photos tfrecords/lspet256 ../shared/lspet/joints.mat ../shared/lspet/images \
  --whole-photos tfrecords/lsp256 ../shared/lsp/joints.mat ../shared/lsp/images \
  > "$log.main.log" 2>&1
$py benchmarks/multi_person.py runs/side-by-side-set --detector "$name" --thresholds 0.2 \
  --mediapipe-python /nonexistent > "$log.side-by-side.log" 2>&1
$py benchmarks/tracks.py runs/crossing/crossing.mp4 --detector "$name" > "$log.tracks.log" 2>&1
$py benchmarks/conditions.py --out runs/everyday-people --detector "$name" \
  --mediapipe-python /nonexistent \
  --results "runs/everyday-people/results-$(basename "$name").json" \
  --conditions "$conditions" > "$log.conditions.log" 2>&1
echo "scored $name: $log.*.log"
