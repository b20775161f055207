"""``tfpose predict --workers``: photos answered by several processes give the lines, order,
drawings and errors of one process."""

from __future__ import annotations

import json
import shutil
import sys
from pathlib import Path

import numpy as np
import pytest

from tfpose.serving import parallel

ROOT = Path(__file__).resolve().parents[2]
SAMPLES = ROOT / "tests" / "data" / "mpii_sample"

pytest.importorskip("ai_edge_litert")


@pytest.fixture(scope="module")
def folder(tmp_path_factory):
    """The 5 MPII sample photos and, between them, a truncated JPEG."""
    root = tmp_path_factory.mktemp("photos")
    photos = sorted(SAMPLES.glob("*.jpg"))
    for photo in photos:
        shutil.copy(photo, root / photo.name)
    (root / "05_broken.jpg").write_bytes(photos[0].read_bytes()[:3000])
    return root


def _predict(folder, out, workers):
    from click.testing import CliRunner

    sys.path.insert(0, str(ROOT))
    import cli

    run = CliRunner().invoke(cli.cli, ["predict", "lspet", str(folder), "--out", str(out),
                                       "--workers", str(workers), "--batch-size", "2"])
    lines = [json.loads(line) for line in run.stdout.splitlines() if line.startswith("{")]
    return run, lines


def test_two_workers_answer_as_one_process_does(folder, tmp_path):
    one, serial = _predict(folder, tmp_path / "one", 1)
    two, parallel_lines = _predict(folder, tmp_path / "two", 2)
    assert one.exit_code == two.exit_code == 3  # the broken photo, named, the rest answered
    for run in (one, two):
        assert "05_broken.jpg: damaged or truncated image" in run.stderr
        assert "5 of 6 images answered, 1 failed" in run.stderr
    assert [line["image"] for line in parallel_lines] == [line["image"] for line in serial]
    assert len(serial) == 5
    for a, b in zip(serial, parallel_lines):
        assert len(a["persons"]) == len(b["persons"])
        np.testing.assert_allclose(a["keypoints"], b["keypoints"], atol=0.01)
        assert Path(b["drawing"]).name == Path(a["drawing"]).name
        assert Path(b["drawing"]).stat().st_size > 0


def test_a_name_given_twice_gets_two_drawings_across_chunks(tmp_path):
    """Chunks of one photo each: the second ``a`` is still drawn as ``a_2``, not over ``a``."""
    photo = sorted(SAMPLES.glob("*.jpg"))[0]
    spec = parallel.PredictorSpec("lspet", detector="none")
    records = list(parallel.predict_files_parallel(spec, [photo, photo], tmp_path, workers=2,
                                                   batch_size=1, drawing_names=["a", "a"]))
    assert [Path(r["drawing"]).name for r in records] == ["a.png", "a_2.png"]
    assert all((tmp_path / name).is_file() for name in ("a.png", "a_2.png"))
    np.testing.assert_allclose(records[0]["keypoints"], records[1]["keypoints"])


def test_workers_start_by_default_only_for_many_photos_through_litert(monkeypatch):
    from tfpose.serving.predict import make_predictor

    monkeypatch.setattr(parallel.os, "cpu_count", lambda: 4)
    litert = make_predictor("lspet")
    many = parallel.AUTO_MIN_PHOTOS
    assert parallel.auto_workers(litert, many, activity=False) == 4
    assert parallel.auto_workers(litert, many - 1, activity=False) == 1
    assert parallel.auto_workers(litert, many, activity=True) == 1
    assert parallel.auto_workers(object(), many, activity=False) == 1  # TensorFlow's predictor
