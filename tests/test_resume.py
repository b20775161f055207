"""Resume after a crash: SIGKILL a `tfpose train` mid-epoch, rerun the same command, and the run
continues from the last saved state to the same total number of steps."""

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path


ROOT = Path(__file__).resolve().parents[1]
EPOCHS, STEPS, EVERY = 2, 12, 2


def _latest_step(workdir: Path):
    try:
        return json.loads((workdir / "state" / "latest.json").read_text())["step"]
    except (OSError, ValueError, KeyError):  # not written yet
        return None


def test_killed_run_resumes_where_it_stopped(tiny_dataset, tmp_path):
    import h5py
    import numpy as np
    import yaml

    cfg = {
        "data": {"dir": str(tiny_dataset), "input_size": 64, "batch_size": 2, "shuffle_buffer": 8},
        "model": {"kind": "cdrp", "fc_units": 32},
        "train": {"epochs": EPOCHS, "steps_per_epoch": STEPS, "validation_steps": 1,
                  "precision": "float32", "strategy": "default",
                  "checkpoint_every_steps": EVERY, "image_summary_every": 0},
    }  # fmt: skip
    config_path = tmp_path / "tiny.yaml"
    config_path.write_text(yaml.safe_dump(cfg))
    workdir = tmp_path / "run"
    command = [sys.executable, "-m", "cli", "train", str(config_path), "--workdir", str(workdir)]
    env = dict(os.environ, TF_CPP_MIN_LOG_LEVEL="2", CUDA_VISIBLE_DEVICES="")

    first = subprocess.Popen(command, cwd=ROOT, env=env, stdout=subprocess.PIPE,
                             stderr=subprocess.STDOUT, text=True)
    try:
        deadline = time.monotonic() + 240
        while (_latest_step(workdir) or 0) < EVERY and first.poll() is None:
            assert time.monotonic() < deadline, "no resume state written in time"
            time.sleep(0.01)
    finally:
        first.kill()  # SIGKILL: no handler runs, like a crash or a pre-empted machine
        output = first.communicate(timeout=60)[0]
    assert first.returncode == -signal.SIGKILL, f"finished before the kill:\n{output[-3000:]}"
    killed_at = _latest_step(workdir)
    assert 0 < killed_at < EPOCHS * STEPS
    # The state holds the optimiser (Adam: iterations, learning rate, then moments), not only
    # the weights: its step counter is where the rerun continues.
    state = workdir / "state" / f"step-{killed_at:09d}.weights.h5"
    with h5py.File(state, "r") as f:
        optimizer = [np.array(f[f"optimizer/vars/{i}"]) for i in range(len(f["optimizer/vars"]))]
    assert int(optimizer[0]) == killed_at
    assert all(np.abs(m).sum() > 0 for m in optimizer[2:])

    second = subprocess.run(command, cwd=ROOT, env=env, stdout=subprocess.PIPE,
                            stderr=subprocess.STDOUT, text=True, timeout=300)
    assert second.returncode == 0, second.stdout[-4000:]
    assert f"Resuming {workdir} at step {killed_at} of {EPOCHS * STEPS}" in second.stdout
    assert _latest_step(workdir) == EPOCHS * STEPS
    assert f"Trained experiment: {EPOCHS * STEPS} steps" in second.stdout
    # Every epoch logged once (the interrupted one finished by the rerun), none repeated.
    rows = (workdir / "log.csv").read_text().splitlines()
    assert [r.split(",")[0] for r in rows[1:]] == [str(e) for e in range(EPOCHS)]

