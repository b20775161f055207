"""The shipped ``lspet`` model: found by name on a clean checkout, and a quiet first command."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from click.testing import CliRunner
from PIL import Image

import cli
from tfpose.core import zoo

ROOT = Path(__file__).resolve().parents[2]
SAMPLE = ROOT / "tests" / "data" / "mpii_sample" / "005808361.jpg"


def test_lspet_name_resolves_to_the_shipped_work_dir():
    path = zoo.resolve("lspet")
    assert path == zoo.PRETRAINED_DIR / "lspet" and zoo.is_shipped(path)
    assert (path / "config.yaml").is_file() and (path / "best.keras").is_file()
    assert (path / "best.keras").stat().st_size < 30 * 2**20  # the repository's limit
    assert "lspet" in zoo.names()
    result = CliRunner().invoke(cli.cli, ["models"])
    assert result.exit_code == 0 and result.output.startswith("lspet")


def test_each_shipped_pose_model_has_a_twin_of_its_weights():
    """The LiteRT twin ``tfpose predict`` runs by default was exported from the weights shipped
    beside it (a re-packaged best.keras without a new twin would fall back to TensorFlow)."""
    from tfpose.serving.litert import matching_twin

    from tfpose import config
    from tfpose.tasks import get_task

    poses = [name for name in zoo.names()
             if get_task(config.load(zoo.PRETRAINED_DIR / name / "config.yaml")).is_pose]
    assert poses, "no shipped pose model to check"
    for name in poses:
        twin, why = matching_twin(zoo.PRETRAINED_DIR / name)
        assert twin is not None, why
        assert twin.stat().st_size < 30 * 2**20


def test_an_existing_path_wins_over_a_name(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    (tmp_path / "lspet").mkdir()
    assert zoo.resolve("lspet") == Path("lspet")
    assert zoo.resolve("no-such-model") == Path("no-such-model")
    assert not zoo.is_shipped(tmp_path)


def test_predict_lspet_by_name_prints_only_json(tmp_path):
    """From another folder, as a user would: `tfpose predict lspet photo --no-draw` prints one
    JSON line, and nothing of TensorFlow's start-up on stderr."""
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    env.pop("TF_CPP_MIN_LOG_LEVEL", None)
    done = subprocess.run([sys.executable, "-m", "cli", "predict", "lspet", str(SAMPLE),
                           "--no-draw"], cwd=tmp_path, env=env, capture_output=True, text=True,
                          timeout=300)
    assert done.returncode == 0, done.stderr
    lines = done.stdout.splitlines()
    assert len(lines) == 1
    rec = json.loads(lines[0])
    assert rec["image"] == str(SAMPLE)
    xy = np.asarray(rec["keypoints"])
    with Image.open(SAMPLE) as image:
        width, height = image.size
    assert xy.shape == (16, 2) and np.shape(rec["scores"]) == (16,)
    # Letterboxed: the predictions may sit on the bars, but no further than them.
    side = max(width, height)
    assert np.all(xy[:, 0] > -1) and np.all(xy[:, 0] < width)
    assert np.all(np.abs(xy[:, 1] - height / 2) < side / 2)
    noise = [line for line in done.stderr.splitlines()
             if any(w in line for w in ("cuda", "cuInit", "absl", "oneDNN"))]
    assert not noise, noise
    assert not list(tmp_path.iterdir())  # --no-draw: nothing written


@pytest.mark.parametrize("tty, expected", [(True, "auto"), (False, 2)])
def test_fit_prints_one_line_per_epoch_off_a_terminal(tty, expected):
    from tfpose.core.console import fit_verbosity

    class Stream:
        def isatty(self):
            return tty

    assert fit_verbosity(Stream()) == expected
