#!/usr/bin/env bash
# Runs the distributed training tests N times under CPU load; the last line is "K/N passed".
#   scripts/stress_distributed.sh N [PYTHON]
# Each round runs the two-worker MultiWorkerMirroredStrategy test and the MirroredStrategy
# (fit, two logical CPUs) test in one pytest process while one busy-loop burner per core runs,
# so scheduling is as unfavourable as on a loaded CI machine. A round passes when pytest exits
# 0; a crash (e.g. a worker's SIGSEGV) or any failure counts against it. Logs: $STRESS_LOGS
# (default: a temporary folder, printed first).
set -u
N=${1:?usage: scripts/stress_distributed.sh N [PYTHON]}
PY=${2:-.venv/bin/python}
LOGS=${STRESS_LOGS:-$(mktemp -d -t tfpose-stress-XXXX)}
mkdir -p "$LOGS"
echo "logs in $LOGS"
TESTS=(
  "tests/training/test_distributed.py::test_two_workers_train_in_sync"
  "tests/training/test_distributed.py::test_mirrored_over_two_logical_cpus_through_fit"
)
burners=()
for _ in $(seq "$(nproc)"); do
  "$PY" -c "while True: pass" &
  burners+=($!)
done
trap 'kill "${burners[@]}" 2>/dev/null' EXIT
passed=0
for i in $(seq "$N"); do
  if "$PY" -m pytest -q -p no:cacheprovider "${TESTS[@]}" >"$LOGS/round-$i.log" 2>&1; then
    passed=$((passed + 1))
    echo "round $i: passed"
  else
    echo "round $i: FAILED ($(grep -m1 -E 'Segmentation|SIGSEGV|signal|Error|FAILED' "$LOGS/round-$i.log" || echo 'see log'))"
  fi
done
echo "$passed/$N passed"
