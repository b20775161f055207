"""LiteRT export: the .tflite answers as the work dir does, through `tfpose predict`."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from conftest import write_tiny_dataset
from test_export import SAMPLES, make_workdir
from tfpose.core.errors import DataError

pytest.importorskip("ai_edge_litert")

SIZE = 64
# A one-stack hourglass converts in seconds; the shipped EfficientNet-Lite0 is checked the same
# way by benchmarks/litert.py (README "Performance").
POSE = {"name": "tiny_pose", "data": {"input_size": SIZE, "normalization": "signed",
                                      "whole_image_frame": "letterbox"},
        "model": {"kind": "hourglass", "num_stacks": 1, "num_channels": 8, "hourglass_depth": 1}}
# Float32 LiteRT (XNNPACK) and TF kernels sum in different orders: heatmaps agree to ~1e-6, so
# the decoded keypoints agree to well under a hundredth of a pixel (measured: 0.000 px on the
# shipped lspet model, 4 photos).
TOLERANCE_PX = 0.01


@pytest.fixture(scope="module")
def workdir(tmp_path_factory):
    root = tmp_path_factory.mktemp("litert")
    values = dict(POSE, data=dict(POSE["data"], dir=str(write_tiny_dataset(root / "data"))))
    return make_workdir(root / "pose", values)


@pytest.fixture(scope="module")
def tflite(workdir):
    from tfpose.serving.litert import export_tflite

    return export_tflite(workdir, workdir.parent / "pose.tflite")


def _predict(source, **kwargs):
    from tfpose.serving.predict import predict_files

    return list(predict_files(source, SAMPLES[:3], **kwargs))


@pytest.mark.parametrize("box", [None, np.array([10.0, 20.0, 180.0, 300.0], np.float32)])
def test_float32_tflite_matches_the_work_dir(workdir, tflite, box):
    ours, reference = _predict(tflite, box=box), _predict(workdir, box=box)
    for a, b in zip(ours, reference):
        assert a["image"] == b["image"]
        np.testing.assert_allclose(a["keypoints"], b["keypoints"], atol=TOLERANCE_PX)
        np.testing.assert_allclose(a["scores"], b["scores"], atol=1e-3)


def test_the_sidecar_says_how_to_frame_a_photo(tflite):
    from ai_edge_litert.interpreter import Interpreter

    meta = json.loads(tflite.with_suffix(".json").read_text())
    assert (meta["input_size"], meta["whole_image_frame"], meta["quantize"]) == (
        SIZE, "letterbox", "none")
    runner = Interpreter(model_path=str(tflite)).get_signature_runner()
    out = runner(crops=np.zeros((1, SIZE, SIZE, 3), np.float32))
    assert out["keypoints"].shape == (1, 16, 2) and out["keypoint_scores"].shape == (1, 16)


@pytest.mark.slow
def test_int8_is_calibrated_on_the_training_records_and_runs(workdir):
    from tfpose.serving.litert import LiteRTPredictor, export_tflite

    path = export_tflite(workdir, workdir.parent / "pose-int8.tflite", quantize="int8")
    crops = np.random.default_rng(0).uniform(0, 255, (2, SIZE, SIZE, 3)).astype(np.float32)
    out = LiteRTPredictor(path).infer(crops)
    assert np.isfinite(out["keypoints"]).all()
    assert ((out["keypoints"] >= 0) & (out["keypoints"] <= SIZE)).all()
    assert path.stat().st_size < 0.5 * (workdir.parent / "pose.tflite").stat().st_size


def test_refusals_name_what_is_wrong(workdir, tflite, tmp_path):
    from tfpose.serving.litert import LiteRTPredictor, export_tflite

    with pytest.raises(DataError, match="must end in .tflite"):
        export_tflite(workdir, tmp_path / "pose.lite")
    with pytest.raises(DataError, match="already exists"):
        export_tflite(workdir, tflite)
    classifier = make_workdir(tmp_path / "classifier", {
        "data": {"input_size": SIZE}, "model": {"kind": "classifier", "num_classes": 2}},
        ["a", "b"])
    with pytest.raises(DataError, match="for pose models"):
        export_tflite(classifier, tmp_path / "classifier.tflite")
    lonely = tmp_path / "lonely.tflite"
    lonely.write_bytes(Path(tflite).read_bytes())
    with pytest.raises(DataError, match="sidecar"):
        LiteRTPredictor(lonely)


def test_the_export_command_asks_for_what_each_format_needs(workdir):
    from click.testing import CliRunner

    import cli

    runner = CliRunner()
    result = runner.invoke(cli.cli, ["export", str(workdir), "--format", "tflite"])
    assert result.exit_code == 2 and "needs --out FILE.tflite" in result.output
    result = runner.invoke(cli.cli, ["export", str(workdir), "--name", "pose"])
    assert result.exit_code == 2 and "needs --base, --version" in result.output
