#!/usr/bin/env bash
# The every-person check sets (docs/multi_person.md), each built only when missing: the
# composed set, the side-by-side set and the crossing clip. scripts/score_detector.sh and
# scripts/score_pose.sh call it; about 3 minutes on the 2-core box.
set -euo pipefail
cd "$(dirname "$0")/.."
py="nice -n 10 .venv/bin/python"
test -f runs/multi-person-set/persons.json || $py scripts/make_multi_person_set.py \
  runs/multi-person-set
test -f runs/side-by-side-set/persons.json || $py scripts/make_multi_person_set.py \
  runs/side-by-side-set --images 0 --nobody 0 --side-by-side 200 --mpii /nonexistent
test -f runs/crossing/crossing.mp4 || $py scripts/make_crossing_clip.py runs/crossing
