"""kill -9 during `tfpose convert`: the output never looks complete, and a rerun finishes it."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

pytestmark = [pytest.mark.faults, pytest.mark.slow]

ROOT = Path(__file__).resolve().parents[2]
KILLS = 10


def _lspet(folder: Path, count: int = 400) -> tuple[Path, Path]:
    from tfpose.datasets import lsp

    rng = np.random.default_rng(0)
    images = folder / "images"
    images.mkdir(parents=True)
    for i in range(count):
        Image.fromarray(rng.integers(0, 255, (48, 80, 3), np.uint8)).save(
            images / f"im{i + 1:05d}.jpg", quality=90)
    mat = folder / "joints.mat"
    lsp.write_joints_mat(mat, rng.uniform(5, 45, (count, 14, 2)), np.ones((count, 14)), "lspet")
    return mat, images


def _convert(mat, images, out, *extra):
    return subprocess.Popen(
        [sys.executable, "-m", "cli", "convert", str(mat), "--images", str(images), "--out",
         str(out), "--crop", "letterbox", "--image-size", "64", "--workers", "1", *extra],
        cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
        env=dict(os.environ, TF_CPP_MIN_LOG_LEVEL="3"))


def test_kill_9_during_convert_never_leaves_an_output_that_looks_complete(tmp_path):
    from tfpose.datasets import integrity
    from tfpose.datasets import shards

    mat, images = _lspet(tmp_path / "src")
    start = time.monotonic()
    assert _convert(mat, images, tmp_path / "reference").wait() == 0
    duration = time.monotonic() - start
    reference = shards.read_manifest(tmp_path / "reference")["num_records"]
    rng = np.random.default_rng(751)
    out = tmp_path / "out"
    outcomes = []
    for delay in rng.uniform(0.2, 1.0, KILLS) * duration:
        proc = _convert(mat, images, out)
        time.sleep(delay)
        proc.send_signal(signal.SIGKILL)
        proc.wait()
        if out.exists():  # it finished before the kill: then it is whole
            assert shards.read_manifest(out)["num_records"] == reference
            assert all(r.ok for r in integrity.verify(out))
            outcomes.append("complete")
            rerun = _convert(mat, images, out)
            assert rerun.wait() == 2 and "--overwrite" in rerun.stdout.read()
            subprocess.run(["rm", "-rf", str(out)], check=True)
        else:
            outcomes.append("absent")
    print("kill -9 outcomes:", {k: outcomes.count(k) for k in set(outcomes)})
    assert "absent" in outcomes, f"no kill landed mid-conversion: {outcomes}"
    assert _convert(mat, images, out).wait() == 0  # the rerun finishes it
    assert shards.read_manifest(out)["num_records"] == reference
    assert all(r.ok for r in integrity.verify(out))
    leftovers = [p.name for p in tmp_path.iterdir() if p.name.startswith(".out.partial-")]
    assert leftovers == [], f"killed runs' partial folders not cleared: {leftovers}"
