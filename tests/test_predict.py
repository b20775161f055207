"""``tfpose predict``: drawings and JSON lines from a work dir or an export, on the real samples."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

pytest.importorskip("tensorflow")

from click.testing import CliRunner  # noqa: E402
from PIL import Image  # noqa: E402

import cli  # noqa: E402
from tfpose import config as config_lib  # noqa: E402
from tfpose.errors import DataError  # noqa: E402

SAMPLES = sorted((Path(__file__).resolve().parent / "data" / "mpii_sample").glob("*.jpg"))
CLASSES = ["walking", "running", "sitting"]
SIZE = 64


def make_workdir(folder: Path, values: dict, classes=None) -> Path:
    """A fake ``tfpose train`` work dir: config.yaml, model.keras and classes.json."""
    from tfpose.train import build_model

    folder.mkdir(parents=True, exist_ok=True)
    cfg = config_lib.from_dict(values)
    config_lib.dump(cfg, folder / "config.yaml")
    build_model(cfg, num_classes=len(classes) if classes else None).save(
        str(folder / "model.keras"))
    if classes:
        (folder / "classes.json").write_text(json.dumps(classes))
    return folder


@pytest.fixture(scope="module")
def workdirs(tmp_path_factory):
    root = tmp_path_factory.mktemp("predict")
    hourglass = make_workdir(root / "hourglass", {
        "data": {"input_size": SIZE},
        "model": {"kind": "hourglass", "num_stacks": 2, "num_channels": 8, "hourglass_depth": 1}})
    two_stage = make_workdir(root / "two_stage", {
        "data": {"input_size": SIZE},
        "model": {"kind": "two_stage", "joint_embedding": "conv", "num_classes": 3,
                  "pose_workdir": str(hourglass)}}, CLASSES)
    return {"root": root, "hourglass": hourglass, "two_stage": two_stage}


def run_predict(args):
    result = CliRunner().invoke(cli.cli, ["predict", *map(str, args)])
    if result.exception and not isinstance(result.exception, SystemExit):
        raise result.exception
    assert result.exit_code == 0, result.output
    return [json.loads(line) for line in result.output.splitlines() if line.startswith("{")]


def test_predict_two_stage_workdir_and_export_agree(workdirs, tmp_path):
    from tfpose.export import export_workdir

    base = tmp_path / "serving"
    export_workdir(workdirs["two_stage"], base, "double_cnn", 3)
    from_workdir = run_predict([workdirs["two_stage"], *SAMPLES, "--out", tmp_path / "a"])
    from_export = run_predict([base / "double_cnn", *SAMPLES, "--out", tmp_path / "b"])
    assert len(from_workdir) == len(from_export) == 5
    for rec_w, rec_e, path in zip(from_workdir, from_export, SAMPLES):
        assert rec_w["file"] == rec_e["file"] == str(path)
        assert rec_w["class"] == rec_e["class"] and rec_w["class"] in CLASSES
        assert rec_w["probability"] == pytest.approx(rec_e["probability"], abs=1e-4)
        np.testing.assert_allclose(rec_w["keypoints"], rec_e["keypoints"], atol=0.02)
        assert np.shape(rec_w["keypoints"]) == (16, 2) and np.shape(rec_w["scores"]) == (16,)
        with Image.open(path) as original, Image.open(rec_e["drawing"]) as drawing:
            assert drawing.size == original.size and drawing.format == "PNG"
            # Something was drawn: the skeleton and the label change pixels.
            diff = np.abs(np.asarray(drawing, np.int16) - np.asarray(original.convert("RGB"), np.int16))
            assert (diff.max(-1) > 40).mean() > 0.001
        xy = np.asarray(rec_w["keypoints"])
        assert np.all(xy >= 0) and np.all(xy <= np.array(original.size))
    assert sorted(p.name for p in (tmp_path / "b").iterdir()) == sorted(
        f"{p.stem}.png" for p in SAMPLES)


def test_predict_pose_workdir_with_a_box(workdirs, tmp_path):
    box = (300, 100, 700, 500)
    records = run_predict([workdirs["hourglass"], SAMPLES[0], SAMPLES[3], "--out", tmp_path,
                           "--box", ",".join(map(str, box))])
    assert len(records) == 2
    for rec in records:
        assert rec["class"] is None and rec["probability"] is None
        xy = np.asarray(rec["keypoints"])
        assert np.all(xy >= np.array(box[:2])) and np.all(xy <= np.array(box[2:]))
        assert Path(rec["drawing"]).exists()


def test_predict_rejects_bad_box_and_non_images(workdirs, tmp_path):
    with pytest.raises(DataError, match="--box"):
        run_predict([workdirs["hourglass"], SAMPLES[0], "--out", tmp_path, "--box", "5,5,1,9"])
    junk = tmp_path / "junk.jpg"
    junk.write_bytes(b"not an image at all")
    with pytest.raises(DataError, match="junk.jpg: not an image"):
        run_predict([workdirs["hourglass"], junk, "--out", tmp_path])
